// @ts-check
/**
 * One signer thread: its own PKCS#11 instance and its own session, one
 * operation at a time (so no CKR_OPERATION_ACTIVE). The main thread has
 * already called C_Initialize; here it answers CKR_CRYPTOKI_ALREADY_INITIALIZED.
 * Plain JavaScript so it loads as a worker from source and from dist/.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import pkcs11js from 'pkcs11js';
import { TokenError, findToken } from './slots.js';

/** @typedef {{ modulePath: string, token: import('./slots.js').TokenSelector, pin: string, retries: number, backoffMs: number }} WorkerConfig */
/** @typedef {{ label?: string, id?: Uint8Array }} Ref */

const config = /** @type {WorkerConfig} */ (workerData);
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

/** Session-level failures after which a fresh session (and login) may succeed. */
const REOPEN = new Set([
  pkcs11js.CKR_SESSION_HANDLE_INVALID,
  pkcs11js.CKR_SESSION_CLOSED,
  pkcs11js.CKR_DEVICE_REMOVED,
  pkcs11js.CKR_TOKEN_NOT_PRESENT,
  pkcs11js.CKR_TOKEN_NOT_RECOGNIZED,
  pkcs11js.CKR_DEVICE_ERROR,
  pkcs11js.CKR_SLOT_ID_INVALID,
  pkcs11js.CKR_USER_NOT_LOGGED_IN,
  pkcs11js.CKR_KEY_HANDLE_INVALID,
  pkcs11js.CKR_OBJECT_HANDLE_INVALID,
  pkcs11js.CKR_GENERAL_ERROR,
]);
/** Login failures: never retried here, a real HSM counts them and locks the PIN. */
const LOGIN_FATAL = new Set([pkcs11js.CKR_PIN_INCORRECT, pkcs11js.CKR_PIN_LOCKED, pkcs11js.CKR_PIN_EXPIRED, pkcs11js.CKR_PIN_INVALID, pkcs11js.CKR_PIN_LEN_RANGE]);

const p11 = new pkcs11js.PKCS11();
p11.load(config.modulePath);
try {
  // Normally already initialised by the main thread; the flag matters if not (see module.ts).
  p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
} catch (e) {
  if (/** @type {any} */ (e).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw e;
}

/** @type {Buffer | null} */
let session = null;
/** @type {Map<string, Buffer>} private key handles by reference */
const handles = new Map();
/** @type {unknown} a login failure, kept so the PIN is not tried again */
let loginFailure = null;

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** @param {number} ms */
const sleep = (ms) => Atomics.wait(sleeper, 0, 0, ms);

/** @param {unknown} e */
const ckrCode = (e) => (e && typeof e === 'object' && 'code' in e && typeof e.code === 'number' ? e.code : undefined);

function closeQuietly() {
  if (session) {
    try {
      p11.C_CloseSession(session);
    } catch {
      // the session is already gone with the token
    }
  }
  session = null;
  handles.clear();
}

function open() {
  const token = findToken(p11, config.token);
  const s = p11.C_OpenSession(token.slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  try {
    p11.C_Login(s, pkcs11js.CKU_USER, config.pin);
  } catch (e) {
    if (ckrCode(e) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) {
      try {
        p11.C_CloseSession(s);
      } catch {
        // nothing more to do
      }
      throw e;
    }
  }
  session = s;
}

/**
 * Runs `fn` with a logged-in session, re-opening with bounded retries and
 * backoff after session or token loss.
 * @template T
 * @param {(session: Buffer) => T} fn
 * @returns {T}
 */
function withSession(fn) {
  if (loginFailure) throw loginFailure;
  for (let attempt = 0; ; attempt++) {
    try {
      if (!session) open();
      return fn(/** @type {Buffer} */ (session));
    } catch (e) {
      const code = ckrCode(e);
      if (code !== undefined && LOGIN_FATAL.has(code)) {
        loginFailure = e;
        closeQuietly();
        throw e;
      }
      const lost = (code !== undefined && REOPEN.has(code)) || (e instanceof TokenError && e.code === 'ERR_HSM_UNAVAILABLE');
      if (!lost || attempt >= config.retries) {
        if (lost) closeQuietly();
        throw e;
      }
      closeQuietly();
      sleep(config.backoffMs * 2 ** attempt);
    }
  }
}

/** @param {Ref} ref */
const refKey = (ref) => `${ref.label ?? ''}\0${ref.id ? Buffer.from(ref.id).toString('hex') : ''}`;

/**
 * @param {Buffer} s
 * @param {pkcs11js.Template} template
 * @returns {Buffer[]}
 */
function findObjects(s, template) {
  p11.C_FindObjectsInit(s, template);
  try {
    const out = [];
    for (;;) {
      const batch = p11.C_FindObjects(s, 64);
      if (batch.length === 0) break;
      out.push(...batch);
    }
    return out;
  } finally {
    p11.C_FindObjectsFinal(s);
  }
}

/** @param {Ref} ref @param {number} cls */
function refTemplate(ref, cls) {
  /** @type {pkcs11js.Template} */
  const t = [
    { type: pkcs11js.CKA_CLASS, value: cls },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA },
  ];
  if (ref.label !== undefined) t.push({ type: pkcs11js.CKA_LABEL, value: ref.label });
  if (ref.id !== undefined) t.push({ type: pkcs11js.CKA_ID, value: Buffer.from(ref.id) });
  return t;
}

/** @param {Buffer} s @param {Ref} ref @returns {Buffer | null} */
function findPrivate(s, ref) {
  const found = findObjects(s, refTemplate(ref, pkcs11js.CKO_PRIVATE_KEY));
  if (found.length > 1) throw new TokenError('ERR_HSM_CONFIG', `${found.length} private keys match ${describe(ref)}: name the key by label and id`);
  return found[0] ?? null;
}

/** @param {Ref} ref */
const describe = (ref) => (ref.label !== undefined ? `"${ref.label}"` : `id ${Buffer.from(ref.id ?? []).toString('hex')}`);

/** @param {Buffer} s @param {Buffer} handle */
function describeKey(s, handle) {
  const attrs = p11.C_GetAttributeValue(s, handle, [
    { type: pkcs11js.CKA_LABEL },
    { type: pkcs11js.CKA_ID },
    { type: pkcs11js.CKA_MODULUS },
    { type: pkcs11js.CKA_PUBLIC_EXPONENT },
  ]);
  const value = (/** @type {number} */ i) => /** @type {Buffer} */ (attrs[i]?.value ?? Buffer.alloc(0));
  return { label: value(0).toString('utf8'), id: value(1), modulus: value(2), exponent: value(3) };
}

/** @param {Buffer} s @param {Ref} ref */
function privateHandle(s, ref) {
  const key = refKey(ref);
  let handle = handles.get(key);
  if (!handle) {
    handle = findPrivate(s, ref) ?? undefined;
    if (!handle) {
      // A token that went away can still answer searches from memory: make sure it is there.
      findToken(p11, config.token);
      throw new TokenError('ERR_KEY_NOT_FOUND', `no key ${describe(ref)} on the token`);
    }
    handles.set(key, handle);
  }
  return handle;
}

/** @type {Record<string, (args: any) => unknown>} */
const ops = {
  ping: () => withSession((s) => ({ state: p11.C_GetSessionInfo(s).state })),

  /** @param {{ ref: Ref, data: Uint8Array, size: number }} args */
  sign: ({ ref, data, size }) =>
    withSession((s) => {
      const handle = privateHandle(s, ref);
      p11.C_SignInit(s, { mechanism: pkcs11js.CKM_RSA_PKCS }, handle);
      return p11.C_Sign(s, Buffer.from(data), Buffer.alloc(size));
    }),

  /** @param {{ ref: Ref }} args */
  find: ({ ref }) =>
    withSession((s) => {
      const handle = findPrivate(s, ref);
      if (!handle) findToken(p11, config.token); // "no key" only from a token that is really there
      return handle ? describeKey(s, handle) : null;
    }),

  list: () => withSession((s) => findObjects(s, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }]).map((h) => describeKey(s, h))),

  /** @param {{ label: string, id: Uint8Array, publicTemplate: pkcs11js.Template, privateTemplate: pkcs11js.Template }} args */
  generate: ({ label, id, publicTemplate, privateTemplate }) =>
    withSession((s) => {
      const existing = findObjects(s, [{ type: pkcs11js.CKA_LABEL, value: label }]).length + findObjects(s, [{ type: pkcs11js.CKA_ID, value: Buffer.from(id) }]).length;
      if (existing > 0) throw new TokenError('ERR_KEY_EXISTS', `a key labelled "${label}" (or with its id) already exists on the token`);
      const pair = p11.C_GenerateKeyPair(s, { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN }, toBuffers(publicTemplate), toBuffers(privateTemplate));
      return describeKey(s, pair.privateKey);
    }),

  /** @param {{ ref: Ref }} args */
  destroy: ({ ref }) =>
    withSession((s) => {
      const priv = findPrivate(s, ref);
      if (!priv) throw new TokenError('ERR_KEY_NOT_FOUND', `no key ${describe(ref)} on the token`);
      const { id } = describeKey(s, priv);
      const pub = findObjects(s, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY }, { type: pkcs11js.CKA_ID, value: id }]);
      p11.C_DestroyObject(s, priv);
      for (const h of pub) p11.C_DestroyObject(s, h);
      handles.clear();
      return null;
    }),

  close: () => {
    closeQuietly();
    return null;
  },
};

/** Structured clone turns Buffers into Uint8Arrays; pkcs11js wants Buffers back. @param {pkcs11js.Template} t */
function toBuffers(t) {
  return t.map((a) => (a.value instanceof Uint8Array && !Buffer.isBuffer(a.value) ? { type: a.type, value: Buffer.from(a.value) } : a));
}

/** @param {{ seq: number, op: string, args: unknown }} msg */
function handle(msg) {
  const fn = ops[msg.op];
  try {
    if (!fn) throw new TokenError('ERR_HSM_CONFIG', `unknown keystore operation ${msg.op}`);
    port.postMessage({ seq: msg.seq, ok: true, value: fn(msg.args) });
  } catch (e) {
    const err = /** @type {any} */ (e);
    port.postMessage({
      seq: msg.seq,
      ok: false,
      error:
        e instanceof TokenError
          ? { kind: 'keystore', code: e.code, message: e.message }
          : { kind: ckrCode(e) === undefined ? 'internal' : 'pkcs11', ckr: ckrCode(e), method: err?.method, message: String(err?.message ?? e) },
    });
  }
}

port.on('message', (/** @type {{ seq: number, op: string, args: unknown }} */ msg) => {
  handle(msg);
  // The main thread posts the next job ahead: take it now rather than after a turn of the event loop.
  for (let next = receiveMessageOnPort(port); next; next = receiveMessageOnPort(port)) handle(next.message);
});
