/**
 * `netscope read FILE --io-graph [--interval 1s] [--top N]`: packets and bytes per interval, drawn in the
 * terminal as one row per interval with a stacked bar (one letter per series, so the picture survives without
 * colour), per protocol, or per flow (conversation) with --top N. The counting is the IoGraph model
 * (analysis/iograph.ts), which a live view can feed the same way.
 */
import { IoGraph, niceNextInterval } from '../analysis/iograph';
import { ip4ToString, ip6ToString, protocolName } from '../decode/format';
import { L, type PacketView } from '../decode/view';
import type { PacketRecord } from '../pcap/record';
import { paint } from './color';

/** "1s", "250ms", "100us", "2m", "1h", "0.5" (seconds) → nanoseconds; undefined when not a duration. */
export function parseInterval(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|min|h)?$/.exec(text.trim());
  if (m === null) return undefined;
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, min: 60e9, h: 3600e9 };
  const ns = Math.round(Number(m[1]) * unit[m[2] ?? 's']);
  return ns >= 1000 ? ns : undefined;
}

/** 1500000000 → "1.5s", 250000000 → "250ms". */
export function intervalText(ns: number): string {
  if (ns % 3600e9 === 0) return `${ns / 3600e9}h`;
  if (ns % 60e9 === 0 && ns >= 60e9) return `${ns / 60e9}m`;
  if (ns >= 1e9) return `${+(ns / 1e9).toFixed(3)}s`;
  if (ns >= 1e6) return `${+(ns / 1e6).toFixed(3)}ms`;
  return `${+(ns / 1e3).toFixed(3)}us`;
}

function si(n: number): string {
  if (n < 1000) return String(n);
  const units = ['k', 'M', 'G', 'T'];
  let v = n;
  let u = -1;
  while (v >= 999.5 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)}${units[u]}`;
}

/** Letters and SGR colours of series, in order of size (the biggest gets the first). */
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const COLOURS = ['32', '34', '33', '35', '36', '31', '92', '94', '93', '95', '96', '91'];

export interface IoGraphReportOptions {
  intervalNs?: number;
  /** Per flow: the N biggest flows (by bytes) and "other"; 0/undefined = per protocol. */
  top?: number;
  json?: boolean;
}

/** Flows tracked at once with --top N (space-saving: the smallest is folded into "other" to make room). */
const flowSlots = (top: number): number => Math.max(64, top * 8);

export class IoGraphReport {
  readonly graph: IoGraph;
  private readonly top: number;
  private readonly flowSeries = new Map<number, number>();
  private readonly seriesFlow: number[] = [];
  private other = -1;
  private readonly auto: boolean;

  constructor(private readonly opts: IoGraphReportOptions = {}) {
    this.auto = opts.intervalNs === undefined;
    // Without --interval: 1 s, coarsened along a readable ladder so a long capture stays ≤ 120 rows.
    this.graph = new IoGraph(
      this.auto
        ? { intervalNs: 1e9, maxBuckets: 120, nextInterval: niceNextInterval }
        : { intervalNs: opts.intervalNs!, maxBuckets: 100_000 },
    );
    this.top = opts.top ?? 0;
  }

  add(view: PacketView, rec: PacketRecord): void {
    const s = this.top > 0 ? this.flowIndex(view) : this.graph.seriesIndex(protocolName(view));
    this.graph.add(rec.tsSec, rec.tsNsec, rec.len, s);
  }

  /** Series of the packet's conversation (both directions one flow). */
  private flowIndex(view: PacketView): number {
    const key = conversationKey(view);
    let s = this.flowSeries.get(key);
    if (s !== undefined) return s;
    const name = conversationName(view);
    if (this.flowSeries.size < flowSlots(this.top)) {
      s = this.graph.seriesIndex(name);
    } else {
      if (this.other < 0) this.other = this.graph.seriesIndex('other');
      // Space-saving: reuse the slot of the smallest flow so far, its counts going to "other".
      const all = this.graph.all();
      let min = -1;
      for (const idx of this.flowSeries.values()) if (min < 0 || all[idx].totalBytes < all[min].totalBytes) min = idx;
      this.flowSeries.delete(this.seriesFlow[min]);
      this.graph.fold(min, this.other, name);
      s = min;
    }
    this.flowSeries.set(key, s);
    this.seriesFlow[s] = key;
    return s;
  }

  /** Series shown, biggest first: with --top N the N biggest flows and "other" for the rest. */
  private shown(): { name: string; packets: Float64Array; bytes: Float64Array; totalBytes: number; totalPackets: number }[] {
    const g = this.graph;
    const all = [...g.all()].filter((s) => s.totalPackets > 0).sort((a, b) => b.totalBytes - a.totalBytes || a.name.localeCompare(b.name));
    if (this.top <= 0) return all;
    const keep = all.filter((s) => s.name !== 'other').slice(0, this.top);
    const rest = all.filter((s) => !keep.includes(s));
    if (rest.length === 0) return keep;
    const packets = new Float64Array(g.length);
    const bytes = new Float64Array(g.length);
    let tp = 0;
    let tb = 0;
    for (const s of rest) {
      for (let i = 0; i < g.length; i++) {
        packets[i] += s.packets[i];
        bytes[i] += s.bytes[i];
      }
      tp += s.totalPackets;
      tb += s.totalBytes;
    }
    return [...keep, { name: 'other', packets, bytes, totalPackets: tp, totalBytes: tb }];
  }

  /** JSON lines: one {"interval":…} per interval, then one {"ioGraph":…} summary. */
  renderJson(): string {
    const g = this.graph;
    const series = this.shown();
    const { sec, nsec } = g.start;
    const lines: string[] = [];
    for (let b = 0; b < g.length; b++) {
      const per: Record<string, { packets: number; bytes: number }> = {};
      let packets = 0;
      let bytes = 0;
      for (const s of series) {
        if (s.packets[b] === 0) continue;
        per[s.name] = { packets: s.packets[b], bytes: s.bytes[b] };
        packets += s.packets[b];
        bytes += s.bytes[b];
      }
      const startNs = nsec + b * g.interval;
      const t = sec + Math.floor(startNs / 1e9) + (startNs % 1e9) / 1e9;
      lines.push(JSON.stringify({ interval: { index: b, start: Number(t.toFixed(9)), offset: (b * g.interval) / 1e9, packets, bytes, series: per } }));
    }
    lines.push(JSON.stringify({ ioGraph: { intervalSec: g.interval / 1e9, intervals: g.length, by: this.top > 0 ? 'flow' : 'protocol', series: series.map((s) => ({ name: s.name, packets: s.totalPackets, bytes: s.totalBytes })) } }));
    return `${lines.join('\n')}\n`;
  }

  /** The text chart for a terminal `width` columns wide. */
  render(opts: { color?: boolean; width?: number } = {}): string {
    const g = this.graph;
    if (g.length === 0) return 'I/O graph: no packets.\n';
    const color = opts.color === true;
    const series = this.shown();
    const width = Math.max(60, opts.width ?? 100);
    let maxBytes = 0;
    let packets = 0;
    let bytes = 0;
    const rows: { t: string; p: number; y: number }[] = [];
    for (let b = 0; b < g.length; b++) {
      let p = 0;
      let y = 0;
      for (const s of series) {
        p += s.packets[b];
        y += s.bytes[b];
      }
      rows.push({ t: `+${((b * g.interval) / 1e9).toFixed(g.interval < 1e9 ? 3 : 0)}s`, p, y });
      if (y > maxBytes) maxBytes = y;
      packets += p;
      bytes += y;
    }
    const tW = Math.max(4, ...rows.map((r) => r.t.length));
    const pW = Math.max(7, ...rows.map((r) => String(r.p).length));
    const yW = Math.max(5, ...rows.map((r) => si(r.y).length));
    const barW = Math.max(10, width - tW - pW - yW - 6);
    const letter = (i: number): string => (i < LETTERS.length ? LETTERS[i] : '#');
    const head = `I/O graph: ${intervalText(g.interval)} intervals${this.auto ? '' : ''}, ${packets} packets, ${bytes} bytes, by ${this.top > 0 ? `flow (top ${this.top})` : 'protocol'}; bars: bytes (full bar = ${si(maxBytes)})`;
    const legend = series.map((s, i) => `${paint(color, COLOURS[i % COLOURS.length], letter(i))} ${s.name} (${si(s.totalBytes)}B)`);
    const out = [head, `  ${legend.join('   ')}`, `${'TIME'.padStart(tW)}  ${'PACKETS'.padStart(pW)}  ${'BYTES'.padStart(yW)}  `];
    for (let b = 0; b < rows.length; b++) {
      const r = rows[b];
      // Each series gets its share of the bar, rounded so the pieces add up to the bar of the total.
      const total = maxBytes > 0 ? Math.round((r.y / maxBytes) * barW) : 0;
      let bar = '';
      let acc = 0;
      let drawn = 0;
      series.forEach((s, i) => {
        if (s.bytes[b] === 0) return;
        acc += s.bytes[b];
        const upto = r.y > 0 ? Math.round((acc / r.y) * total) : 0;
        const n = Math.max(upto - drawn, drawn < total ? 1 : 0);
        if (n > 0) bar += paint(color, COLOURS[i % COLOURS.length], letter(i).repeat(Math.min(n, total - drawn)));
        drawn = Math.min(total, drawn + n);
      });
      if (r.y > 0 && drawn === 0) bar = '.';
      out.push(`${r.t.padStart(tW)}  ${String(r.p).padStart(pW)}  ${si(r.y).padStart(yW)}  ${bar}`.trimEnd());
    }
    return `${out.join('\n')}\n`;
  }
}

/** A number naming the conversation (both directions alike): a 53-bit mix of protocol, addresses and ports. */
function conversationKey(v: PacketView): number {
  const l = v.layers;
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  const mix = (x: number): void => {
    h1 = Math.imul(h1 ^ x, 0x01000193);
    h2 = Math.imul(h2 ^ (x + 0x9e3779b9), 0x85ebca6b);
  };
  if (l & L.IPV4) {
    const a = v.ip4Src >>> 0;
    const b = v.ip4Dst >>> 0;
    const sp = v.sport;
    const dp = v.dport;
    const first = a < b || (a === b && sp <= dp);
    mix(v.ipProto);
    mix(first ? a : b);
    mix(first ? sp : dp);
    mix(first ? b : a);
    mix(first ? dp : sp);
  } else if (l & L.IPV6 && v.ip6SrcOff >= 0 && v.ip6DstOff >= 0) {
    const buf = v.buf;
    let cmp = 0;
    for (let i = 0; i < 16 && cmp === 0; i++) cmp = buf[v.ip6SrcOff + i] - buf[v.ip6DstOff + i];
    const first = cmp < 0 || (cmp === 0 && v.sport <= v.dport);
    const x = first ? v.ip6SrcOff : v.ip6DstOff;
    const y = first ? v.ip6DstOff : v.ip6SrcOff;
    mix(v.ip6Next + 256);
    for (let i = 0; i < 16; i += 4) mix(((buf[x + i] << 24) | (buf[x + i + 1] << 16) | (buf[x + i + 2] << 8) | buf[x + i + 3]) >>> 0);
    mix(first ? v.sport : v.dport);
    for (let i = 0; i < 16; i += 4) mix(((buf[y + i] << 24) | (buf[y + i + 1] << 16) | (buf[y + i + 2] << 8) | buf[y + i + 3]) >>> 0);
    mix(first ? v.dport : v.sport);
  } else {
    // Not IP: one series per protocol name (arp, other).
    mix(l & L.ARP ? 1 : 2);
    mix(0x7fffffff);
  }
  return (h1 >>> 0) * 0x200000 + ((h2 >>> 0) & 0x1fffff);
}

function conversationName(v: PacketView): string {
  const l = v.layers;
  const proto = protocolName(v);
  const ports = (l & (L.TCP | L.UDP)) !== 0;
  const ep = (addr: string, port: number): string => (ports ? `${addr.includes(':') ? `[${addr}]` : addr}:${port}` : addr);
  let a: string;
  let b: string;
  if (l & L.IPV4) {
    const x = v.ip4Src >>> 0;
    const y = v.ip4Dst >>> 0;
    const first = x < y || (x === y && v.sport <= v.dport);
    a = ep(ip4ToString(first ? x : y), first ? v.sport : v.dport);
    b = ep(ip4ToString(first ? y : x), first ? v.dport : v.sport);
  } else if (l & L.IPV6 && v.ip6SrcOff >= 0) {
    const s = ip6ToString(v.buf, v.ip6SrcOff);
    const d = ip6ToString(v.buf, v.ip6DstOff);
    const first = s < d || (s === d && v.sport <= v.dport);
    a = ep(first ? s : d, first ? v.sport : v.dport);
    b = ep(first ? d : s, first ? v.dport : v.sport);
  } else {
    return proto;
  }
  return `${proto} ${a} ↔ ${b}`;
}
