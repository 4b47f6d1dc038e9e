/**
 * `netscope read --flows`: a FlowTable fed from a whole capture, written once at the end as a text table with
 * a problem digest (per kind: count and the most significant few), or as JSON lines ({"flow":…} per flow,
 * {"problem":…} per problem, one {"summary":…}). Output is produced in bounded chunks handed to the writer
 * as they are made (never one string of the whole report), waiting for it to drain when it is congested.
 */
import { FlowFacts, FlowFamily, FlowRecord, FlowSort, FlowTable } from '../../analysis/flows';
import type { ProblemDigest } from '../../analysis/problemDigest';
import type { Problem } from '../../analysis/problems';
import { PacketView } from '../../decode/view';
import { LineBuffer } from '../../decode/format';
import { PacketRecord } from '../../pcap/record';
import { TextTable } from './textTable';

/** Where the report goes: BufferedWriter (src/cli/packetOutput.ts) is one. */
export interface ReportSink {
  /** Pending output bytes: append, then commit(). */
  readonly lines: LineBuffer;
  commit(): void;
  write(chunk: string | Buffer): void;
  /** A promise while the output is congested, else undefined. */
  waitForDrain(): Promise<void> | undefined;
  /** False once the output is gone (closed pipe): stop writing. */
  readonly open: boolean;
}

export interface FlowReportOptions {
  sort: FlowSort;
  /** Show only the first N flows after sorting; 0 = all. */
  top: number;
  json: boolean;
  /** Problems listed per kind in the text report (default 5; Infinity = every problem). JSON keeps all. */
  problems?: number;
  /** Hard cap on flows held (evictions are reported); default 1,000,000. */
  maxFlows?: number;
  rateIntervalSec?: number;
}

const NO_FLOWS = 'No flows.\n';
/** Problems shown per kind by default, and the most lines the problems section may take (a screen). */
export const DEFAULT_PROBLEMS_PER_KIND = 5;
const MAX_PROBLEM_LINES = 40;
/** Rows laid out per chunk of the text table, JSON bytes per chunk. */
const ROWS_PER_CHUNK = 2048;
const JSON_CHUNK = 64 * 1024;
/** The event loop gets a turn every this many chunks (writes complete, the output area is reused). */
const YIELD_CHUNKS = 8;

export class FlowReport {
  readonly table: FlowTable;
  private startSec = -1;
  private startNs = 0;

  constructor(private readonly opts: FlowReportOptions) {
    // A report covers the whole capture: nothing expires for being idle, only the hard cap evicts.
    this.table = new FlowTable({ idleTimeoutSec: Infinity, maxFlows: opts.maxFlows, rateIntervalSec: opts.rateIntervalSec });
  }

  add(view: PacketView, rec: PacketRecord): void {
    if (this.startSec < 0 || rec.tsSec < this.startSec || (rec.tsSec === this.startSec && rec.tsNsec < this.startNs)) {
      this.startSec = rec.tsSec;
      this.startNs = rec.tsNsec;
    }
    this.table.add(view, rec);
  }

  /** The whole report as one string (tests, small captures); write() streams it. */
  render(): string {
    return this.renderBytes().toString('utf8');
  }

  /** render() as UTF-8 bytes. */
  renderBytes(): Buffer {
    const sink = new CollectingSink();
    for (const _ of this.produce(sink)) sink.commit();
    sink.commit();
    return Buffer.concat(sink.parts);
  }

  /** Writes the report to `out` chunk by chunk, waiting while it is congested; stops when it closes. */
  async write(out: ReportSink): Promise<void> {
    let chunks = 0;
    for (const _ of this.produce(out)) {
      out.commit();
      if (!out.open) return;
      const congested = out.waitForDrain();
      if (congested !== undefined) await congested;
      // Let completed writes report back now and then, so the writer reuses its output area.
      else if (++chunks % YIELD_CHUNKS === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    out.commit();
  }

  /** Writes the report into `out` in bounded pieces, pausing (yield) after each. */
  private *produce(out: ReportSink): Generator<void> {
    // A finished capture has no "current" interval: rank by each flow's average rate.
    const handles = this.table.selectFlows({ sort: this.opts.sort, top: this.opts.top, rateBy: 'average' });
    if (this.opts.json) {
      yield* this.jsonLines(handles, out);
      return;
    }
    const r = this.renderText(handles);
    out.write(r.head);
    if (r.table === null) out.write(NO_FLOWS);
    else
      for (let row = 0; row < r.table.rows; row += ROWS_PER_CHUNK) {
        out.write(r.table.renderRows(row, Math.min(r.table.rows, row + ROWS_PER_CHUNK)));
        yield;
      }
    out.write(r.tail);
  }

  /** JSON lines written as bytes into the sink, one flow or problem at a time, pausing every JSON_CHUNK bytes. */
  private *jsonLines(handles: Int32Array, out: ReportSink): Generator<void> {
    const f = new FlowFacts();
    const lines = out.lines;
    for (let i = 0; i < handles.length; i++) {
      this.flowJson(handles[i], f, lines);
      if (lines.pending >= JSON_CHUNK) yield;
    }
    // Problems come one object at a time too (a 300k-flow capture can hold 80k).
    const byKind: Record<string, number> = {};
    let total = 0;
    for (const p of this.table.eachProblem()) {
      byKind[p.kind] = (byKind[p.kind] ?? 0) + 1;
      total++;
      lines.utf8(JSON.stringify({ problem: p }));
      lines.byte(10);
      if (lines.pending >= JSON_CHUNK) yield;
    }
    const c = this.table.counters();
    lines.utf8(
      JSON.stringify({
        summary: {
          flows: c.flows,
          shown: handles.length,
          packets: c.packets,
          bytes: c.bytes,
          evicted: c.evicted,
          unkeyed: c.unkeyed,
          innerPackets: c.innerPackets,
          icmpErrorsUnmatched: c.icmpErrorsUnmatched,
          macs: c.macs,
          arp: c.arp,
          repeats: c.repeats,
          hops: this.table.hopLatency(),
          problems: { total, byKind },
        },
      }),
    );
    lines.byte(10);
  }

  /**
   * Writes the line JSON.stringify({ flow: table.flowRecord(h) }) writes, as bytes from the flow's numbers: no
   * FlowRecord, no nested objects and no strings per flow for IPv4 (a 300k-flow report spent most of its time
   * building, stringifying and encoding those).
   */
  private flowJson(h: number, f: FlowFacts, o: LineBuffer): void {
    const t = this.table;
    t.readFlow(h, f);
    if (f.hasIcmpErrors) {
      o.utf8(JSON.stringify({ flow: t.flowRecord(h) }));
      o.byte(10);
      return;
    }
    const v4 = f.family === 'ipv4' || f.family === 'arp';
    const a = v4 ? '' : t.flowAddress(h, 'a');
    const b = v4 ? '' : t.flowAddress(h, 'b');
    o.ascii('{"flow":{"key":"');
    o.ascii(f.proto);
    o.byte(32);
    this.endpointText(o, f, a, f.a4, f.aPort);
    o.ascii(' <-> ');
    this.endpointText(o, f, b, f.b4, f.bPort);
    if (f.isEcho) {
      o.ascii(' id ');
      o.num(f.echoId);
    }
    if (f.vni >= 0) {
      o.ascii(' vni ');
      o.num(f.vni);
    }
    o.ascii('","proto":"');
    o.ascii(f.proto);
    o.ascii('","family":"');
    o.ascii(f.family);
    o.ascii('","a":"');
    if (v4) o.ip4(f.a4);
    else o.ascii(a);
    o.ascii('","aPort":');
    numOrNull(o, f.aPort);
    o.ascii(',"b":"');
    if (v4) o.ip4(f.b4);
    else o.ascii(b);
    o.ascii('","bPort":');
    numOrNull(o, f.bPort);
    o.ascii(',"echoId":');
    numOrNull(o, f.echoId);
    o.ascii(',"vni":');
    numOrNull(o, f.vni);
    o.ascii(',"packetsAB":');
    o.num(f.packetsAB);
    o.ascii(',"packetsBA":');
    o.num(f.packetsBA);
    o.ascii(',"bytesAB":');
    o.num(f.bytesAB);
    o.ascii(',"bytesBA":');
    o.num(f.bytesBA);
    o.ascii(',"packets":');
    o.num(f.packetsAB + f.packetsBA);
    o.ascii(',"bytes":');
    o.num(f.bytesAB + f.bytesBA);
    o.ascii(',"first":"');
    timestamp(o, f.firstSec, f.firstNs);
    o.ascii('","last":"');
    timestamp(o, f.lastSec, f.lastNs);
    o.ascii('","durationSec":');
    jsonNumber(o, f.durationSec);
    o.ascii(',"rateBytesPerSec":');
    jsonNumber(o, f.rateBytesPerSec);
    o.ascii(',"avgBytesPerSec":');
    jsonNumber(o, f.avgBytesPerSec);
    o.ascii(',"ifaces":[');
    let first = true;
    for (let i = 0; i < 32; i++) {
      if ((f.ifaceMask & (1 << i)) === 0) continue;
      if (!first) o.byte(44);
      first = false;
      o.utf8(JSON.stringify(i === 31 ? '(others)' : t.ifaceName(i)));
    }
    o.ascii('],"tcp":');
    if (f.tcpState === null) o.ascii('null');
    else {
      o.ascii('{"state":"');
      o.ascii(f.tcpState);
      o.ascii('","syns":');
      o.num(f.syns);
      o.ascii(',"synRetransmits":');
      o.num(Math.max(0, f.syns - 1));
      o.ascii(f.synAck ? ',"synAck":true' : ',"synAck":false');
      o.ascii(f.finA ? ',"finA":true' : ',"finA":false');
      o.ascii(f.finB ? ',"finB":true' : ',"finB":false');
      o.ascii(f.rstBy === null ? ',"rstBy":null}' : f.rstBy === 'a' ? ',"rstBy":"a"}' : ',"rstBy":"b"}');
    }
    o.ascii(',"echo":');
    if (!f.isEcho) o.ascii('null');
    else {
      o.ascii('{"requests":');
      o.num(f.requests);
      o.ascii(',"replies":');
      o.num(f.replies);
      o.ascii(',"unanswered":');
      o.num(Math.max(0, f.requests - f.replies));
      o.ascii(',"rttMinMs":');
      if (f.rttSamples > 0) jsonNumber(o, f.rttMinMs);
      else o.ascii('null');
      o.ascii(',"rttAvgMs":');
      if (f.rttSamples > 0) jsonNumber(o, f.rttAvgMs);
      else o.ascii('null');
      o.ascii(',"rttMaxMs":');
      if (f.rttSamples > 0) jsonNumber(o, f.rttMaxMs);
      else o.ascii('null');
      o.ascii(',"rttSamples":');
      o.num(f.rttSamples);
      o.byte(125);
    }
    o.ascii(',"arp":');
    if (!f.isArp) o.ascii('null');
    else {
      o.ascii('{"requests":');
      o.num(f.requests);
      o.ascii(',"replies":');
      o.num(f.replies);
      o.byte(125);
    }
    o.ascii(',"icmpErrors":null}}\n');
  }

  /** One side of FlowRecord.key: ADDR, ADDR:PORT or [IPV6]:PORT. */
  private endpointText(o: LineBuffer, f: FlowFacts, text: string, v4: number, port: number): void {
    const bracket = port >= 0 && f.family === 'ipv6';
    if (bracket) o.byte(91);
    if (f.family === 'ipv4' || f.family === 'arp') o.ip4(v4);
    else o.ascii(text);
    if (bracket) o.byte(93);
    if (port >= 0) {
      o.byte(58);
      o.num(port);
    }
  }

  private rel(ts: string): string {
    if (this.startSec < 0) return '';
    const dot = ts.indexOf('.');
    const sec = Number(ts.slice(0, dot)) - this.startSec;
    const ns = Number(ts.slice(dot + 1)) - this.startNs;
    return `+${(sec + ns / 1e9).toFixed(3)}s`;
  }

  /** The text report in three parts: the summary line, the flow table (not laid out yet; null when empty), the problems. */
  private renderText(handles: Int32Array): { head: string; table: TextTable | null; tail: string } {
    const c = this.table.counters();
    const ifaces = this.table.interfaces();
    // One unnamed interface (a classic pcap) says nothing: only show the column when it can differ.
    const showIf = ifaces.length > 1 || (ifaces.length === 1 && !/^if\d+$/.test(ifaces[0]));
    const head = ['PROTO', 'A', 'B', 'PACKETS', 'A→B', 'B→A', 'BYTES', 'A→B', 'B→A', 'START', 'DURATION', 'AVG RATE', 'STATE'];
    if (showIf) head.push('IFACE');
    // Rows go straight from the table's numbers into bytes: a capture can hold a million flows.
    const t = new TextTable(head.length, [3, 4, 5, 6, 7, 8], handles.length + 1);
    t.row(head);
    const f = new FlowFacts();
    for (let i = 0; i < handles.length; i++) {
      const h = handles[i];
      this.table.readFlow(h, f);
      t.text(f.proto);
      if (f.vni >= 0) {
        t.text('@vni');
        t.uint(f.vni);
      }
      t.endCell();
      this.endpointCell(t, h, 'a', f.a4, f.aPort, f.family);
      this.endpointCell(t, h, 'b', f.b4, f.bPort, f.family);
      t.uint(f.packetsAB + f.packetsBA);
      t.endCell();
      t.uint(f.packetsAB);
      t.endCell();
      t.uint(f.packetsBA);
      t.endCell();
      t.uint(f.bytesAB + f.bytesBA);
      t.endCell();
      t.uint(f.bytesAB);
      t.endCell();
      t.uint(f.bytesBA);
      t.endCell();
      t.char(43); // +
      t.fixed(f.firstSec - this.startSec + (f.firstNs - this.startNs) / 1e9, 3);
      t.char(115); // s
      t.endCell();
      t.fixed(f.durationSec, 3);
      t.char(115);
      t.endCell();
      rateCell(t, f.avgBytesPerSec);
      t.endCell();
      this.stateCell(t, h, f);
      t.endCell();
      if (showIf) {
        let first = true;
        for (let b = 0; b < 32; b++) {
          if ((f.ifaceMask & (1 << b)) === 0) continue;
          if (!first) t.char(44);
          first = false;
          t.text(b === 31 ? '(others)' : this.table.ifaceName(b));
        }
        t.endCell();
      }
    }
    const shown = handles.length;
    const summary =
      `Flows: ${c.flows}${shown < c.flows ? ` (top ${shown} by ${this.opts.sort}; --top 0 shows all)` : ` (sorted by ${this.opts.sort})`}, ` +
      `${c.packets} packets, ${c.bytes} bytes` +
      (c.innerPackets > 0 ? `, ${c.innerPackets} VXLAN inner frames` : '') +
      (c.repeats > 0 ? `, ${c.repeats} seen again on another interface (counted once)` : '') +
      (c.evicted > 0 ? `, ${c.evicted} flows EVICTED (cap ${this.table.maxFlows})` : '') +
      '\n';
    return { head: summary, table: shown === 0 ? null : t, tail: '\n' + [...this.hopLines(), ...this.problemLines()].join('\n') + '\n' };
  }

  /** Multi-point captures: delay from a packet's first sighting to a later one, per interface pair. */
  private hopLines(): string[] {
    const hops = this.table.hopLatency();
    if (hops.length === 0) return [];
    const rows = [['  FIRST SEEN ON', 'THEN ON', 'PACKETS', 'MEDIAN', 'MAX']];
    for (const h of hops) rows.push([`  ${h.from}`, h.to, String(h.packets), `${h.medianUs}µs`, `${h.maxUs}µs`]);
    return ['Hops (delay from the first sighting of a packet to a later one):', ...table(rows, [2, 3, 4]), ''];
  }

  /**
   * The problems section: every problem with --problems all; otherwise the digest, per kind the problems
   * that affected the most packets (then the earliest), with the count of the rest, in at most a screen.
   */
  private problemLines(): string[] {
    const per = this.opts.problems ?? DEFAULT_PROBLEMS_PER_KIND;
    if (per === Infinity) {
      const all: Problem[] = [];
      this.table.forEachProblem((p) => all.push(p));
      if (all.length === 0) return ['Problems: none'];
      return [`Problems (${all.length}):`, ...table(all.map((p) => this.problemRow(p)), [], false)];
    }
    const d = this.table.problemDigest(per);
    if (d.total === 0) return ['Problems: none'];
    const shown = fitDigest(d, MAX_PROBLEM_LINES - 1);
    const hidden = d.total - shown.reduce((a, b) => a + b, 0);
    let head = `Problems: ${d.total} (${d.kinds.map((k) => `${k.kind} ${k.count}`).join(', ')})`;
    if (hidden > 0) head += `; listed per kind: the most packets affected first; --problems all lists all ${d.total}`;
    const rows: string[][] = [];
    d.kinds.forEach((k, i) => {
      for (let j = 0; j < shown[i]; j++) rows.push(this.problemRow(k.top[j]));
      if (k.count > shown[i]) rows.push([`  ${k.kind}`, '', `… ${k.count - shown[i]} more`]);
    });
    return [head, ...table(rows, [], false)];
  }

  private problemRow(p: Problem): string[] {
    return [`  ${p.kind}`, p.time ? this.rel(p.time) : '', p.text];
  }

  private endpointCell(t: TextTable, h: number, side: 'a' | 'b', v4: number, port: number, family: FlowFamily): void {
    if (family === 'ipv4' || family === 'arp') t.ip4(v4);
    else if (family === 'ipv6' && port >= 0) {
      t.char(91); // [
      t.text(this.table.flowAddress(h, side));
      t.char(93); // ]
    } else t.text(this.table.flowAddress(h, side));
    if (port >= 0) {
      t.char(58); // :
      t.uint(port);
    }
    t.endCell();
  }

  /** The STATE column, as stateText() writes it for a FlowRecord. */
  private stateCell(t: TextTable, h: number, f: FlowFacts): void {
    if (f.hasIcmpErrors) {
      t.text(stateText(this.table.flowRecord(h)));
      return;
    }
    let parts = 0;
    if (f.tcpState !== null) {
      t.text(f.tcpState);
      if (f.rstBy !== null && f.tcpState === 'reset') {
        t.text(' by ');
        t.text(f.rstBy);
      }
      if (f.syns > 1) {
        t.text(' (');
        t.uint(f.syns);
        t.text(' SYNs)');
      }
      parts++;
    }
    if (f.isEcho) {
      if (parts++ > 0) t.text('; ');
      t.text('echo ');
      t.uint(f.replies);
      t.char(47);
      t.uint(f.requests);
      if (f.rttSamples > 0) t.text(` rtt ${f.rttMinMs}/${f.rttAvgMs}/${f.rttMaxMs}ms`);
    }
    if (f.isArp) {
      if (parts++ > 0) t.text('; ');
      t.text('req ');
      t.uint(f.requests);
      t.text(' rep ');
      t.uint(f.replies);
    }
  }


}

/** Collects the report's bytes (render, renderBytes). */
class CollectingSink implements ReportSink {
  readonly lines = new LineBuffer(1 << 16);
  readonly parts: Buffer[] = [];
  readonly open = true;

  commit(): void {
    if (this.lines.pending > 0) this.parts.push(Buffer.from(this.lines.take()));
  }

  write(chunk: string | Buffer): void {
    if (typeof chunk === 'string') this.lines.utf8(chunk);
    else this.lines.bytes(chunk);
  }

  waitForDrain(): undefined {
    return undefined;
  }
}

/** A number as JSON writes it (non-finite values become null). */
function jsonNumber(o: LineBuffer, x: number): void {
  if (Number.isFinite(x)) o.num(x);
  else o.ascii('null');
}

/** A count, or null when absent (-1). */
function numOrNull(o: LineBuffer, x: number): void {
  if (x < 0) o.ascii('null');
  else o.num(x);
}

/** "SEC.NNNNNNNNN", as formatTs writes it. */
function timestamp(o: LineBuffer, sec: number, ns: number): void {
  o.num(sec);
  o.byte(46);
  const hi = Math.floor(ns / 1000);
  o.sixDigits(hi);
  const lo = ns - hi * 1000;
  o.byte(48 + Math.floor(lo / 100));
  o.byte(48 + (Math.floor(lo / 10) % 10));
  o.byte(48 + (lo % 10));
}

/**
 * Problems listed per kind so that the section fits in `lines` lines: a kind takes its listed problems plus
 * one "… N more" line when some are left out; the kinds with the most listed give one up first.
 */
function fitDigest(d: ProblemDigest, lines: number): number[] {
  const shown = d.kinds.map((k) => k.top.length);
  const used = (): number => shown.reduce((a, n, i) => a + n + (d.kinds[i].count > n ? 1 : 0), 0);
  while (used() > lines) {
    let max = 0;
    for (let i = 1; i < shown.length; i++) if (shown[i] > shown[max]) max = i;
    if (shown[max] <= 1) break;
    shown[max]--;
  }
  return shown;
}

/** humanRate() written into a table cell. */
function rateCell(t: TextTable, bytesPerSec: number): void {
  const bits = bytesPerSec * 8;
  if (bits >= 1e9) {
    t.fixed(bits / 1e9, 2);
    t.text('Gb/s');
  } else if (bits >= 1e6) {
    t.fixed(bits / 1e6, 2);
    t.text('Mb/s');
  } else if (bits >= 1e3) {
    t.fixed(bits / 1e3, 1);
    t.text('kb/s');
  } else if (bits >= 0) {
    t.uint(Math.round(bits));
    t.text('b/s');
  } else {
    t.text(humanRate(bytesPerSec));
  }
}

function humanRate(bytesPerSec: number): string {
  const bits = bytesPerSec * 8;
  if (bits >= 1e9) return `${(bits / 1e9).toFixed(2)}Gb/s`;
  if (bits >= 1e6) return `${(bits / 1e6).toFixed(2)}Mb/s`;
  if (bits >= 1e3) return `${(bits / 1e3).toFixed(1)}kb/s`;
  return `${Math.round(bits)}b/s`;
}

function stateText(f: FlowRecord): string {
  const parts: string[] = [];
  if (f.tcp) {
    let s = f.tcp.state;
    if (f.tcp.rstBy && f.tcp.state === 'reset') s += ` by ${f.tcp.rstBy}`;
    if (f.tcp.synRetransmits > 0) s += ` (${f.tcp.syns} SYNs)`;
    parts.push(s);
  }
  if (f.echo) {
    const e = f.echo;
    let s = `echo ${e.replies}/${e.requests}`;
    if (e.rttSamples > 0) s += ` rtt ${e.rttMinMs}/${e.rttAvgMs}/${e.rttMaxMs}ms`;
    parts.push(s);
  }
  if (f.arp) parts.push(`req ${f.arp.requests} rep ${f.arp.replies}`);
  if (f.icmpErrors) parts.push(`${f.icmpErrors.text} from ${f.icmpErrors.from} ×${f.icmpErrors.count}`);
  return parts.join('; ');
}

/** Left-aligned columns except those in `right`; no trailing spaces; the header row is the first row. */
function table(rows: string[][], right: number[], pad = true): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => {
        if (i === r.length - 1 && !right.includes(i)) return cell;
        return right.includes(i) && pad ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
      })
      .join('  ')
      .trimEnd(),
  );
}
