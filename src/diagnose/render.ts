/**
 * Text rendering of a DiagnoseReport: a header naming both ends and the probe, the per-hop table (what each
 * hop saw each way), the verdict with its evidence, and the counters that moved. JSON output is the report
 * object itself (docs/diagnose.md).
 */
import type { DiagnoseReport, Endpoint } from './types';
import { tracedRuleName } from './verdict';

function labelOf(r: DiagnoseReport, ns: string): string {
  return r.hops.find((h) => h.netns === ns)?.netnsLabel ?? (ns || 'host');
}

const ESC = '\x1b[';
const paint = (on: boolean, code: string, s: string): string => (on ? `${ESC}${code}m${s}${ESC}0m` : s);

function endpointText(e: Endpoint): string {
  if (e.netns === null) return `${e.ip} (held by no namespace)`;
  const name = e.ref === e.label || e.ref === e.ip ? e.label : `${e.ref} (${e.label})`;
  return `${name} ${e.iface ?? '?'} ${e.ip}${e.prefixlen !== null ? `/${e.prefixlen}` : ''}`;
}

function probeText(r: DiagnoseReport): string {
  const p = r.probe;
  const what = p.proto === 'icmp' ? `ICMP echo, ${p.size} bytes payload` : p.proto === 'tcp' ? `TCP SYN to port ${p.port}` : `UDP to port ${p.port}, ${p.size} bytes payload`;
  const id =
    p.proto === 'icmp'
      ? `echo id ${p.identity.icmpId}`
      : `source port${(p.identity.sourcePorts ?? []).length > 1 ? 's' : ''} ${(p.identity.sourcePorts ?? []).join(',')}${p.identity.tag ? `, tag ${p.identity.tag}` : ''}`;
  return `${what}${p.df ? ', DF' : ''} ×${p.count}, ${p.timeoutMs} ms timeout (${id})`;
}

function seen(n: number, total: number, captured: boolean): string {
  if (!captured) return '-';
  return `${n}/${total}`;
}

function pad(cells: string[][]): string[] {
  const widths = cells[0].map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  return cells.map((r) => r.map((x, c) => (c === r.length - 1 ? x : x.padEnd(widths[c]))).join('  ').trimEnd());
}

function latencyText(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us} µs`;
}

export interface RenderOptions {
  color?: boolean;
}

/** The human-readable report. */
export function renderReport(r: DiagnoseReport, opts: RenderOptions = {}): string {
  const color = opts.color === true;
  const lines: string[] = [];
  lines.push(`diagnose ${endpointText(r.from)} → ${endpointText(r.to)}`);
  lines.push(`probe    ${probeText(r)}`);
  lines.push('');
  const total = r.result.sent;
  const rows: string[][] = [['#', 'NAMESPACE', 'INTERFACE', 'ROLE', 'LINK', 'MTU', 'REQUEST →', '← REPLY', '+LATENCY', 'NOTES']];
  for (const h of r.hops) {
    const o = h.observed;
    const link = !h.up ? 'admin-down' : h.state === 'UP' || h.state === 'UNKNOWN' ? 'up' : h.state.toLowerCase();
    const notes: string[] = [];
    if (h.replyOnly) notes.push('reply path only');
    if (o.arpRequests > 0 || o.arpReplies > 0) notes.push(`arp ${o.arpRequests} req/${o.arpReplies} reply`);
    for (const e of o.errors) notes.push(`${e.kind} from ${e.from}${e.mtu !== undefined ? ` mtu ${e.mtu}` : ''} ×${e.count}`);
    if (!o.captured && o.note) notes.push(`not captured: ${o.note}`);
    const marker = r.verdict.hop === h.index && !r.verdict.connected ? '✗' : ' ';
    rows.push([
      `${marker}${h.index}`,
      h.netnsLabel,
      h.iface + (h.master ? ` (${h.master})` : ''),
      h.role,
      link,
      String(h.mtu),
      h.replyOnly ? '' : seen(o.request, total, o.captured),
      seen(o.reply, total, o.captured),
      o.addedUs === undefined ? '' : `${r.verdict.slowHop === h.index ? '!' : ''}${latencyText(o.addedUs)}`,
      notes.join('; '),
    ]);
  }
  if (r.hops.length === 0) lines.push('(no hop: the probe cannot leave FROM)');
  else lines.push(...pad(rows).map((l, i) => (i === 0 ? paint(color, '1', l) : l)));
  lines.push('');
  const v = r.verdict;
  if (v.connected) {
    lines.push(paint(color, '32;1', `verdict  OK — ${v.summary}`));
  } else {
    const where = v.hop !== null ? ` at hop ${v.hop}` : '';
    const dir = v.direction === 'reply' ? ' (reply direction)' : '';
    lines.push(paint(color, '31;1', `verdict  NOT CONNECTED${where}${dir} — ${v.cause}`));
    lines.push(`         ${v.summary}`);
  }
  if (v.evidence.length > 0) {
    lines.push('evidence');
    for (const e of v.evidence) lines.push(`  - ${e}`);
  }
  const moved = r.counters.rules;
  if (moved.length > 0) {
    lines.push('rule counters that moved during the probe');
    for (const x of moved) {
      const where = x.position === 0 ? `policy` : `#${x.position}`;
      lines.push(`  ${x.netnsLabel}  ${x.backend} ${x.table} ${x.chain} ${where}  +${x.dPackets} pkts  ${x.target || '-'}  ${x.text}`);
    }
  }
  const t = r.trace;
  if (t.method === 'nftrace') {
    const legacy = t.legacy.length > 0 ? `; iptables-legacy rules in ${t.legacy.map((ns) => labelOf(r, ns)).join(', ')} read by counters (tracing cannot see them)` : '';
    lines.push(`nft trace in ${t.traced.length}/${t.traced.length + t.failed.length} namespaces${legacy}`);
    for (const d of t.drops) lines.push(`  ${d.netnsLabel}  ${d.direction}  ${tracedRuleName(d)}  verdict ${d.verdict} ×${d.packets}`);
  }
  if (r.capture.length > 0) {
    const sum = (f: (c: (typeof r.capture)[number]) => number | null): number => r.capture.reduce((a, c) => a + (f(c) ?? 0), 0);
    lines.push(
      `capture  ${r.capture.length} hops: ${sum((c) => c.captured)} packets captured, ${sum((c) => c.droppedByKernel)} dropped by kernel, ` +
        `${sum((c) => c.droppedByInterface)} dropped by interface, ${sum((c) => c.droppedByNetscope)} dropped by netscope`,
    );
  }
  for (const w of r.warnings) lines.push(`warning  ${w}`);
  return `${lines.join('\n')}\n`;
}
