/**
 * A `Range: bytes=…` header against a file of `size` bytes: the one range
 * to send, undefined for the whole file (no header, or one this store does
 * not serve, such as several ranges), or 'unsatisfiable'. snapd resumes
 * with `bytes=N-`.
 */
export function parseRange(header: string, size: number): [number, number] | undefined | 'unsatisfiable' {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    // bytes=-N: the last N bytes
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || end < start) return 'unsatisfiable';
  return [start, end];
}
