import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, enc, query } from '../api.js';
import { RateChart } from '../chart.js';
import { useMay, useSession } from '../session.js';
import type { IssuanceEntry, Model, Page, ReportRow, Station } from '../types.js';
import { PagerButtons, Table, usePager } from '../table.js';
import { Async, Badge, Field, NeedsStore, PageHead, Section, Select, Time, useLoad } from '../ui.js';

/** What both searches narrow by. */
interface Where {
  station: string;
  model: string;
  /** `datetime-local` values: the person's own time zone. */
  from: string;
  until: string;
}
const ANYWHERE: Where = { station: '', model: '', from: '', until: '' };
const LOG_PAGE = 50;
const OUTCOME_KIND: Record<string, string> = { issued: 'good', repeated: 'muted', reprovisioned: 'warn' };

/** `datetime-local` has no zone: the person's own, sent as RFC 3339 with it. */
const zoned = (local: string) => (local ? new Date(local).toISOString() : '');
const whereQuery = (w: Where) => ({ station: w.station, model: w.model, from: zoned(w.from), until: zoned(w.until) });
const formWhere = (d: FormData): Where & { read(name: string): string } => {
  const read = (n: string) => String(d.get(n) ?? '').trim();
  return { station: read('station'), model: read('model'), from: read('from'), until: read('until'), read };
};
const onSubmit = (then: (d: FormData) => void) => (e: Event) => {
  e.preventDefault();
  then(new FormData(e.currentTarget as HTMLFormElement));
};

/**
 * The brand's issuance: the registration report (per period, station,
 * model and outcome, as a chart and a CSV) and the issuance log, searched
 * by serial for the one device someone asks about, and exported as CSV.
 */
export function IssuancePage(): JSX.Element {
  const { brand } = useSession();
  const canReport = useMay('report.read', brand);
  const canSearch = useMay('issuance.read', brand);
  const canSeeStations = useMay('station.read', brand);
  const stations = useLoad(() => (brand && canSeeStations ? api<{ items: Station[] }>('GET', `/api/v1/brands/${enc(brand)}/stations`) : Promise.resolve({ items: [] })), [brand, canSeeStations]);
  const models = useLoad(() => (brand ? api<{ items: Model[] }>('GET', `/api/v1/brands/${enc(brand)}/models`) : Promise.resolve({ items: [] })), [brand]);
  if (!brand) return <NeedsStore what="issuance" />;
  const base = `/api/v1/brands/${enc(brand)}`;
  return (
    <>
      <PageHead title="Issuance">Serials {brand} gave its devices: registrations per period, station, model and outcome, and the issuance log to find one device's serial.</PageHead>
      {/* Suggestions for the station and model fields of both forms. */}
      <datalist id="issuance-stations">{stations.data?.items.map((s) => <option value={s.name} key={s.name} />)}</datalist>
      <datalist id="issuance-models">{models.data?.items.map((m) => <option value={m.name} key={m.name} />)}</datalist>
      {canReport && <Report base={base} brand={brand} />}
      {canSearch && <IssuanceLog base={base} brand={brand} />}
    </>
  );
}

/** Station, model, from and until: the fields both searches share. */
function WhereFields({ where }: { where: Where }): JSX.Element {
  return (
    <>
      <Field label="Station" name="station" list="issuance-stations" value={where.station} />
      <Field label="Model" name="model" list="issuance-models" value={where.model} />
      <Field label="From" name="from" type="datetime-local" value={where.from} />
      <Field label="Until" name="until" type="datetime-local" value={where.until} />
    </>
  );
}

function Report({ base, brand }: { base: string; brand: string }): JSX.Element {
  const [filter, setFilter] = useState<Where & { by: 'hour' | 'day' }>({ ...ANYWHERE, by: 'hour' });
  const q = query({ ...whereQuery(filter), by: filter.by });
  const report = useLoad(() => api<{ items: ReportRow[] }>('GET', `${base}/reports/registrations${q}`), [base, q]);
  const submit = onSubmit((d) => {
    const w = formWhere(d);
    setFilter({ station: w.station, model: w.model, from: w.from, until: w.until, by: w.read('by') === 'day' ? 'day' : 'hour' });
  });
  return (
    <Section id="report" title="Registration rate">
      <form class="filters" aria-label="Filter the report" onSubmit={submit}>
        <WhereFields where={filter} />
        <Select label="Per" name="by" options={['hour', 'day']} value={filter.by} />
        <button type="submit">Show</button>
        <a class="button" href={`${base}/reports/registrations.csv${q}`} download={`registrations-${brand}.csv`}>
          Download CSV
        </a>
      </form>
      <Async state={report} what="the report" empty={(r) => r.items.length === 0} emptyText="No registrations match.">
        {(r) => (
          <>
            <RateChart rows={r.items} />
            <Table
              caption="Registrations"
              rows={r.items}
              rowKey={(_x, i) => i}
              columns={[
                { head: 'Period', cell: (x) => x.period },
                { head: 'Station', cell: (x) => x.station },
                { head: 'Model', cell: (x) => x.model },
                { head: 'Outcome', cell: (x) => x.outcome },
                { head: 'Count', cell: (x) => x.count, num: true },
              ]}
            />
          </>
        )}
      </Async>
    </Section>
  );
}

/** The issuance log, newest first: one row per serial answered, a page at a time, and the same search as CSV. */
function IssuanceLog({ base, brand }: { base: string; brand: string }): JSX.Element {
  const [filter, setFilter] = useState<Where & { serial: string }>({ ...ANYWHERE, serial: '' });
  const pager = usePager<number>();
  const q = query({ serial: filter.serial, ...whereQuery(filter) });
  const log = useLoad(() => api<Page<IssuanceEntry, number>>('GET', `${base}/issuances${query({ serial: filter.serial, ...whereQuery(filter), before: pager.cursor, limit: LOG_PAGE })}`), [base, q, pager.cursor]);
  const submit = onSubmit((d) => {
    const w = formWhere(d);
    setFilter({ station: w.station, model: w.model, from: w.from, until: w.until, serial: w.read('serial') });
    pager.reset();
  });
  const narrowed = q !== '';
  return (
    <Section id="log" title="Issuance log">
      <form class="filters" aria-label="Find serials" onSubmit={submit}>
        <Field label="Serial" name="serial" type="search" value={filter.serial} hint="exact, or its beginning then *" />
        <WhereFields where={filter} />
        <button type="submit">Find</button>
        <a class="button" href={`${base}/issuances.csv${q}`} download={`issuances-${brand}.csv`}>
          Download CSV
        </a>
      </form>
      <Async state={log} what="serials" empty={(p) => p.items.length === 0} emptyText={narrowed ? 'No serial matches.' : `${brand} has issued no serials yet.`}>
        {(p) => (
          <>
            <Table
              caption={`Serials issued${narrowed ? ' that match' : ''}, newest first: ${p.items.length}${p.next === null && !pager.newer ? '' : ' on this page'}`}
              rows={p.items}
              rowKey={(x) => x.id}
              columns={[
                { head: 'Serial', cell: (x) => <code class="nowrap">{x.serial}</code> },
                { head: 'Model', cell: (x) => x.model },
                { head: 'Station', cell: (x) => x.station ?? <span class="muted">—</span> },
                {
                  head: 'Outcome',
                  cell: (x) => (
                    <>
                      <Badge kind={OUTCOME_KIND[x.outcome] ?? 'muted'}>{x.outcome}</Badge>
                      {x.original && <span class="muted"> was {x.original}</span>}
                    </>
                  ),
                },
                { head: 'When', cell: (x) => <Time at={x.issuedAt} /> },
                { head: 'Issued by', cell: (x) => (x.origin ? <code title={x.origin}>{x.origin.startsWith('appliance:') ? x.origin : `${x.origin.slice(0, 12)}…`}</code> : <span class="muted">—</span>) },
                { head: 'Device key', cell: (x) => <code title={x.deviceKeyId}>{x.deviceKeyId.slice(0, 12)}…</code> },
              ]}
            />
            <PagerButtons pager={pager} next={p.next} />
          </>
        )}
      </Async>
    </Section>
  );
}
