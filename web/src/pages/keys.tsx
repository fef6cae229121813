import type { JSX } from 'preact';
import { api, enc } from '../api.js';
import { Link } from '../router.js';
import { useMay, useSession } from '../session.js';
import type { Ceremony, Finding, SigningKey } from '../types.js';
import { Table } from '../table.js';
import { ActionStatus, Async, Badge, NeedsStore, PageHead, Section, Time, useAction, useLoad } from '../ui.js';

const STATE_KIND: Record<SigningKey['state'], string> = { pending: 'warn', active: 'good', retired: 'muted', revoked: 'bad' };
const DAY = 86_400_000;

/** The brand's signing keys: state, window on a timeline, health warnings, and rotation through a ceremony. */
export function KeysPage(): JSX.Element {
  const { brand } = useSession();
  const canPropose = useMay('ceremony.propose', brand);
  const keys = useLoad(() => (brand ? api<{ keys: SigningKey[] }>('GET', `/api/v1/brands/${enc(brand)}/keys`) : Promise.resolve({ keys: [] })), [brand]);
  const health = useLoad(() => (brand ? api<{ findings: Finding[] }>('GET', `/api/v1/brands/${enc(brand)}/keys/health`) : Promise.resolve({ findings: [] })), [brand]);
  const rotate = useAction();
  if (!brand) return <NeedsStore what="keys" />;
  return (
    <>
      <PageHead title="Keys">Signing keys of {brand} in the HSM, by purpose. Rotation and revocation run as ceremonies that security officers approve.</PageHead>
      <Section id="health" title="Health">
        <Async state={health} what="key health" empty={(h) => h.findings.length === 0} emptyText="Nothing needs attention.">
          {(h) => (
            <ul class="warnings">
              {h.findings.map((f, i) => (
                <li key={i} class="warning">
                  <strong>{f.kind}</strong> {f.subject}: {f.message}
                </li>
              ))}
            </ul>
          )}
        </Async>
      </Section>
      <Async state={keys} what="keys" empty={(k) => k.keys.length === 0}>
        {(k) => (
          <>
            <Table
              caption="Keys"
              rows={k.keys}
              rowKey={(x) => x.label}
              columns={[
                { head: 'Purpose', cell: (x) => x.purpose },
                { head: 'Label', cell: (x) => <code title={x.keyId}>{x.label}</code> },
                {
                  head: 'State',
                  cell: (x) => (
                    <>
                      <Badge kind={STATE_KIND[x.state]}>{x.state}</Badge>
                      {x.replacedBy && <span class="muted"> → {x.replacedBy}</span>}
                    </>
                  ),
                },
                { head: 'Valid from', cell: (x) => <Time at={x.since} /> },
                { head: 'Until', cell: (x) => <Time at={x.until} /> },
                canPropose && {
                  head: 'Change',
                  cell: (x) =>
                    x.state === 'active' &&
                    x.purpose !== 'root' && (
                      <button type="button" aria-label={`Propose rotating ${x.label}`} onClick={() => void rotate.run(async () => {
                        const made = await api<{ outcome: string; ceremony: Ceremony | null }>('POST', `/api/v1/brands/${enc(brand)}/ceremonies`, { action: 'key.rotate', params: { purpose: x.purpose, key: x.label } });
                        return made.ceremony ? `Rotation proposed as ceremony ${made.ceremony.id}: security officers approve it under Ceremonies.` : 'Rotated.';
                      })}>
                        Propose rotation
                      </button>
                    ),
                },
              ]}
            />
            <ActionStatus action={rotate} />
            {rotate.done && <Link href="/ceremonies">See the ceremonies</Link>}
            <Timeline keys={k.keys} />
          </>
        )}
      </Async>
    </>
  );
}

/** Each key's window as a bar from its start to its end (or a year from now when open). */
function Timeline({ keys }: { keys: SigningKey[] }): JSX.Element {
  const now = Date.now();
  const from = Math.min(now - 30 * DAY, ...keys.map((k) => Date.parse(k.since)).filter(Number.isFinite));
  const to = Math.max(now + 365 * DAY, ...keys.map((k) => (k.until ? Date.parse(k.until) : 0)));
  const pct = (t: number) => `${(((t - from) / (to - from)) * 100).toFixed(2)}%`;
  return (
    <figure class="timeline" aria-label="Key validity timeline">
      <figcaption>
        Key windows, {new Date(from).toLocaleDateString()} to {new Date(to).toLocaleDateString()}; the line is today.
      </figcaption>
      <div class="lanes">
        {keys.map((k) => {
          const start = Date.parse(k.since);
          const end = k.until ? Date.parse(k.until) : to;
          return (
            <div class="lane" key={k.label}>
              <span class="lane-label">{k.label}</span>
              <span class="lane-track">
                <span class={`bar bar-${k.state}`} ref={(el) => {
                    if (el) Object.assign(el.style, { left: pct(start), width: `calc(${pct(end)} - ${pct(start)})` });
                  }} title={`${k.since} – ${k.until ?? 'open'}`} />
                <span class="today" ref={(el) => {
                    if (el) el.style.left = pct(now);
                  }} />
              </span>
            </div>
          );
        })}
      </div>
    </figure>
  );
}
