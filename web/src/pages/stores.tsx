import type { JSX } from 'preact';
import { api, enc } from '../api.js';
import { may, useSession } from '../session.js';
import type { StoreNode } from '../types.js';
import { Async, Badge, Field, MakeSection, PageHead, Select, text, useAction, useLoad } from '../ui.js';

/** The store tree: the brand store, its product and ecosystem sub-stores, and the caller's roles on each. */
export function StoresPage(): JSX.Element {
  const session = useSession();
  const roots = session.stores.filter((s) => s.kind === 'brand' || !session.stores.some((p) => p.id === s.parentId));
  const trees = useLoad(() => Promise.all(roots.map((r) => api<StoreNode>('GET', `/api/v1/stores/${enc(r.id)}/tree`))), [roots.map((r) => r.id).join()]);
  const creatable = session.stores.filter((s) => may(session, 'store.create', s.id));
  const create = useAction(trees.reload);
  return (
    <>
      <PageHead title="Stores">The stores you hold a role on, with the product and ecosystem sub-stores below them.</PageHead>
      <Async state={trees} what="stores" empty={(t) => t.length === 0} emptyText="You hold no role on any store yet: ask a store administrator.">
        {(t) => (
          <ul class="tree" aria-label="Store tree">
            {t.map((n) => (
              <Node node={n} key={n.id} />
            ))}
          </ul>
        )}
      </Async>
      {creatable.length > 0 && (
        <MakeSection
          id="new-store"
          title="New sub-store"
          action={create}
          submit="Create store"
          onSubmit={async (d) => {
            const id = text(d, 'id');
            const made = await api<StoreNode>('POST', '/api/v1/stores', { name: text(d, 'name'), parent: text(d, 'parent'), kind: text(d, 'kind'), ...(id ? { id } : {}) });
            return `Store “${made.name}” (${made.id}) created.`;
          }}
        >
          <Select label="Parent" name="parent" options={creatable.map((s) => s.id)} />
          <Select label="Kind" name="kind" options={['product', 'ecosystem']} />
          <Field label="Name" name="name" required />
          <Field label="Id (optional)" name="id" placeholder="made from the name" />
        </MakeSection>
      )}
    </>
  );
}

function Node({ node }: { node: StoreNode }): JSX.Element {
  const session = useSession();
  return (
    <li>
      <div class="node">
        <button type="button" class="linkish" onClick={() => session.selectStore(node.id)} aria-pressed={session.store?.id === node.id}>
          {node.name}
        </button>{' '}
        <code>{node.id}</code> <Badge kind={node.kind}>{node.kind}</Badge>
        {node.roles.map((r) => (
          <Badge kind="role" key={r}>
            {r}
          </Badge>
        ))}
      </div>
      {node.children.length > 0 && (
        <ul>
          {node.children.map((c) => (
            <Node node={c} key={c.id} />
          ))}
        </ul>
      )}
    </li>
  );
}
