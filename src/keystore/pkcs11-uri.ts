import { KeyStoreError } from './errors.js';

/**
 * RFC 7512 PKCS#11 URIs: `pkcs11:token=vault;object=brand-2026?module-path=/usr/lib/…&pin-source=file:/etc/…`.
 * Path attributes select the token and object; query attributes say how to
 * reach them. Values are percent-decoded; `id` is binary.
 */
export interface Pkcs11Uri {
  readonly token?: string;
  readonly manufacturer?: string;
  readonly serial?: string;
  readonly model?: string;
  readonly object?: string;
  readonly id?: Buffer;
  readonly type?: 'private' | 'public' | 'cert' | 'secret-key' | 'data';
  readonly slotId?: number;
  readonly modulePath?: string;
  readonly moduleName?: string;
  readonly pinSource?: string;
}

const PATH_ATTRS = new Set(['token', 'manufacturer', 'serial', 'model', 'object', 'id', 'type', 'slot-id', 'library-manufacturer', 'library-description', 'library-version', 'slot-description', 'slot-manufacturer']);
const QUERY_ATTRS = new Set(['module-path', 'module-name', 'pin-source', 'pin-value']);
const TYPES = new Set(['private', 'public', 'cert', 'secret-key', 'data']);

/** RFC 7512 section 2.3: characters allowed unencoded in path and query values. */
const PATH_UNRESERVED = /[A-Za-z0-9\-._~:[\]@!$'()*+,=&]/;
const QUERY_UNRESERVED = /[A-Za-z0-9\-._~:[\]@!$'()*+,=/?|]/;

const bad = (message: string) => new KeyStoreError('ERR_HSM_CONFIG', `invalid PKCS#11 URI: ${message}`);

function decode(value: string, attr: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw bad(`bad percent-encoding in "${attr}"`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      out.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(out);
}

function utf8(value: Buffer, attr: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(value);
  } catch {
    throw bad(`"${attr}" is not UTF-8 text`);
  }
}

export function parsePkcs11Uri(text: string): Pkcs11Uri {
  if (!text.toLowerCase().startsWith('pkcs11:')) throw bad('it must start with "pkcs11:"');
  const rest = text.slice('pkcs11:'.length);
  const q = rest.indexOf('?');
  const path = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? '' : rest.slice(q + 1);
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  const take = (part: string, sep: string, allowed: Set<string>) => {
    if (part === '') return;
    for (const attr of part.split(sep)) {
      const eq = attr.indexOf('=');
      if (eq <= 0) throw bad(`attribute "${attr}" has no name or no "="`);
      const name = attr.slice(0, eq).toLowerCase();
      if (!allowed.has(name)) throw bad(`unknown attribute "${name}"`);
      if (seen.has(name)) throw bad(`attribute "${name}" is repeated`);
      seen.add(name);
      const raw = decode(attr.slice(eq + 1), name);
      switch (name) {
        case 'token':
        case 'manufacturer':
        case 'serial':
        case 'model':
        case 'object':
          out[name] = utf8(raw, name);
          break;
        case 'id':
          out['id'] = raw;
          break;
        case 'type': {
          const t = utf8(raw, name);
          if (!TYPES.has(t)) throw bad(`unknown object type "${t}"`);
          out['type'] = t;
          break;
        }
        case 'slot-id': {
          const s = utf8(raw, name);
          if (!/^\d+$/.test(s)) throw bad('"slot-id" must be a decimal number');
          out['slotId'] = Number(s);
          break;
        }
        case 'module-path':
          out['modulePath'] = utf8(raw, name);
          break;
        case 'module-name':
          out['moduleName'] = utf8(raw, name);
          break;
        case 'pin-source':
          out['pinSource'] = utf8(raw, name);
          break;
        case 'pin-value':
          // Allowed by RFC 7512, refused here: a PIN in a URI ends up in configs, process lists and logs.
          throw new KeyStoreError('ERR_HSM_CONFIG', 'invalid PKCS#11 URI: "pin-value" is not accepted; use "pin-source" with a file or a systemd credential');
        default:
          // Informational library and slot attributes: accepted, not used for selection.
          break;
      }
    }
  };
  take(path, ';', PATH_ATTRS);
  take(query, '&', QUERY_ATTRS);
  return out as Pkcs11Uri;
}

function encode(value: string | Buffer, allowed: RegExp, binary = false): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += !binary && b < 0x80 && allowed.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function formatPkcs11Uri(uri: Pkcs11Uri): string {
  const path: string[] = [];
  const add = (name: string, v: string | undefined) => {
    if (v !== undefined) path.push(`${name}=${encode(v, PATH_UNRESERVED)}`);
  };
  add('token', uri.token);
  add('manufacturer', uri.manufacturer);
  add('serial', uri.serial);
  add('model', uri.model);
  add('object', uri.object);
  if (uri.id !== undefined) path.push(`id=${encode(uri.id, PATH_UNRESERVED, true)}`);
  add('type', uri.type);
  if (uri.slotId !== undefined) path.push(`slot-id=${uri.slotId}`);
  const query: string[] = [];
  if (uri.modulePath !== undefined) query.push(`module-path=${encode(uri.modulePath, QUERY_UNRESERVED)}`);
  if (uri.moduleName !== undefined) query.push(`module-name=${encode(uri.moduleName, QUERY_UNRESERVED)}`);
  if (uri.pinSource !== undefined) query.push(`pin-source=${encode(uri.pinSource, QUERY_UNRESERVED)}`);
  return `pkcs11:${path.join(';')}${query.length > 0 ? `?${query.join('&')}` : ''}`;
}
