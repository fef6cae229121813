import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { useMay, useSession } from '../session.js';
import type { Station } from '../types.js';
import { ActionForm, ActionStatus, Async, Badge, Field, list, MakeSection, NeedsStore, optionalInt, PageHead, ShownOnce, text, Time, useAction, useLoad } from '../ui.js';

/** Factory stations: models, windows, quotas and what is used of them, API keys and allow-lists. */
export function StationsPage(): JSX.Element {
  const { brand } = useSession();
  const canManage = useMay('station.manage', brand);
  const canImport = useMay('allowlist.import', brand);
  const stations = useLoad(() => (brand ? api<{ items: Station[] }>('GET', `/api/v1/brands/${enc(brand)}/stations`) : Promise.resolve({ items: [] })), [brand]);
  const change = useAction(stations.reload);
  const [shown, setShown] = useState<string>();
  if (!brand) return <NeedsStore what="stations" />;
  const base = `/api/v1/brands/${enc(brand)}/stations`;
  return (
    <>
      <PageHead title="Stations">Factory lines of {brand}: what each may register, how many, and with which API keys.</PageHead>
      <Async state={stations} what="stations" empty={(s) => s.items.length === 0}>
        {(s) => (
          <div class="cards">
            {s.items.map((st) => (
              <article class="card" key={st.name} aria-labelledby={`st-${st.name}`}>
                <h2 id={`st-${st.name}`}>
                  {st.name} {st.disabled ? <Badge kind="bad">disabled</Badge> : <Badge kind="good">enabled</Badge>}
                </h2>
                <dl>
                  <dt>Models</dt>
                  <dd>{st.models.join(', ') || '—'}</dd>
                  <dt>Provisioning</dt>
                  <dd>{st.provisioning}</dd>
                  <dt>Window</dt>
                  <dd>
                    <Time at={st.validFrom} /> to <Time at={st.validUntil} />
                  </dd>
                  <dt>Allow-list</dt>
                  <dd>{st.allowlist ? 'checked' : 'not checked'}</dd>
                </dl>
                <ul class="quotas" aria-label={`Quotas of ${st.name}`}>
                  {st.usage.map((u) => (
                    <li key={u.window}>
                      <span>
                        {u.window}: {u.used} of {u.limit ?? 'no limit'}
                      </span>
                      {u.limit !== null && <meter min={0} max={u.limit} value={u.used} high={u.limit * 0.8} aria-label={`${u.window} quota used`} />}
                    </li>
                  ))}
                </ul>
                <p>
                  API keys:{' '}
                  {st.apiKeys.map((k) => (
                    <code key={k.prefix} class={k.revoked ? 'revoked' : ''}>
                      {k.prefix}
                      {k.name ? ` (${k.name})` : ''}
                      {k.revoked ? ' revoked' : ''}{' '}
                    </code>
                  ))}
                </p>
                {canManage && (
                  <div class="row">
                    <button type="button" onClick={() => void change.run(async () => {
                      await api('PATCH', `${base}/${enc(st.name)}`, { disabled: !st.disabled });
                      return `Station ${st.name} ${st.disabled ? 'enabled' : 'disabled'}.`;
                    })}>
                      {st.disabled ? 'Enable' : 'Disable'} {st.name}
                    </button>
                    <button type="button" onClick={() => void change.run(async () => {
                      const made = await api<{ apiKey: string }>('POST', `${base}/${enc(st.name)}/api-keys`, {});
                      setShown(made.apiKey);
                      return `New API key for ${st.name}: copy it now, it is shown once.`;
                    })}>
                      New API key
                    </button>
                  </div>
                )}
                {canManage && <Quotas station={st} base={base} after={stations.reload} />}
                {canImport && <AllowList station={st} base={base} after={stations.reload} />}
              </article>
            ))}
          </div>
        )}
      </Async>
      <ActionStatus action={change} />
      <ShownOnce label="API key" value={shown} />
      {canManage && <NewStation base={base} after={stations.reload} onKey={setShown} />}
    </>
  );
}

function Quotas({ station, base, after }: { station: Station; base: string; after: () => void }): JSX.Element {
  const save = useAction(after);
  const num = (d: FormData, n: string) => optionalInt(d, n) ?? null;
  return (
    <details>
      <summary>Quotas</summary>
      <ActionForm label={`Quotas of ${station.name}`} action={save} submit="Save quotas" onSubmit={async (d) => {
        await api('PATCH', `${base}/${enc(station.name)}`, { perHour: num(d, 'perHour'), perDay: num(d, 'perDay'), total: num(d, 'total') });
        return 'Quotas saved.';
      }}>
        <Field label="Per hour" name="perHour" type="number" value={station.perHour?.toString() ?? ''} />
        <Field label="Per day" name="perDay" type="number" value={station.perDay?.toString() ?? ''} />
        <Field label="Total" name="total" type="number" value={station.total?.toString() ?? ''} />
      </ActionForm>
    </details>
  );
}

function AllowList({ station, base, after }: { station: Station; base: string; after: () => void }): JSX.Element {
  const upload = useAction(after);
  return (
    <details>
      <summary>Allow-list</summary>
      <ActionForm label={`Allow-list of ${station.name}`} action={upload} submit="Import serials" onSubmit={async (d) => {
        const file = d.get('file');
        if (!(file instanceof File) || file.size === 0) throw new Error('choose a CSV or JSON file of serials first');
        const type = file.name.endsWith('.json') ? 'application/json' : 'text/csv';
        const r = await api<{ read: number; added: number; unchanged: number }>('POST', `${base}/${enc(station.name)}/allowlist?name=${enc(file.name)}`, undefined, { raw: { body: file, type } });
        return `Read ${r.read} serials: ${r.added} added, ${r.unchanged} already there.`;
      }}>
        <label>
          <span>File (CSV or JSON)</span>
          <input type="file" name="file" accept=".csv,.json,text/csv,application/json" />
        </label>
      </ActionForm>
    </details>
  );
}

function NewStation({ base, after, onKey }: { base: string; after: () => void; onKey: (k: string) => void }): JSX.Element {
  const create = useAction(after);
  return (
    <MakeSection id="new-station" title="New station" action={create} submit="Create station" onSubmit={async (d) => {
      const perHour = optionalInt(d, 'perHour');
      const perDay = optionalInt(d, 'perDay');
      const made = await api<{ station: Station; apiKey: string }>('POST', base, { name: text(d, 'name'), models: list(text(d, 'models')), ...(perHour ? { perHour } : {}), ...(perDay ? { perDay } : {}) });
      onKey(made.apiKey);
      return `Station ${made.station.name} created with its first API key.`;
    }}>
      <Field label="Name" name="name" required />
      <Field label="Models" name="models" required placeholder="model names, comma separated" />
      <Field label="Per hour" name="perHour" type="number" />
      <Field label="Per day" name="perDay" type="number" />
    </MakeSection>
  );
}
