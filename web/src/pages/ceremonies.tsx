import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { useMay, useSession } from '../session.js';
import type { Ceremony } from '../types.js';
// The server's own list. Its module also holds the ceremony store's queries, which the bundle leaves out: they use no Node module and nothing here calls them.
import { CEREMONY_ACTIONS } from '../../../src/custody/ceremony-store.js';
import { ActionStatus, Async, Badge, MakeSection, NeedsStore, PageHead, Select, text, Time, useAction, useLoad } from '../ui.js';

const STATE_KIND: Record<Ceremony['state'], string> = { proposed: 'warn', executing: 'warn', executed: 'good', failed: 'bad' };

/** M-of-N ceremonies: what each runs, in full, who approved it, and approval by the other officers. */
export function CeremoniesPage(): JSX.Element {
  const { brand, me } = useSession();
  const canPropose = useMay('ceremony.propose', brand);
  const canApprove = useMay('ceremony.approve', brand);
  const [open, setOpen] = useState(true);
  const list = useLoad(() => (brand ? api<{ items: Ceremony[] }>('GET', `/api/v1/brands/${enc(brand)}/ceremonies${open ? '?open=true' : ''}`) : Promise.resolve({ items: [] })), [brand, open]);
  const approve = useAction(list.reload);
  const propose = useAction(list.reload);
  if (!brand) return <NeedsStore what="ceremonies" />;
  const email = me.person?.email;
  return (
    <>
      <PageHead title="Ceremonies">Guarded key actions of {brand}: each runs only after enough security officers, other than its proposer, approve exactly what is shown.</PageHead>
      <label class="inline">
        <input type="checkbox" checked={open} onChange={(e) => setOpen((e.currentTarget as HTMLInputElement).checked)} /> Only open ceremonies
      </label>
      <Async state={list} what="ceremonies" empty={(l) => l.items.length === 0} emptyText={open ? 'No ceremony waits for approval.' : 'No ceremonies yet.'}>
        {(l) => (
          <div class="cards">
            {l.items.map((c) => {
              const approved = c.approvals.some((a) => a.approver === email);
              const mine = c.proposedBy === email;
              return (
                <article class="card" key={c.id} aria-labelledby={`cer-${c.id}`}>
                  <h2 id={`cer-${c.id}`}>
                    #{c.id} {c.action} <Badge kind={STATE_KIND[c.state]}>{c.state}</Badge>
                  </h2>
                  <p>
                    Proposed by {c.proposedBy}, <Time at={c.proposedAt} />; expires <Time at={c.expiresAt} />.
                  </p>
                  <h3>What runs when approved</h3>
                  <dl class="params" aria-label={`Parameters of ceremony ${c.id}`}>
                    {Object.entries(c.params).flatMap(([k, v]) => [
                      <dt key={`k-${k}`}>{k}</dt>,
                      <dd key={`v-${k}`}>
                        <code>{v}</code>
                      </dd>,
                    ])}
                  </dl>
                  <p>
                    Approvals: {c.approvals.length} of {c.approvalsNeeded}
                    {c.approvals.length > 0 && ` (${c.approvals.map((a) => a.approver).join(', ')})`}
                  </p>
                  {c.result !== null && c.result !== undefined && <pre class="result">{JSON.stringify(c.result, null, 2)}</pre>}
                  {canApprove && c.state === 'proposed' && !mine && !approved && (
                    <button type="button" aria-label={`Approve ceremony ${c.id}`} disabled={approve.busy} onClick={() => void approve.run(async () => {
                      const r = await api<{ outcome: string }>('POST', `/api/v1/brands/${enc(brand)}/ceremonies/${c.id}/approve`);
                      return r.outcome === 'executed' ? `Ceremony ${c.id} approved and run.` : `Ceremony ${c.id} approved; it needs more approvals.`;
                    })}>
                      Approve #{c.id}
                    </button>
                  )}
                  {mine && c.state === 'proposed' && <p class="muted">You proposed this: other officers approve it.</p>}
                  {approved && c.state === 'proposed' && <p class="muted">You approved this.</p>}
                </article>
              );
            })}
          </div>
        )}
      </Async>
      <ActionStatus action={approve} />
      {canPropose && (
        <MakeSection id="propose" title="Propose" label="Propose a ceremony" action={propose} submit="Propose" onSubmit={async (d) => {
          const params: Record<string, string> = {};
          for (const line of text(d, 'params').split('\n')) {
            const eq = line.indexOf('=');
            if (eq > 0) params[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
          }
          const r = await api<{ outcome: string; ceremony: Ceremony | null }>('POST', `/api/v1/brands/${enc(brand)}/ceremonies`, { action: text(d, 'action'), params });
          return r.ceremony ? `Proposed as ceremony ${r.ceremony.id}.` : 'Run at once: the brand’s policy does not guard this action.';
        }}>
          <Select label="Action" name="action" options={CEREMONY_ACTIONS} />
          <label>
            <span>Parameters, one name=value a line</span>
            <textarea name="params" rows={3} placeholder="purpose=serials" />
          </label>
        </MakeSection>
      )}
    </>
  );
}
