import type { JSX } from 'preact';
import { api, enc } from '../api.js';
import { Link } from '../router.js';
import { useMay, useSession } from '../session.js';
import type { Snap, SnapStatus } from '../types.js';
import { Table } from '../table.js';
import { Async, Badge, Field, MakeSection, NeedsStore, PageHead, Section, Select, text, useAction, useLoad } from '../ui.js';
import { SnapDetail } from './snap-detail.js';

/** The store's offer: its snaps, the review queue across them, curation and the review policy. */
export function CatalogPage({ rest }: { rest: string }): JSX.Element {
  const { store } = useSession();
  if (!store) return <NeedsStore what="catalog" />;
  return rest ? <SnapDetail store={store.id} name={decodeURIComponent(rest)} /> : <SnapList store={store.id} />;
}

function SnapList({ store }: { store: string }): JSX.Element {
  const canCurate = useMay('store.curate', store);
  const canPolicy = useMay('store.policy', store);
  const canRegister = useMay('snap.register', store);
  const base = `/api/v1/stores/${enc(store)}`;
  // The snaps with their revisions: the review queue is every revision that needs review.
  const snaps = useLoad(async () => {
    const list = await api<{ items: Snap[] }>('GET', `${base}/snaps`);
    return Promise.all(list.items.map((s) => api<SnapStatus>('GET', `/api/v1/stores/${enc(s.store)}/snaps/${enc(s.name)}`)));
  }, [store]);
  const policy = useLoad(() => api<{ reviewRequired: boolean }>('GET', `${base}/review-policy`), [store]);
  const curate = useAction(snaps.reload);
  const register = useAction(snaps.reload);
  const setPolicy = useAction(policy.reload);
  return (
    <>
      <PageHead title="Catalog">Snaps that {store} offers: its own, those inherited from above, and those it includes.</PageHead>
      <Async state={snaps} what="snaps" empty={(s) => s.length === 0}>
        {(s) => {
          const queue = s.flatMap((x) => x.revisions.filter((r) => r.status === 'needs-review').map((r) => ({ snap: x.snap, r })));
          return (
            <>
              <Section id="queue" title="Review queue">
                {queue.length === 0 ? (
                  <p class="empty">No revision waits for review.</p>
                ) : (
                  <ul class="plain">
                    {queue.map(({ snap, r }) => (
                      <li key={`${snap.name}/${r.revision}`}>
                        <Link href={`/catalog/${enc(snap.name)}`}>
                          {snap.name} revision {r.revision}
                        </Link>{' '}
                        version {r.version}, uploaded by {r.uploadedBy}
                      </li>
                    ))}
                  </ul>
                )}
              </Section>
              <Table
                caption="Snaps"
                rows={s}
                rowKey={(x) => `${x.snap.store}/${x.snap.name}`}
                columns={[
                  {
                    head: 'Snap',
                    cell: (x) => (
                      <>
                        <Link href={`/catalog/${enc(x.snap.name)}`}>{x.snap.name}</Link> {x.snap.private && <Badge kind="muted">private</Badge>}
                      </>
                    ),
                  },
                  { head: 'Type', cell: (x) => x.snap.type },
                  { head: 'From', cell: (x) => (x.snap.store === store ? 'this store' : x.snap.store) },
                  { head: 'Channels', cell: (x) => x['channel-map'].map((c) => `${c.channel}→${c.revision}`).join(', ') || '—' },
                  { head: 'Revisions', cell: (x) => x.revisions.length, num: true },
                ]}
              />
            </>
          );
        }}
      </Async>
      <Async state={policy} what="review policy">
        {(p) => (
          <p>
            Uploads to {store} {p.reviewRequired ? 'need a Reviewer’s approval before release' : 'need no review'}.{' '}
            {canPolicy && (
              <button type="button" onClick={() => void setPolicy.run(async () => void (await api('PUT', `${base}/review-policy`, { reviewRequired: !p.reviewRequired })))}>
                {p.reviewRequired ? 'Stop requiring review' : 'Require review'}
              </button>
            )}
          </p>
        )}
      </Async>
      {canRegister && (
        <MakeSection id="register" title="Register a snap name" action={register} submit="Register" onSubmit={async (d) => {
          const made = await api<Snap>('POST', `${base}/snaps`, { name: text(d, 'name'), type: text(d, 'type') });
          return `Registered ${made.name} (${made.snapId}).`;
        }}>
          <Field label="Name" name="name" required />
          <Select label="Type" name="type" options={['app', 'gadget', 'kernel', 'base', 'snapd']} />
        </MakeSection>
      )}
      {canCurate && (
        <MakeSection id="curate" title="Include, exclude" label="Curate" action={curate} submit="Apply" onSubmit={async (d) => {
          const mode = text(d, 'mode');
          await api('PUT', `${base}/curation/${enc(text(d, 'name'))}`, { mode: mode === 'store default' ? null : mode });
          return `${text(d, 'name')}: ${mode}.`;
        }}>
          <Field label="Snap" name="name" required />
          <Select label="Choice" name="mode" options={['include', 'exclude', 'store default']} />
        </MakeSection>
      )}
    </>
  );
}
