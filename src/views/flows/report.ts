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
import { PacketRecord } from '../../pcap/record';
import { TextTable } from './textTable';

/** Where the report goes: BufferedWriter (src/cli/packetOutput.ts) is one. */
export interface ReportSink {
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
    let out = '';
    for (const c of this.chunks()) out += typeof c === 'string' ? c : c.toString('utf8');
    return out;
  }

  /** render() as UTF-8 bytes. */
  renderBytes(): Buffer {
    const parts: Buffer[] = [];
    for (const c of this.chunks()) parts.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : c);
    return Buffer.concat(parts);
  }

  /** Writes the report to `out` chunk by chunk, waiting while it is congested; stops when it closes. */
  async write(out: ReportSink): Promise<void> {
    for (const c of this.chunks()) {
      if (!out.open) return;
      out.write(c);
      const congested = out.waitForDrain();
      if (congested !== undefined) await congested;
    }
  }

  /** The report in bounded pieces, each made when the previous one has been taken. */
  *chunks(): Generator<string | Buffer> {
    // A finished capture has no "current" interval: rank by each flow's average rate.
    const handles = this.table.selectFlows({ sort: this.opts.sort, top: this.opts.top, rateBy: 'average' });
    if (this.opts.json) {
      yield* this.jsonChunks(handles);
      return;
    }
    const r = this.renderText(handles);
    yield r.head;
    if (r.table === null) yield NO_FLOWS;
    else for (let row = 0; row < r.table.rows; row += ROWS_PER_CHUNK) yield r.table.renderRows(row, Math.min(r.table.rows, row + ROWS_PER_CHUNK));
    yield r.tail;
  }

  /** JSON lines, one object at a time, handed over every JSON_CHUNK bytes. */
  private *jsonChunks(handles: Int32Array): Generator<string> {
    let buf = '';
    for (let i = 0; i < handles.length; i++) {
      buf += JSON.stringify({ flow: this.table.flowRecord(handles[i]) }) + '\n';
      if (buf.length >= JSON_CHUNK) {
        yield buf;
        buf = '';
      }
    }
    // Problems come one object at a time too (a 300k-flow capture can hold 80k).
    const byKind: Record<string, number> = {};
    let total = 0;
    for (const p of this.table.eachProblem()) {
      byKind[p.kind] = (byKind[p.kind] ?? 0) + 1;
      total++;
      buf += JSON.stringify({ problem: p }) + '\n';
      if (buf.length >= JSON_CHUNK) {
        yield buf;
        buf = '';
      }
    }
    const c = this.table.counters();
    buf +=
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
          problems: { total, byKind },
        },
      }) + '\n';
    yield buf;
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
      (c.evicted > 0 ? `, ${c.evicted} flows EVICTED (cap ${this.table.maxFlows})` : '') +
      '\n';
    return { head: summary, table: shown === 0 ? null : t, tail: '\n' + this.problemLines().join('\n') + '\n' };
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
