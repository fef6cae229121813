import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ReportRow } from './types.js';

const COLOURS = ['#2c5f8a', '#c8553d', '#4f8a3c', '#8a5a9b', '#b8860b', '#3c8a86'];

/** A report period (`2026-12-02T13` per hour, `2026-12-02` per day, UTC) as Unix seconds. */
export function periodSeconds(period: string): number {
  const iso = /T\d\d$/.test(period) ? `${period}:00:00Z` : /^\d{4}-\d\d-\d\d$/.test(period) ? `${period}T00:00:00Z` : period;
  return Date.parse(iso) / 1000;
}

/** Report rows as one series per model and station: x the period, y the devices issued in it. */
export function series(rows: readonly ReportRow[]): { x: number[]; lines: Array<{ label: string; y: number[] }> } {
  const periods = [...new Set(rows.map((r) => r.period))].sort();
  const keys = [...new Set(rows.map((r) => `${r.model} @ ${r.station}`))];
  const at = new Map(periods.map((p, i) => [p, i]));
  const lines = keys.map((label) => ({ label, y: periods.map(() => 0) }));
  for (const r of rows) {
    if (!r.outcome.startsWith('issued') && r.outcome !== 'reprovisioned') continue;
    const line = lines[keys.indexOf(`${r.model} @ ${r.station}`)]!;
    line.y[at.get(r.period)!]! += r.count;
  }
  return { x: periods.map(periodSeconds), lines };
}

/** A period's length in seconds: an hour, or a day for daily reports. */
const span = (rows: readonly ReportRow[]) => (rows.some((r) => /T\d\d$/.test(r.period)) ? 3600 : 86_400);

/**
 * The issuance rate chart. uPlot is loaded when a report is first shown,
 * so it is not part of the first page load.
 */
export function RateChart({ rows }: { rows: readonly ReportRow[] }): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState<string>();
  useEffect(() => {
    let plot: { destroy(): void } | undefined;
    let live = true;
    void Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(
      ([{ default: UPlot }]) => {
        if (!live || !box.current) return;
        const { x, lines } = series(rows);
        const width = Math.max(280, Math.min(box.current.clientWidth, 1000));
        plot = new UPlot(
          {
            width,
            height: 220,
            series: [{}, ...lines.map((l, i) => ({ label: l.label, stroke: COLOURS[i % COLOURS.length], width: 2, points: { show: x.length < 2 } }))],
            // One period alone: an hour (or a day) either side of it. uPlot's own choice for one point is a day in milliseconds, read as seconds: years.
            scales: { x: { range: (_u, min, max) => (x.length === 1 ? [x[0]! - span(rows), x[0]! + span(rows)] : [min, max]) } },
            axes: [{}, { label: 'devices' }],
          },
          [x, ...lines.map((l) => l.y)],
          box.current,
        );
      },
      (e: Error) => setFailed(e.message),
    );
    return () => {
      live = false;
      plot?.destroy();
    };
  }, [rows]);
  return (
    <figure class="chart">
      <figcaption id="rate-caption">Devices issued per period, by model and station</figcaption>
      <div ref={box} role="img" aria-labelledby="rate-caption" />
      {failed && <p class="error">cannot draw the chart: {failed}</p>}
    </figure>
  );
}
