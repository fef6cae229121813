import type { TypeSpec } from './assertion.js';
import { accountKeyRequestType } from './types/account-key-request.js';
import { accountKeyType } from './types/account-key.js';
import { accountType } from './types/account.js';
import { deviceSessionRequestType } from './types/device-session-request.js';
import { genericType } from './types/generic.js';
import { hardwareIdentityType } from './types/hardware-identity.js';
import { modelType } from './types/model.js';
import { serialRequestType } from './types/serial-request.js';
import { serialType } from './types/serial.js';
import { snapDeclarationType } from './types/snap-declaration.js';
import { snapRevisionType } from './types/snap-revision.js';
import { storeType } from './types/store.js';
import { systemUserType } from './types/system-user.js';

/** The assertion types the vault understands, with snapd's primary keys and checks. */
export const TYPES: ReadonlyMap<string, TypeSpec<unknown>> = new Map<string, TypeSpec<unknown>>(
  (
    [
      accountType,
      accountKeyType,
      accountKeyRequestType,
      modelType,
      serialType,
      serialRequestType,
      deviceSessionRequestType,
      storeType,
      systemUserType,
      snapDeclarationType,
      snapRevisionType,
      hardwareIdentityType,
    ] as TypeSpec<unknown>[]
  ).map((t) => [t.name, t]),
);

/** The table entry for `name`, or a generic one that checks only the grammar. */
export function typeSpec(name: string): TypeSpec<unknown> {
  return TYPES.get(name) ?? genericType(name);
}

export function isKnownType(name: string): boolean {
  return TYPES.has(name);
}
