import { KeyStoreError, isKeyStoreError } from './errors.js';
import { checkLabel, describeRef, idForLabel, parseKeyRef } from './key-ref.js';
import type { KeyInfo, KeyStore, KeyStoreHealth } from './keystore.js';
import { Pkcs11KeyStore, type Pkcs11KeyStoreOptions } from './pkcs11/keystore.js';
import type { PoolEvent } from './pkcs11/pool.js';
import { parsePkcs11Uri } from './pkcs11-uri.js';
import { TokenMember, meansTokenDown, type MemberTiming, type TokenState } from './token-member.js';

export type { TokenState } from './token-member.js';

export interface TokenSetMember {
  /** The token's label (or serial): how messages and `tokens()` name it. */
  readonly label: string;
  /** Opens the token's keystore; called again in the background while it fails as unavailable. */
  readonly open: () => Promise<KeyStore>;
}

/**
 * Several tokens (HSMs, slots) behind one keystore, each with its own signer
 * threads, so signing grows with the number of tokens and a token that fails
 * holds up only the calls for its own keys. Labels are unique across the
 * set: a key is found wherever it is and signs on the token that holds it. A
 * token that fails as unavailable is taken out of rotation: calls for its
 * keys fail at once until a background probe finds it working (see
 * `TokenMember`), and `isAvailable` tells callers beforehand, so a model
 * with keys on several tokens can sign with one whose token is up.
 */
export class TokenSetKeyStore implements KeyStore {
  /** Which token holds a key, and its public half, by the reference it was asked for. */
  private readonly holders = new Map<string, { readonly member: TokenMember; readonly info: KeyInfo }>();
  private closed = false;

  private constructor(private readonly members: readonly TokenMember[]) {}

  /**
   * Opens every token. A token that is only unavailable starts out of
   * rotation and is opened later; any other failure (PIN, URI) stops the
   * start, as does a key label found on two tokens.
   */
  static async open(members: readonly TokenSetMember[], timing: MemberTiming = {}): Promise<TokenSetKeyStore> {
    if (members.length === 0) throw new KeyStoreError('ERR_HSM_CONFIG', 'a token set needs at least one token');
    const names = members.map((m) => m.label);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) throw new KeyStoreError('ERR_HSM_CONFIG', `token "${twice}" is named twice in the token set`);
    const set = new TokenSetKeyStore(members.map((m) => new TokenMember(m.label, m.open, timing)));
    try {
      // One after the other: a PIN prompt, if any, asks for one token at a time.
      for (const member of set.members) await member.start();
      if (!set.members.some((m) => m.up)) {
        throw new KeyStoreError('ERR_HSM_UNAVAILABLE', `no token of the set is available: ${set.members.map((m) => m.state().problem).join('; ')}`);
      }
      await set.index();
    } catch (e) {
      await set.close();
      throw e;
    }
    return set;
  }

  /** Learns where every key is, so that `isAvailable` knows at once and a label on two tokens is refused at start. */
  private async index(): Promise<void> {
    for (const member of this.members.filter((m) => m.up)) {
      // A token that fails now is out of rotation: its keys are looked for once it is back.
      const keys = await member.call('list keys', (s) => s.list()).catch((e: unknown) => (meansTokenDown(e) ? [] : Promise.reject(e)));
      for (const info of keys) {
        const other = this.holders.get(info.label);
        if (other) throw this.duplicate(info.label, [other.member, member]);
        this.holders.set(info.label, { member, info });
      }
    }
  }

  private duplicate(ref: string, members: readonly TokenMember[]): KeyStoreError {
    return new KeyStoreError(
      'ERR_HSM_CONFIG',
      `key "${ref}" is on tokens ${members.map((m) => `"${m.token}"`).join(' and ')}: a label must name one key across the token set`,
    );
  }

  private check(): void {
    if (this.closed) throw new KeyStoreError('ERR_HSM_UNAVAILABLE', 'the keystore is closed');
  }

  private member(token: string): TokenMember {
    const member = this.members.find((m) => m.token === token);
    if (!member) throw new KeyStoreError('ERR_HSM_CONFIG', `no token "${token}" in the token set (${this.members.map((m) => `"${m.token}"`).join(', ')})`);
    return member;
  }

  /** The token the set generates keys on when none is named: the first. */
  get primary(): string {
    return (this.members[0] as TokenMember).token;
  }

  async generate(label: string): Promise<KeyInfo> {
    return this.generateOn(this.primary, label);
  }

  /** Generates a key pair on the named token, once no token of the set has a key with that label or id. */
  async generateOn(token: string, label: string): Promise<KeyInfo> {
    this.check();
    checkLabel(label);
    const target = this.member(token);
    target.store(`generate key "${label}"`);
    // Every token must answer: a label unchecked on a token that is down could end up on two.
    const existing = await this.list().catch((e: unknown) => {
      throw meansTokenDown(e) ? new KeyStoreError('ERR_HSM_UNAVAILABLE', `cannot generate key "${label}": ${(e as Error).message}`) : e;
    });
    const id = idForLabel(label).toString('hex');
    const clash = existing.find((k) => k.label === label || k.id === id);
    if (clash) throw new KeyStoreError('ERR_KEY_EXISTS', `a key labelled "${clash.label}" (or with the id of "${label}") already exists in the token set`);
    const info = await target.call(`generate key "${label}"`, (s) => s.generate(label));
    this.holders.set(label, { member: target, info });
    return info;
  }

  async find(ref: string): Promise<KeyInfo | undefined> {
    return (await this.locate(ref, `find key ${describeRef(parseKeyRef(ref))}`))?.info;
  }

  /**
   * The token holding `ref`: remembered, or asked of every token in rotation.
   * "None" is only said when every token could answer; a key may be on one that is down.
   */
  private async locate(ref: string, what: string): Promise<{ readonly member: TokenMember; readonly info: KeyInfo } | undefined> {
    this.check();
    parseKeyRef(ref);
    const known = this.holders.get(ref);
    if (known) return known;
    const answers = await Promise.allSettled(this.members.map(async (m) => ({ member: m, info: await m.call(what, (s) => s.find(ref)) })));
    const found = answers.flatMap((a) => (a.status === 'fulfilled' && a.value.info ? [{ member: a.value.member, info: a.value.info }] : []));
    if (found.length > 1) throw this.duplicate(ref, found.map((f) => f.member));
    const [holder] = found;
    if (holder) {
      this.holders.set(ref, holder);
      return holder;
    }
    const failed = answers.flatMap((a) => (a.status === 'rejected' ? [a.reason as unknown] : []));
    const other = failed.find((e) => !meansTokenDown(e));
    if (other) throw other;
    if (failed.length > 0) {
      const down = this.members.filter((m) => !m.up).map((m) => `"${m.token}"`);
      throw new KeyStoreError('ERR_HSM_UNAVAILABLE', `cannot ${what}: it is on no token in rotation, and ${down.length > 1 ? 'tokens' : 'token'} ${down.join(', ')} cannot be asked now`);
    }
    return undefined;
  }

  async list(): Promise<KeyInfo[]> {
    this.check();
    const lists = await Promise.all(this.members.map((m) => m.call('list keys', (s) => s.list())));
    return lists.flat().sort((a, b) => a.label.localeCompare(b.label));
  }

  async signDigest(ref: string, digest: Uint8Array): Promise<Uint8Array> {
    const what = `sign with key ${describeRef(parseKeyRef(ref))}`;
    const holder = await this.locate(ref, what);
    if (!holder) throw new KeyStoreError('ERR_KEY_NOT_FOUND', `cannot ${what}: no such key on any token`);
    try {
      return await holder.member.call(what, (s) => s.signDigest(ref, digest));
    } catch (e) {
      // A key destroyed elsewhere is looked for again next time.
      if (isKeyStoreError(e) && e.code === 'ERR_KEY_NOT_FOUND') this.holders.delete(ref);
      throw e;
    }
  }

  async destroy(ref: string): Promise<void> {
    const what = `destroy key ${describeRef(parseKeyRef(ref))}`;
    const holder = await this.locate(ref, what);
    if (!holder) throw new KeyStoreError('ERR_KEY_NOT_FOUND', `cannot ${what}: no such key on any token`);
    try {
      await holder.member.call(what, (s) => s.destroy(ref));
    } finally {
      // Other references to the same key go too.
      for (const [r, h] of this.holders) if (h.info.keyId === holder.info.keyId) this.holders.delete(r);
    }
  }

  /** Whether the token holding `ref` is in rotation (no HSM call). A key not seen yet counts as available: looking it up tells. */
  isAvailable(ref: string): boolean {
    const holder = this.holders.get(ref);
    return !this.closed && (holder ? holder.member.up : true);
  }

  /** Each token and whether it is in rotation, as last seen (no HSM call). */
  tokens(): TokenState[] {
    return this.members.map((m) => m.state());
  }

  /** Ok only when every token is; the problem names each token that is not. */
  async health(): Promise<KeyStoreHealth> {
    const healths = await Promise.all(this.members.map(async (m) => ({ m, h: await m.health().catch((e: unknown) => errorHealth(e)) })));
    const open = healths.flatMap(({ h }) => (h ? [h] : []));
    const all = (f: (h: KeyStoreHealth) => boolean) => open.length === this.members.length && open.every(f);
    const sum = (f: (h: KeyStoreHealth) => number) => open.reduce((n, h) => n + f(h), 0);
    const problems = healths.filter(({ h }) => !h?.ok).map(({ m, h }) => `token "${m.token}": ${h?.problem ?? m.state().problem ?? 'not open'}`);
    const first = open[0];
    return {
      ok: !this.closed && problems.length === 0,
      backend: first?.backend ?? 'pkcs11',
      moduleLoaded: all((h) => h.moduleLoaded),
      tokenPresent: all((h) => h.tokenPresent),
      loggedIn: all((h) => h.loggedIn),
      ...(first?.token ? { token: first.token } : {}),
      signers: sum((h) => h.signers),
      busy: sum((h) => h.busy),
      queued: sum((h) => h.queued),
      ...(this.closed ? { problem: 'the keystore is closed' } : problems.length > 0 ? { problem: problems.join('; ') } : {}),
    };
  }

  load(): { signers: number; busy: number; queued: number } {
    const loads = this.members.flatMap((m) => (m.opened?.load ? [m.opened.load()] : []));
    return { signers: loads.reduce((n, l) => n + l.signers, 0), busy: loads.reduce((n, l) => n + l.busy, 0), queued: loads.reduce((n, l) => n + l.queued, 0) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.members.map((m) => m.close()));
  }
}

function errorHealth(e: unknown): KeyStoreHealth {
  const problem = e instanceof Error ? e.message : String(e);
  return { ok: false, backend: 'pkcs11', moduleLoaded: false, tokenPresent: false, loggedIn: false, signers: 0, busy: 0, queued: 0, problem };
}

export interface TokenSetOptions extends Omit<Pkcs11KeyStoreOptions, 'uri' | 'onEvent'>, MemberTiming {
  /** The pool's events, with the token they happened on. */
  readonly onEvent?: (event: PoolEvent, token: string) => void;
}

/** How a token URI names its token: the label, else the serial. */
function tokenName(uri: string): string {
  const parsed = parsePkcs11Uri(uri);
  return parsed.token ?? (parsed.serial !== undefined ? `serial ${parsed.serial}` : uri);
}

/**
 * One keystore over the tokens the URIs name, each opened as its own
 * `Pkcs11KeyStore` with the same options (signers per token, timeouts,
 * queue); a single URI gives that token's keystore alone.
 */
export async function openTokenSet(uris: readonly string[], options: TokenSetOptions = {}): Promise<KeyStore> {
  const { onEvent, downBackoffMs, maxDownBackoffMs, probeTimeoutMs, onChange, ...shared } = options;
  const opener = (uri: string, token: string) => () =>
    Pkcs11KeyStore.open({ ...shared, uri, ...(onEvent ? { onEvent: (e: PoolEvent) => onEvent(e, token) } : {}) });
  const [only] = uris;
  if (uris.length === 1 && only !== undefined) return opener(only, tokenName(only))();
  if (uris.length === 0) throw new KeyStoreError('ERR_HSM_CONFIG', 'no HSM token URI is configured');
  const timing: MemberTiming = {
    ...(downBackoffMs !== undefined ? { downBackoffMs } : {}),
    ...(maxDownBackoffMs !== undefined ? { maxDownBackoffMs } : {}),
    ...(probeTimeoutMs !== undefined ? { probeTimeoutMs } : {}),
    ...(onChange ? { onChange } : {}),
  };
  return TokenSetKeyStore.open(
    uris.map((uri) => {
      const label = tokenName(uri);
      return { label, open: opener(uri, label) };
    }),
    timing,
  );
}
