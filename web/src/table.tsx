/** Tables: rows under a caption and column headings, and the Newer and Older buttons under a paged list. */
import type { ComponentChildren, JSX } from 'preact';
import { useState } from 'preact/hooks';

/** One column of a table: its heading and what each row shows in it. */
export interface Column<T> {
  readonly head: string;
  readonly cell: (row: T) => ComponentChildren;
  /** Numbers, aligned right. */
  readonly num?: boolean;
  /** The cells' class (`json` for a JSON value). */
  readonly class?: string;
}

/**
 * A table of `rows` with a caption and column headings. A column given as
 * `false` is left out (one that only some roles see: `canManage && {…}`).
 */
export function Table<T>(props: { caption: ComponentChildren; rows: readonly T[]; rowKey: (row: T, index: number) => string | number; columns: ReadonlyArray<Column<T> | false>; empty?: string }): JSX.Element {
  const columns = props.columns.filter((c): c is Column<T> => c !== false);
  return (
    <table>
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          {columns.map((c) => (
            <th scope="col" key={c.head} class={c.num ? 'num' : undefined}>
              {c.head}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows.length === 0 && props.empty && (
          <tr>
            <td colSpan={columns.length} class="empty">
              {props.empty}
            </td>
          </tr>
        )}
        {props.rows.map((row, i) => (
          <tr key={props.rowKey(row, i)}>
            {columns.map((c) => (
              <td key={c.head} class={c.class ?? (c.num ? 'num' : undefined)}>
                {c.cell(row)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Pages of a list, newest first: the cursors of the pages before the one shown, so "Newer" goes back. */
export interface Pager<C> {
  /** The `before` of the page shown (undefined: the newest). */
  readonly cursor: C | undefined;
  readonly newer: (() => void) | undefined;
  older(next: C | null): (() => void) | undefined;
  /** Back to the newest page (a new search). */
  reset(): void;
}

export function usePager<C>(): Pager<C> {
  const [before, setBefore] = useState<C[]>([]);
  return {
    cursor: before[before.length - 1],
    newer: before.length > 0 ? () => setBefore(before.slice(0, -1)) : undefined,
    older: (next) => (next === null ? undefined : () => setBefore([...before, next])),
    reset: () => setBefore([]),
  };
}

/** "Newer" and "Older" under a paged list; nothing when it fits on one page. */
export function PagerButtons<C>({ pager, next }: { pager: Pager<C>; next: C | null }): JSX.Element | null {
  const older = pager.older(next);
  if (!older && !pager.newer) return null;
  return (
    <div class="row">
      <button type="button" disabled={!pager.newer} onClick={pager.newer}>
        Newer
      </button>
      <button type="button" disabled={!older} onClick={older}>
        Older
      </button>
    </div>
  );
}
