import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import type { Role, Token } from '../types.js';
import { Table } from '../table.js';
import { ActionStatus, Async, Field, list, MakeSection, optionalInt, PageHead, text, Time, useAction, useLoad } from '../ui.js';

/** The signed-in person's own access tokens: for the CLI and scripts, limited to chosen stores and roles. */
export function TokensPage(): JSX.Element {
  const tokens = useLoad(() => api<{ items: Token[] }>('GET', '/api/v1/tokens'), []);
  const [secret, setSecret] = useState<string>();
  const create = useAction(tokens.reload);
  const revoke = useAction(tokens.reload);
  return (
    <>
      <PageHead title="Tokens">Your personal access tokens. A token's secret is shown once, when it is made.</PageHead>
      <Async state={tokens} what="tokens" empty={(t) => t.items.length === 0}>
        {(t) => (
          <Table
            caption="Your tokens"
            rows={t.items}
            rowKey={(x) => x.id}
            columns={[
              { head: 'Name', cell: (x) => x.name },
              { head: 'Prefix', cell: (x) => <code>{x.prefix}</code> },
              { head: 'Stores', cell: (x) => x.stores?.join(', ') ?? 'all yours' },
              { head: 'Roles', cell: (x) => x.roles?.join(', ') ?? 'all yours' },
              { head: 'Expires', cell: (x) => <Time at={x.expiresAt} /> },
              { head: 'Last used', cell: (x) => <Time at={x.lastUsedAt} /> },
              {
                head: 'Change',
                cell: (x) =>
                  x.revokedAt ? (
                    <span class="muted">revoked</span>
                  ) : (
                    <button type="button" class="danger" aria-label={`Revoke token ${x.name}`} onClick={() => void revoke.run(async () => void (await api('DELETE', `/api/v1/tokens/${x.id}`)))}>
                      Revoke
                    </button>
                  ),
              },
            ]}
          />
        )}
      </Async>
      <ActionStatus action={revoke} />
      <MakeSection
        id="new-token"
        title="New token"
        action={create}
        submit="Create token"
        secret={{ label: 'Secret', value: secret }}
        onSubmit={async (d) => {
          const stores = list(text(d, 'stores'));
          const roles = list(text(d, 'roles')) as Role[];
          const days = optionalInt(d, 'days');
          const made = await api<{ token: Token; secret: string }>('POST', '/api/v1/tokens', { name: text(d, 'name'), ...(days ? { expiresInDays: days } : {}), ...(stores.length ? { stores } : {}), ...(roles.length ? { roles } : {}) });
          setSecret(made.secret);
          return `Token “${made.token.name}” made: copy its secret now.`;
        }}
      >
        <Field label="Name" name="name" required />
        <Field label="Days valid" name="days" type="number" placeholder="the vault's default" />
        <Field label="Only these stores" name="stores" placeholder="store ids, comma separated" />
        <Field label="Only these roles" name="roles" placeholder="e.g. viewer, publisher" />
      </MakeSection>
    </>
  );
}
