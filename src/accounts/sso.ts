import * as oidc from 'openid-client';
import { AccountsError } from './errors.js';

export interface SsoSettings {
  /** The provider's issuer URL; its `/.well-known/openid-configuration` is read on first use. */
  readonly issuer: string;
  readonly clientId: string;
  /** Absent for a public client (PKCE only). */
  readonly clientSecret?: string;
  /** Where the provider sends the browser back: the admin listener's `/auth/callback`. */
  readonly redirectUri: string;
  readonly scopes: string;
  /** Where the provider sends the browser after signing out there, if it supports that. */
  readonly postLogoutRedirectUri?: string;
}

/** What a login in progress must remember between the redirect out and the callback. */
export interface PendingLogin {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
}

export interface VerifiedIdentity {
  readonly subject: string;
  readonly email: string;
  readonly emailVerified: boolean;
  readonly name: string | undefined;
}

/** A network failure (provider down, timeout), as opposed to an answer that was refused. */
function unreachable(e: unknown): boolean {
  const err = e as { name?: string; cause?: { code?: string; name?: string } };
  return (e instanceof TypeError && /fetch failed/.test(e.message)) || err.name === 'TimeoutError' || err.name === 'AbortError' || /^(ECONN|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|UND_ERR)/.test(err.cause?.code ?? '');
}

const loopback = (url: URL) => ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);

/**
 * Single sign-on through any OpenID Connect provider: authorization code
 * flow with PKCE, state and nonce, the provider found through discovery.
 * The protocol checks (ID token signature, issuer, audience, nonce, PKCE)
 * are openid-client's; this class only asks for and reads the email.
 */
export class OidcSignIn {
  private config: Promise<oidc.Configuration> | undefined;

  constructor(private readonly settings: SsoSettings) {}

  private configuration(): Promise<oidc.Configuration> {
    const issuer = new URL(this.settings.issuer);
    this.config ??= oidc
      .discovery(issuer, this.settings.clientId, this.settings.clientSecret, this.settings.clientSecret ? undefined : oidc.None(), {
        // Plain HTTP only to a provider on this machine (development, tests).
        ...(issuer.protocol === 'http:' && loopback(issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
        timeout: 10,
      })
      .catch((e: unknown) => {
        this.config = undefined; // try again on the next sign-in
        throw new AccountsError('ERR_SSO_UNAVAILABLE', `cannot reach the identity provider ${this.settings.issuer}: ${(e as Error).message}`, { cause: e });
      });
    return this.config;
  }

  async begin(): Promise<{ url: string; pending: PendingLogin }> {
    const config = await this.configuration();
    const pending = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier() };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUri,
      scope: this.settings.scopes,
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    });
    return { url: url.href, pending };
  }

  /** Exchanges the code in `callbackUrl` and returns who signed in; throws ERR_SSO_FAILED on any mismatch. */
  async finish(callbackUrl: URL, pending: PendingLogin): Promise<VerifiedIdentity> {
    const config = await this.configuration();
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true });
    } catch (e) {
      if (unreachable(e)) throw new AccountsError('ERR_SSO_UNAVAILABLE', `cannot reach the identity provider ${this.settings.issuer}: try again shortly`, { cause: e });
      throw new AccountsError('ERR_SSO_FAILED', `the identity provider's answer was refused: ${(e as Error).message}`, { cause: e });
    }
    const claims = tokens.claims();
    if (!claims) throw new AccountsError('ERR_SSO_FAILED', 'the identity provider sent no ID token');
    let email = claims['email'];
    let verified = claims['email_verified'];
    let name = claims['name'];
    // Many providers put the email only in the userinfo answer.
    if (typeof email !== 'string' || verified === undefined) {
      try {
        const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
        email = info.email ?? email;
        verified = info.email_verified ?? verified;
        name = info.name ?? name;
      } catch (e) {
        throw new AccountsError('ERR_SSO_FAILED', `cannot read the email from the identity provider: ${(e as Error).message}`, { cause: e });
      }
    }
    if (typeof email !== 'string' || email === '') throw new AccountsError('ERR_SSO_FAILED', 'the identity provider gave no email: allow the "email" scope for this client');
    return { subject: claims.sub, email, emailVerified: verified === true || verified === 'true', name: typeof name === 'string' ? name : undefined };
  }

  /** The provider's end-session URL, when it has one. */
  async endSessionUrl(): Promise<string | undefined> {
    try {
      const config = await this.configuration();
      if (!config.serverMetadata().end_session_endpoint) return undefined;
      const params: Record<string, string> = { client_id: this.settings.clientId };
      if (this.settings.postLogoutRedirectUri) params['post_logout_redirect_uri'] = this.settings.postLogoutRedirectUri;
      return oidc.buildEndSessionUrl(config, params).href;
    } catch {
      return undefined;
    }
  }
}
