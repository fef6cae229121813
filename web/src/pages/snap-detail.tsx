import type { JSX } from 'preact';
import { api, enc } from '../api.js';
import { Link } from '../router.js';
import { useMay } from '../session.js';
import type { ReleaseEvent, Revision, SnapStatus } from '../types.js';
import { Table } from '../table.js';
import { ActionStatus, Async, Badge, Field, MakeSection, PageHead, Section, Select, text, Time, useAction, useLoad, type Action } from '../ui.js';

const STATUS_KIND: Record<Revision['status'], string> = { 'needs-review': 'warn', approved: 'good', rejected: 'bad' };

/** One snap: channel map, revisions with approve and reject, release and close, and the release history. */
export function SnapDetail({ store, name }: { store: string; name: string }): JSX.Element {
  const path = `/api/v1/stores/${enc(store)}/snaps/${enc(name)}`;
  const status = useLoad(() => api<SnapStatus>('GET', path), [path]);
  const history = useLoad(() => api<{ items: ReleaseEvent[] }>('GET', `${path}/releases`), [path]);
  const reload = () => {
    status.reload();
    history.reload();
  };
  const canReview = useMay('snap.review', store);
  const canRelease = useMay('snap.release', store);
  const review = useAction(reload);
  const release = useAction(reload);
  return (
    <>
      <PageHead title={name}>
        <Link href="/catalog">Catalog</Link> › {name} in {store}
      </PageHead>
      <Async state={status} what="the snap">
        {(s) => (
          <>
            <Table
              caption="Channel map"
              rows={s['channel-map']}
              rowKey={(c) => `${c.channel}/${c.architecture}`}
              empty="Not released on any channel."
              columns={[
                { head: 'Channel', cell: (c) => c.channel },
                { head: 'Architecture', cell: (c) => c.architecture },
                { head: 'Revision', cell: (c) => c.revision },
              ]}
            />
            <Table
              caption="Revisions"
              rows={s.revisions}
              rowKey={(r) => r.revision}
              columns={[
                { head: 'Revision', cell: (r) => r.revision },
                { head: 'Version', cell: (r) => r.version },
                { head: 'Architectures', cell: (r) => r.architectures.join(', ') },
                {
                  head: 'Status',
                  cell: (r) => (
                    <>
                      <Badge kind={STATUS_KIND[r.status]}>{r.status}</Badge>
                      {r.reviewedBy && <span class="muted"> by {r.reviewedBy}{r.reviewReason ? `: ${r.reviewReason}` : ''}</span>}
                    </>
                  ),
                },
                {
                  head: 'Uploaded',
                  cell: (r) => (
                    <>
                      {r.uploadedBy}, <Time at={r.createdAt} />
                    </>
                  ),
                },
                canReview && { head: 'Review', cell: (r) => r.status === 'needs-review' && <ReviewButtons revision={r.revision} path={path} review={review} /> },
              ]}
            />
            <ActionStatus action={review} />
            {canRelease && (
              <MakeSection id="release" title="Release" label="Release a revision" action={release} submit="Release" onSubmit={async (d) => {
                const rev = text(d, 'revision');
                const channel = text(d, 'channel');
                await api('POST', `${path}/releases`, [{ revision: rev === 'close the channel' ? null : Number(rev), channel }]);
                return rev === 'close the channel' ? `Closed ${channel}.` : `Released revision ${rev} to ${channel}.`;
              }}>
                <Select label="Revision" name="revision" options={[...s.revisions.filter((r) => r.status === 'approved').map((r) => String(r.revision)), 'close the channel']} />
                <Field label="Channel" name="channel" required value="stable" />
              </MakeSection>
            )}
          </>
        )}
      </Async>
      <Section id="history" title="Release history">
        <Async state={history} what="releases" empty={(h) => h.items.length === 0} emptyText="Never released.">
          {(h) => (
            <ol class="plain">
              {h.items.map((e, i) => (
                <li key={i}>
                  <Time at={e.releasedAt} />: {e.revision === null ? `closed ${e.channel}` : `revision ${e.revision} to ${e.channel}`} ({e.architecture}) by {e.releasedBy}
                </li>
              ))}
            </ol>
          )}
        </Async>
      </Section>
    </>
  );
}

function ReviewButtons({ revision, path, review }: { revision: number; path: string; review: Action }): JSX.Element {
  return (
    <div class="row">
      <button type="button" aria-label={`Approve revision ${revision}`} disabled={review.busy} onClick={() => void review.run(async () => {
        await api('POST', `${path}/revisions/${revision}/review`, { approve: true });
        return `Revision ${revision} approved.`;
      })}>
        Approve
      </button>
      <button type="button" class="danger" aria-label={`Reject revision ${revision}`} disabled={review.busy} onClick={() => {
        const reason = prompt(`Why is revision ${revision} rejected?`);
        if (reason) void review.run(async () => {
          await api('POST', `${path}/revisions/${revision}/review`, { approve: false, reason });
          return `Revision ${revision} rejected.`;
        });
      }}>
        Reject
      </button>
    </div>
  );
}
