/** One CSV cell: quoted when it must be, and never a formula a spreadsheet would run. */
export function csvCell(v: string | number | null): string {
  const s = v === null ? '' : String(v);
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** A header line, then one line per row, each ending in a newline. */
export function toCsv(fields: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string {
  return `${[fields.join(','), ...rows.map((r) => r.map(csvCell).join(','))].join('\n')}\n`;
}
