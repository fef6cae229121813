import type { JSX } from 'preact';
import { api, enc } from '../api.js';
import { useMay, useSession } from '../session.js';
import type { Model, Station } from '../types.js';
import { Table } from '../table.js';
import { Async, Badge, NeedsStore, PageHead, useLoad } from '../ui.js';

const PROVISIONING: Record<Model['provisioning'], string> = { 'api-key': 'station API key', 'hardware-identity': 'hardware identity' };

/** How a model's devices get their serials, in words. */
function serials(m: Model): JSX.Element {
  if (m.serialPolicy === 'template') {
    return (
      <>
        vault allocates{m.serialTemplate && <> from <code>{m.serialTemplate}</code></>}
      </>
    );
  }
  return <>device proposes</>;
}

/**
 * The brand's models with their serial policies (made with the command
 * line, serial-vault model), each model assertion for image builds, and
 * the stations that register each model, for those who may see stations.
 */
export function ModelsPage(): JSX.Element {
  const { brand } = useSession();
  const canSeeStations = useMay('station.read', brand);
  const models = useLoad(() => (brand ? api<{ items: Model[] }>('GET', `/api/v1/brands/${enc(brand)}/models`) : Promise.resolve({ items: [] })), [brand]);
  const stations = useLoad(() => (brand && canSeeStations ? api<{ items: Station[] }>('GET', `/api/v1/brands/${enc(brand)}/stations`) : Promise.resolve({ items: [] })), [brand, canSeeStations]);
  if (!brand) return <NeedsStore what="models" />;
  const byModel = new Map<string, Station[]>();
  // Stations name their models as brand/model.
  for (const st of stations.data?.items ?? []) for (const m of st.models) byModel.set(m, [...(byModel.get(m) ?? []), st]);
  const base = `/api/v1/brands/${enc(brand)}/models`;
  return (
    <>
      <PageHead title="Models">Device models of {brand}: how their devices get serials, and their model assertions for building images. Serial policies are set with the command line (serial-vault model).</PageHead>
      <Async state={models} what="models" empty={(m) => m.items.length === 0} emptyText={`${brand} has no models yet.`}>
        {(m) => (
          <Table
            caption="Models"
            rows={m.items}
            rowKey={(x) => x.name}
            columns={[
              {
                head: 'Model',
                cell: (x) => (
                  <>
                    <code>{x.name}</code>
                    {x.displayName && <span class="muted"> {x.displayName}</span>}
                  </>
                ),
              },
              { head: 'State', cell: (x) => (x.enabled ? <Badge kind="good">enabled</Badge> : <Badge kind="bad">disabled</Badge>) },
              { head: 'Serials', cell: serials },
              { head: 'Provisioning', cell: (x) => PROVISIONING[x.provisioning] + (x.allowReprovision ? ', reprovision allowed' : '') },
              { head: 'Store', cell: (x) => x.store ?? <span class="muted">—</span> },
              { head: 'Grade', cell: (x) => x.grade ?? <span class="muted">—</span> },
              { head: 'Revision', cell: (x) => x.revision, num: true },
              canSeeStations && {
                head: 'Stations',
                cell: (x) => (byModel.get(`${x.brand}/${x.name}`) ?? []).map((s) => `${s.name}${s.pattern ? ` (${s.pattern})` : ''}${s.disabled ? ' (disabled)' : ''}`).join(', ') || <span class="muted">none</span>,
              },
              {
                head: 'Assertion',
                cell: (x) => (
                  <a href={`${base}/${enc(x.name)}/assertion`} download={`${x.name}.model`} aria-label={`Download the model assertion of ${x.name}`} title={`signed by ${x.signKeyId}`}>
                    {x.name}.model
                  </a>
                ),
              },
            ]}
          />
        )}
      </Async>
    </>
  );
}
