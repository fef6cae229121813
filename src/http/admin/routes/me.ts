import type { AccountsService } from '../../../accounts/service.js';
import { route, type AdminRoute } from '../route.js';
import * as S from '../schemas.js';

/** Who is calling. */
export function meRoutes(accounts: AccountsService, csrfFor: (sessionId: string) => string): AdminRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/me',
      action: 'me.read',
      summary: 'Who is calling: the person, their roles per store, the token used',
      response: S.Me,
      handle: async ({ principal }) => {
        const me = await accounts.me(principal);
        const sessionId = principal.kind === 'person' && principal.via === 'session' ? principal.sessionId : undefined;
        return { ...me, csrfToken: sessionId ? csrfFor(sessionId) : null };
      },
    }),
  ];
}
