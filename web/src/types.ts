/** The admin API's answers as the dashboard reads them (see /api/v1/openapi.json). */
import type { Role } from '../../src/accounts/roles.js';

export type { Role };
export type StoreKind = 'brand' | 'product' | 'ecosystem';

export interface Person {
  id: number;
  email: string;
  displayName: string;
  status: 'active' | 'disabled';
  createdAt: string;
}
export interface Token {
  id: number;
  name: string;
  prefix: string;
  stores: string[] | null;
  roles: Role[] | null;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}
export interface Me {
  person: Person | null;
  roles: Record<string, Role[]>;
  token: Token | null;
  csrfToken: string | null;
}
export interface Store {
  id: string;
  name: string;
  kind: StoreKind;
  parentId: string | null;
  createdAt: string;
  roles: Role[];
}
export interface StoreNode extends Store {
  children: StoreNode[];
}
export interface Grant {
  person: { id: number; email: string; displayName: string };
  storeId: string;
  role: Role;
  inheritedFrom: string | null;
  createdAt: string;
}
export interface Snap {
  name: string;
  snapId: string;
  store: string;
  type: string;
  private: boolean;
  publisher: string;
  collaborators: string[];
  createdAt: string;
}
export interface Revision {
  revision: number;
  version: string;
  architectures: string[];
  grade: string;
  confinement: string;
  status: 'needs-review' | 'approved' | 'rejected';
  uploadedBy: string;
  reviewedBy: string | null;
  reviewReason: string | null;
  createdAt: string;
  size: number;
  sha3_384: string;
}
export interface SnapStatus {
  snap: Snap;
  'channel-map': Array<{ channel: string; architecture: string; revision: number }>;
  revisions: Revision[];
}
export interface ReleaseEvent {
  channel: string;
  architecture: string;
  revision: number | null;
  releasedBy: string;
  releasedAt: string;
}
export interface SigningKey {
  label: string;
  keyId: string;
  purpose: string;
  name: string;
  state: 'pending' | 'active' | 'retired' | 'revoked';
  since: string;
  until: string | null;
  replacedBy: string | null;
}
export interface Finding {
  kind: string;
  brand: string;
  subject: string;
  message: string;
}
export interface Ceremony {
  id: number;
  brand: string;
  action: string;
  params: Record<string, string>;
  proposedBy: string;
  proposedAt: string;
  expiresAt: string;
  approvalsNeeded: number;
  approvals: Array<{ approver: string; at: string }>;
  state: 'proposed' | 'executing' | 'executed' | 'failed';
  executedAt: string | null;
  result: unknown;
}
export interface Station {
  name: string;
  brand: string;
  models: string[];
  provisioning: string;
  validFrom: string | null;
  validUntil: string | null;
  perHour: number | null;
  perDay: number | null;
  total: number | null;
  pattern: string | null;
  allowlist: boolean;
  disabled: boolean;
  usage: Array<{ window: string; limit: number | null; used: number }>;
  apiKeys: Array<{ prefix: string; name: string; revoked: boolean }>;
}
export interface ReportRow {
  period: string;
  brandId: string;
  station: string;
  model: string;
  outcome: string;
  count: number;
}
export interface Appliance {
  name: string;
  store: string;
  brand: string;
  state: 'active' | 'disabled';
  enrolled: boolean;
  createdAt: string;
  enrolledAt: string | null;
  disabledAt: string | null;
  keys: Array<{ label: string; purpose: string; state: string; keyId: string }>;
  /** How it keeps up, as central last saw it; null before its first pull. */
  sync: ApplianceSync | null;
}
export interface ApplianceSync {
  lastPullAt: string;
  cursor: number;
  changesBehind: number;
  lastPushAt: string | null;
  issuancePushed: number;
}
export interface Model {
  name: string;
  brand: string;
  displayName: string | null;
  store: string | null;
  grade: string | null;
  revision: number;
  signKeyId: string;
  enabled: boolean;
  serialPolicy: 'device' | 'template';
  serialTemplate: string | null;
  allowReprovision: boolean;
  provisioning: 'api-key' | 'hardware-identity';
}
export interface IssuanceEntry {
  id: number;
  serial: string;
  model: string;
  station: string | null;
  outcome: string;
  issuedAt: string;
  deviceKeyId: string;
  signingKeyId: string;
  /** The instance, or appliance:NAME, that issued it. */
  origin: string | null;
  /** A remodel: the serial the device had. */
  original: string | null;
}
/** GET /api/v1/brands/:brand/audit/verify. */
export interface AuditVerdict {
  ok: boolean;
  entries: number;
  head?: string;
  seq?: number;
  problem?: string;
  reason?: string;
  checkpoints: number;
  signedUpTo: number;
  keyId: string | null;
}
export interface SyncConflict {
  id: number;
  brand: string;
  model: string;
  serial: string;
  sides: Array<{ origin: string; deviceKey: string }>;
  detectedAt: string;
}
export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  actorKind: string;
  via: string;
  action: string;
  targetType: string;
  targetId: string;
  storeId: string | null;
  before: unknown;
  after: unknown;
}
export interface Page<T, C = string> {
  items: T[];
  next: C | null;
}
