/**
 * `netscope read --flows`: a FlowTable fed from a whole capture, rendered once at the end as a text table with
 * a problems section, or as JSON lines ({"flow":…} per flow, {"problem":…} per problem, one {"summary":…}).
 */
import { PacketView } from '../decode/view';
import { PacketRecord } from '../pcap/record';
import { FlowFacts, FlowFamily, FlowRecord, FlowSort, FlowTable } from './flows';
import { TextTable } from './textTable';
import { Problem } from './problems';

export interface FlowReportOptions {
  sort: FlowSort;
  /** Show only the first N flows after sorting; 0 = all. */
  top: number;
  json: boolean;
  /** Hard cap on flows held (evictions are reported); default 1,000,000. */
  maxFlows?: number;
  rateIntervalSec?: number;
}

const NO_FLOWS = 'No flows.\n';

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

  render(): string {
    // A finished capture has no "current" interval: rank by each flow's average rate.
    const select = { sort: this.opts.sort, top: this.opts.top, rateBy: 'average' } as const;
    if (!this.opts.json) {
      const r = this.renderText(this.table.selectFlows(select), this.table.problems());
      return r.head + (r.table === null ? NO_FLOWS : this.tableText(r.table.render(), r.table.asciiFrom(1))) + r.tail;
    }
    // One flow object at a time, turned into its line at once: only the lines outlive the loop.
    const handles = this.table.selectFlows(select);
    const lines: string[] = [];
    for (let i = 0; i < handles.length; i++) lines.push(JSON.stringify({ flow: this.table.flowRecord(handles[i]) }));
    for (const p of this.table.problems()) lines.push(JSON.stringify({ problem: p }));
    const c = this.table.counters();
    lines.push(
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
        },
      }),
    );
    return lines.join('\n') + '\n';
  }

  /**
   * render() as UTF-8 bytes, for writers that take a Buffer: the flow table is already bytes, so a 100k-flow
   * report skips building one 13 MB string (two-byte, because of the arrows) and encoding it back (~40 ms).
   */
  renderBytes(): Buffer {
    if (this.opts.json) return Buffer.from(this.render(), 'utf8');
    const r = this.renderText(this.table.selectFlows({ sort: this.opts.sort, top: this.opts.top, rateBy: 'average' }), this.table.problems());
    if (r.table === null) return Buffer.from(r.head + NO_FLOWS + r.tail, 'utf8');
    // The summary line and the problems are laid out around the rows in the table's one output buffer.
    return r.table.render(Buffer.from(r.head, 'utf8'), Buffer.from(r.tail, 'utf8'));
  }

  private rel(ts: string): string {
    if (this.startSec < 0) return '';
    const dot = ts.indexOf('.');
    const sec = Number(ts.slice(0, dot)) - this.startSec;
    const ns = Number(ts.slice(dot + 1)) - this.startNs;
    return `+${(sec + ns / 1e9).toFixed(3)}s`;
  }

  /** The text report in three parts: the summary line, the flow table (not laid out yet; null when empty), the problems. */
  private renderText(handles: Int32Array, problems: Problem[]): { head: string; table: TextTable | null; tail: string } {
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
    const out: string[] = [''];
    if (problems.length === 0) {
      out.push('Problems: none');
    } else {
      out.push(`Problems (${problems.length}):`);
      const prow = problems.map((p) => [`  ${p.kind}`, p.time ? this.rel(p.time) : '', p.text]);
      out.push(...table(prow, [], false));
    }
    return { head: summary, table: shown === 0 ? null : t, tail: out.join('\n') + '\n' };
  }

  /** Text of the rendered flow table bytes. */
  private tableText(bytes: Buffer, ascii: boolean): string {
    // Decoding 10+ MB as UTF-8 costs more than the rest of the render: below the header, rows are usually
    // ASCII and become a one-byte string by a plain copy.
    const nl = bytes.indexOf(10);
    return ascii ? bytes.toString('utf8', 0, nl) + bytes.toString('latin1', nl) : bytes.toString('utf8');
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
