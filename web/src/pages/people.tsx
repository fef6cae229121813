import type { JSX } from 'preact';
import { ROLES } from '../../../src/accounts/roles.js';
import { api, enc } from '../api.js';
import { useMay, useSession } from '../session.js';
import type { Grant, Page, Person } from '../types.js';
import { Table } from '../table.js';
import { ActionForm, ActionStatus, Async, Field, MakeSection, NeedsStore, PageHead, Section, Select, text, Time, useAction, useLoad } from '../ui.js';

/** Who holds which role on the chosen store; administrators grant and revoke here. */
export function PeoplePage(): JSX.Element {
  const { store } = useSession();
  const canGrant = useMay('grant.create');
  const canRevoke = useMay('grant.revoke');
  const canAdd = useMay('person.add');
  const grants = useLoad(() => (store ? api<{ items: Grant[] }>('GET', `/api/v1/stores/${enc(store.id)}/grants`) : Promise.resolve({ items: [] })), [store?.id]);
  const people = useLoad(() => api<Page<Person>>('GET', '/api/v1/people?limit=200'), []);
  const grant = useAction(grants.reload);
  const revoke = useAction(grants.reload);
  const add = useAction(people.reload);
  if (!store) return <NeedsStore what="people" />;
  const revokeButton = (x: Grant) =>
    !x.inheritedFrom && (
      <button
        type="button"
        class="danger"
        aria-label={`Revoke ${x.role} from ${x.person.email}`}
        disabled={revoke.busy}
        onClick={() => void revoke.run(async () => {
          await api('DELETE', `/api/v1/stores/${enc(store.id)}/grants/${enc(x.role)}/${enc(x.person.email)}`);
          return `Revoked ${x.role} from ${x.person.email}.`;
        })}
      >
        Revoke
      </button>
    );
  return (
    <>
      <PageHead title="People and roles">
        Roles that reach <strong>{store.name}</strong>: granted there, or inherited from the stores above it.
      </PageHead>
      <Async state={grants} what="roles" empty={(g) => g.items.length === 0}>
        {(g) => (
          <Table
            caption={`Roles on ${store.id}`}
            rows={g.items}
            rowKey={(x) => `${x.person.email}/${x.role}/${x.inheritedFrom ?? ''}`}
            columns={[
              {
                head: 'Person',
                cell: (x) => (
                  <>
                    {x.person.displayName} <span class="muted">{x.person.email}</span>
                  </>
                ),
              },
              { head: 'Role', cell: (x) => x.role },
              { head: 'Where', cell: (x) => (x.inheritedFrom ? `inherited from ${x.inheritedFrom}` : 'granted here') },
              { head: 'Since', cell: (x) => <Time at={x.createdAt} /> },
              canRevoke && { head: 'Change', cell: revokeButton },
            ]}
          />
        )}
      </Async>
      <ActionStatus action={revoke} />
      {canGrant && (
        <MakeSection
          id="grant-role"
          title={`Grant a role on ${store.id}`}
          label="Grant a role"
          action={grant}
          submit="Grant"
          onSubmit={async (d) => {
            const email = text(d, 'email');
            const role = text(d, 'role');
            await api('POST', `/api/v1/stores/${enc(store.id)}/grants`, { email, role });
            return `Granted ${role} to ${email}.`;
          }}
        >
          <Field label="Email" name="email" type="email" required list="people-emails" />
          <Select label="Role" name="role" options={ROLES} />
          <datalist id="people-emails">{people.data?.items.map((p) => <option value={p.email} key={p.id} />)}</datalist>
        </MakeSection>
      )}
      <Section id="people-list" title="People">
        <Async state={people} what="people" empty={(p) => p.items.length === 0}>
          {(p) => (
            <ul class="plain">
              {p.items.map((x) => (
                <li key={x.id}>
                  {x.displayName} <span class="muted">{x.email}</span> {x.status === 'disabled' && <strong>disabled</strong>}
                </li>
              ))}
            </ul>
          )}
        </Async>
        {canAdd && (
          <ActionForm label="Add a person" action={add} submit="Add person" onSubmit={async (d) => {
            const displayName = text(d, 'displayName');
            const made = await api<Person>('POST', '/api/v1/people', { email: text(d, 'email'), ...(displayName ? { displayName } : {}) });
            return `Added ${made.email}: they can sign in once granted a role.`;
          }}>
            <Field label="Email" name="email" type="email" required />
            <Field label="Name" name="displayName" />
          </ActionForm>
        )}
      </Section>
    </>
  );
}
