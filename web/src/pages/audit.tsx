import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, enc, query } from '../api.js';
import { useMay, useSession } from '../session.js';
import type { AuditEntry, AuditVerdict, Page } from '../types.js';
import { PagerButtons, Table, usePager } from '../table.js';
import { Async, NeedsStore, PageHead, Section, Time, useLoad } from '../ui.js';

const PAGE = 100;

/**
 * Changes to the chosen store and the stores below it, newest first, a
 * page at a time; the search narrows the page shown by actor, action or
 * target. Above them, for the roles that may ask, whether the vault's
 * hash chain and its signed checkpoints hold.
 */
export function AuditPage(): JSX.Element {
  const { store, brand } = useSession();
  const canVerify = useMay('audit.verify', brand);
  const pager = usePager<string>();
  const [search, setSearch] = useState('');
  const entries = useLoad(() => (store ? api<Page<AuditEntry>>('GET', `/api/v1/stores/${enc(store.id)}/audit${query({ limit: PAGE, before: pager.cursor })}`) : Promise.resolve({ items: [], next: null })), [store?.id, pager.cursor]);
  if (!store) return <NeedsStore what="audit log" />;
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  const matches = (e: AuditEntry) => {
    const hay = `${e.actor} ${e.action} ${e.targetType} ${e.targetId} ${e.storeId ?? ''} ${JSON.stringify(e.after)}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  };
  return (
    <>
      <PageHead title="Audit">Every change to {store.name} and the stores below it, in the vault's hash-chained audit log.</PageHead>
      {canVerify && brand ? (
        <ChainCheck brand={brand} />
      ) : (
        <p class="note">
          Chain verification: <code>serial-vault audit verify</code> on the vault's host, or an administrator or security officer of the brand here.
        </p>
      )}
      <label class="search">
        <span>Search this page</span>
        <input type="search" value={search} onInput={(e) => setSearch((e.currentTarget as HTMLInputElement).value)} placeholder="actor, action or target" />
      </label>
      <Async state={entries} what="audit entries" empty={(p) => p.items.length === 0}>
        {(p) => {
          const shown = p.items.filter(matches);
          return (
            <>
              <Table
                caption={`${shown.length} of ${p.items.length} entries on this page`}
                rows={shown}
                rowKey={(e) => e.id}
                columns={[
                  { head: '#', cell: (e) => e.id },
                  { head: 'When', cell: (e) => <Time at={e.at} /> },
                  {
                    head: 'Who',
                    cell: (e) => (
                      <>
                        {e.actor} <span class="muted">({e.via})</span>
                      </>
                    ),
                  },
                  { head: 'Action', cell: (e) => <code>{e.action}</code> },
                  { head: 'Target', cell: (e) => `${e.targetType} ${e.targetId}` },
                  { head: 'After', cell: (e) => (e.after === null ? '—' : JSON.stringify(e.after)), class: 'json' },
                ]}
              />
              <PagerButtons pager={pager} next={p.next} />
            </>
          );
        }}
      </Async>
    </>
  );
}

/** The chain verified by the vault now: it holds (how far, how far signed), or where it breaks and why. */
function ChainCheck({ brand }: { brand: string }): JSX.Element {
  const [checkedAt, setCheckedAt] = useState<string>();
  const verdict = useLoad(async () => {
    const v = await api<AuditVerdict>('GET', `/api/v1/brands/${enc(brand)}/audit/verify`);
    setCheckedAt(new Date().toISOString());
    return v;
  }, [brand]);
  return (
    <Section id="chain" title="Chain verification">
      <Async state={verdict} what="the verification">
        {(v) => (v.ok ? <Holds v={v} /> : <Broken v={v} />)}
      </Async>
      <div class="row">
        <button type="button" onClick={verdict.reload} disabled={verdict.loading}>
          {verdict.loading ? 'Verifying…' : 'Verify again'}
        </button>
        {checkedAt && !verdict.loading && (
          <span class="muted">
            checked <Time at={checkedAt} />
          </span>
        )}
      </div>
    </Section>
  );
}

function Holds({ v }: { v: AuditVerdict }): JSX.Element {
  const signed = v.signedUpTo === 0 ? 'no signed checkpoint covers any entry yet' : `signed checkpoints cover entries up to ${v.signedUpTo}${v.signedUpTo < v.entries ? `; the ${v.entries - v.signedUpTo} after it wait for the next checkpoint` : ''}`;
  return (
    <div class="verdict verdict-good" role="status">
      <p>
        <strong>Verified</strong>: the chain holds over all {v.entries} entries, and {signed}.
      </p>
      <p class="muted">
        {v.checkpoints} checkpoint{v.checkpoints === 1 ? '' : 's'}
        {v.keyId ? (
          <>
            , checked against audit key <code title={v.keyId}>{v.keyId.slice(0, 16)}…</code>
          </>
        ) : (
          ', no audit key to check them against'
        )}
        {v.head && (
          <>
            ; last entry's hash <code title={v.head}>{v.head.slice(0, 16)}…</code>
          </>
        )}
      </p>
    </div>
  );
}

function Broken({ v }: { v: AuditVerdict }): JSX.Element {
  return (
    <div class="verdict verdict-bad" role="alert">
      <p>
        <strong>Broken at entry {v.seq}</strong>
        {v.problem && <> ({v.problem})</>}: {v.reason}
      </p>
      <p>
        {v.entries} entries before it hold; signed checkpoints cover up to entry {v.signedUpTo}. Compare with a backup and the exported log (<code>serial-vault audit export</code>) before anything else changes.
      </p>
    </div>
  );
}
