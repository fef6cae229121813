import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { useMay, useSession } from '../session.js';
import type { Appliance, SyncConflict } from '../types.js';
import { Table } from '../table.js';
import { ActionStatus, Async, Badge, Field, MakeSection, NeedsStore, notServed, PageHead, Section, Select, since, text, Time, useAction, useLoad } from '../ui.js';

/** A pull older than this is late: an appliance long-polls central all the time it runs. */
const LATE_SECONDS = 300;

interface Fleet {
  /** Whether this vault serves appliances at all: an appliance's admin API has no appliance routes. */
  readonly central: boolean;
  readonly items: Appliance[];
  /** When central answered: how long ago each pull was is counted from here. */
  readonly at: number;
}

const lagSeconds = (a: Appliance, at: number): number | undefined => (a.sync ? Math.max(0, Math.round((at - Date.parse(a.sync.lastPullAt)) / 1000)) : undefined);

/** Central: the brand's appliances, their enrolment, state and how they keep up, and serial conflicts found in their pushes. */
export function AppliancesPage(): JSX.Element {
  const { brand, stores } = useSession();
  const canRead = useMay('appliance.read', brand);
  const canManage = useMay('appliance.manage', brand);
  const fleet = useLoad<Fleet>(
    () =>
      brand && canRead
        ? api<{ items: Appliance[] }>('GET', `/api/v1/brands/${enc(brand)}/appliances`).then(
            (a) => ({ central: true, items: a.items, at: Date.now() }),
            (e: unknown) => {
              if (notServed(e)) return { central: false, items: [], at: Date.now() };
              throw e;
            },
          )
        : Promise.resolve({ central: true, items: [], at: Date.now() }),
    [brand, canRead],
  );
  const conflicts = useLoad(() => (brand ? api<{ items: SyncConflict[] }>('GET', `/api/v1/sync/conflicts?brand=${enc(brand)}`) : Promise.resolve({ items: [] })), [brand]);
  const change = useAction(fleet.reload);
  const add = useAction(fleet.reload);
  const [token, setToken] = useState<string>();
  if (!brand) return <NeedsStore what="appliances" />;
  const base = `/api/v1/brands/${enc(brand)}/appliances`;
  const central = fleet.data?.central !== false;
  return (
    <>
      <PageHead title="Appliances and sync">Appliances that serve {brand}'s stores from central, how far behind central each is, and serials two appliances gave to two devices.</PageHead>
      {canRead && (
        <Async state={fleet} what="appliances" empty={(f) => f.items.length === 0} emptyText={central ? 'No appliances yet.' : 'This instance is not a central: it serves no appliances. Serial conflicts are listed below.'}>
          {(f) => (
            <>
              <Table
                caption="Appliances"
                rows={f.items}
                rowKey={(x) => x.name}
                columns={[
                  { head: 'Name', cell: (x) => x.name },
                  { head: 'Store', cell: (x) => x.store },
                  { head: 'State', cell: (x) => <Badge kind={x.state === 'active' ? 'good' : 'bad'}>{x.state}</Badge> },
                  { head: 'Enrolled', cell: (x) => (x.enrolled ? <Time at={x.enrolledAt} /> : 'not yet') },
                  { head: 'Last pull', cell: (x) => (x.sync ? <Time at={x.sync.lastPullAt} /> : <span class="muted">never</span>) },
                  { head: 'Changes behind', cell: (x) => x.sync?.changesBehind ?? '—', num: true },
                  {
                    head: 'Last push',
                    cell: (x) =>
                      x.sync?.lastPushAt ? (
                        <>
                          <Time at={x.sync.lastPushAt} /> <span class="muted">(to #{x.sync.issuancePushed})</span>
                        </>
                      ) : (
                        <span class="muted">never</span>
                      ),
                  },
                  { head: 'Keys', cell: (x) => x.keys.map((k) => `${k.purpose} (${k.state})`).join(', ') || '—' },
                  canManage && {
                    head: 'Change',
                    cell: (x) => (
                      <button type="button" aria-label={`${x.state === 'active' ? 'Disable' : 'Enable'} ${x.name}`} onClick={() => void change.run(async () => void (await api('PATCH', `${base}/${enc(x.name)}`, { disabled: x.state === 'active' })))}>
                        {x.state === 'active' ? 'Disable' : 'Enable'}
                      </button>
                    ),
                  },
                ]}
              />
              <SyncLag fleet={f} />
              <div class="row">
                <button type="button" onClick={fleet.reload} disabled={fleet.loading}>
                  Refresh
                </button>
              </div>
            </>
          )}
        </Async>
      )}
      <ActionStatus action={change} />
      {canManage && central && (
        <MakeSection id="new-appliance" title="New appliance" action={add} submit="Add appliance" secret={{ label: 'Enrolment token', value: token }} onSubmit={async (d) => {
          const made = await api<{ appliance: Appliance; token: string; expiresAt: string }>('POST', base, { name: text(d, 'name'), store: text(d, 'store') });
          setToken(made.token);
          return `Appliance ${made.appliance.name} added: enrol it with this token before ${made.expiresAt}.`;
        }}>
          <Field label="Name" name="name" required />
          <Select label="Store" name="store" options={stores.map((s) => s.id)} />
        </MakeSection>
      )}
      <Section id="conflicts" title="Serial conflicts">
        <Async state={conflicts} what="conflicts" empty={(c) => c.items.length === 0} emptyText="No conflicts: every serial belongs to one device.">
          {(c) => (
            <ul class="warnings">
              {c.items.map((x) => (
                <li key={x.id} class="warning">
                  <Time at={x.detectedAt} />: {x.model} serial <code>{x.serial}</code> given by {x.sides.map((s) => s.origin).join(' and ')}
                </li>
              ))}
            </ul>
          )}
        </Async>
      </Section>
    </>
  );
}

/** Seconds since each appliance's last pull, as bars on one scale; the numbers are in the text for those who do not see the bars. */
function SyncLag({ fleet }: { fleet: Fleet }): JSX.Element {
  const lags = fleet.items.map((a) => ({ a, lag: lagSeconds(a, fleet.at) }));
  const scale = Math.max(60, ...lags.map((l) => l.lag ?? 0));
  return (
    <figure class="lag">
      <figcaption id="lag-caption">
        Sync lag per appliance: time since its last pull, on a scale to {since(new Date(fleet.at - scale * 1000).toISOString(), fleet.at)}; amber when it is behind central or pulled more than {LATE_SECONDS / 60} minutes ago.
      </figcaption>
      <ul class="lanes" aria-labelledby="lag-caption">
        {lags.map(({ a, lag }) => {
          const late = lag === undefined || lag > LATE_SECONDS || (a.sync?.changesBehind ?? 0) > 0;
          return (
            <li class="lane" key={a.name}>
              <span class="lane-label">{a.name}</span>
              <span class="lane-track" aria-hidden="true">
                {lag !== undefined && <span class={`bar ${late ? 'bar-late' : ''}`} style={{ width: `max(2px, ${((lag / scale) * 100).toFixed(1)}%)` }} />}
              </span>
              <span class="lane-value">
                {a.sync ? `${since(a.sync.lastPullAt, fleet.at)} ago, ${a.sync.changesBehind} behind` : 'never pulled'}
              </span>
            </li>
          );
        })}
      </ul>
    </figure>
  );
}
