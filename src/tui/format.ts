/**
 * Text helpers for dashboard panes: human-readable numbers, fixed-width columns and blessed tag escaping.
 * Pure functions; widths are counted in terminal cells (every character we print is one cell wide).
 */

const SI = ['', 'k', 'M', 'G', 'T', 'P'];

/** 1234 → "1.2k", 15600 → "15.6k", 999 → "999", 1.5e9 → "1.5G" (base 1000, at most 3 significant digits). */
export function si(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const neg = n < 0;
  let v = Math.abs(n);
  let i = 0;
  while (v >= 999.5 && i < SI.length - 1) {
    v /= 1000;
    i++;
  }
  // Three significant digits at most: 9.5k, 15.6k, 156k.
  const digits = (i === 0 && Number.isInteger(v)) || v >= 99.95 ? 0 : 1;
  return `${neg ? '-' : ''}${v.toFixed(digits)}${SI[i]}`;
}

/** Bytes with an SI unit (base 1000): 1536 → "1.5kB". */
export function bytes(n: number): string {
  return `${si(n)}B`;
}

/** Bits per second from bytes per second: 125000 B/s → "1.0Mb/s". */
export function bitRate(bytesPerSec: number): string {
  return `${si(bytesPerSec * 8)}b/s`;
}

/** Packets per second: "12.3k/s". */
export function pktRate(pps: number): string {
  return `${si(pps)}/s`;
}

/** Age in seconds as "4s", "3m", "2h", "5d"; undefined → "-". */
export function age(sec: number | undefined): string {
  if (sec === undefined || !Number.isFinite(sec) || sec < 0) return '-';
  if (sec < 60) return `${Math.floor(sec)}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h`;
  return `${Math.floor(sec / 86400)}d`;
}

/** Cuts `s` to `w` cells, marking the cut with "…". */
export function clip(s: string, w: number): string {
  if (w <= 0) return '';
  if (s.length <= w) return s;
  if (w === 1) return '…';
  return `${s.slice(0, w - 1)}…`;
}

/** Left-aligned, exactly `w` cells. */
export function padEnd(s: string, w: number): string {
  const c = clip(s, w);
  return c.length < w ? c + ' '.repeat(w - c.length) : c;
}

/** Right-aligned, exactly `w` cells. */
export function padStart(s: string, w: number): string {
  const c = clip(s, w);
  return c.length < w ? ' '.repeat(w - c.length) + c : c;
}

/**
 * Escapes text for a blessed box with `tags: true`: data such as rule text or interface aliases may contain
 * braces, which blessed would otherwise parse as tags.
 */
export function escapeTags(s: string): string {
  return s.replace(/[{}]/g, (ch) => (ch === '{' ? '{open}' : '{close}'));
}

/** Removes blessed tags (for tests and for measuring); `{open}`/`{close}` become braces again. */
export function stripTags(s: string): string {
  return s.replace(/\{(\/?)([a-z0-9-]*)\}/gi, (m, _slash: string, name: string) => {
    if (name === 'open') return '{';
    if (name === 'close') return '}';
    return '';
  });
}

/** Wraps already padded/escaped text in a blessed colour/style tag. */
export function tag(style: string, text: string): string {
  return `{${style}}${text}{/${style}}`;
}
