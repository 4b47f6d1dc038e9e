/**
 * Converts what the shared engines produce (flow snapshots, rule deltas, FDB entries, discovered topology) into
 * the model's plain inputs. Pure functions: the dashboard reuses the CLI's engines and only decides here what a
 * row shows (badges, state words, which lines of the tree are highlighted).
 */
import type { FlowRecord, FlowSnapshot } from '../analysis/flows';
import type { MacEntry } from '../analysis/mac';
import { PROBLEM_ORDER, type Problem } from '../analysis/problems';
import type { RuleDelta } from '../host/rules';
import { bridgePorts, type IfInfo, type Topology } from '../topology/discover';
import { ownerOf } from '../topology/ownership';
import { renderTree } from '../topology/tree';
import type { FlowBadge, FlowInfo, MacMove, ProblemGroup, RuleRow, TopologyLine, WireMac } from './rows';

/** A SYN or echo request younger than this is in flight, not failed. */
export const IN_FLIGHT_SEC = 1;

/** "SEC.NNNNNNNNN" → seconds as a number (precision to the microsecond is plenty for ages). */
export function tsSeconds(ts: string): number {
  const dot = ts.indexOf('.');
  if (dot < 0) return Number(ts);
  return Number(ts.slice(0, dot)) + Number(ts.slice(dot + 1, dot + 7).padEnd(6, '0')) / 1e6;
}

function endpoint(addr: string, port: number | null, family: string): string {
  if (port === null) return addr;
  return family === 'ipv6' ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** State words and problem badges of one flow, judged at `nowSec` (so in-flight requests are not failures). */
export function flowBadges(f: FlowRecord, nowSec: number): { state: string; badges: FlowBadge[] } {
  const badges: FlowBadge[] = [];
  const idle = nowSec - tsSeconds(f.last);
  let state = '';
  if (f.tcp) {
    const t = f.tcp;
    state = t.state;
    if (t.state === 'refused') badges.push({ text: 'REFUSED', severity: 'bad' });
    else if (t.syns > 0 && !t.synAck && (t.synRetransmits > 0 || idle >= IN_FLIGHT_SEC)) badges.push({ text: 'FAIL', severity: 'bad' });
    else if (t.rstBy !== null) badges.push({ text: 'RST', severity: 'warn' });
    if (t.synRetransmits > 0 && t.synAck) badges.push({ text: `SYN×${t.syns}`, severity: 'warn' });
  } else if (f.echo) {
    const e = f.echo;
    state = `echo ${e.replies}/${e.requests}`;
    if (e.unanswered > 1 || (e.unanswered === 1 && idle >= IN_FLIGHT_SEC)) badges.push({ text: 'NOREPLY', severity: 'bad' });
  } else if (f.arp) {
    state = `arp ${f.arp.replies}/${f.arp.requests}`;
    if (f.arp.requests > 0 && f.arp.replies === 0 && (f.arp.requests > 1 || idle >= IN_FLIGHT_SEC)) badges.push({ text: 'ARP?', severity: 'bad' });
  }
  if (f.icmpErrors) badges.push({ text: f.icmpErrors.type === 3 && f.icmpErrors.code === 3 ? 'PORT-UNREACH' : 'ICMP-ERR', severity: 'bad' });
  return { state, badges };
}

export function flowInfo(f: FlowRecord, nowSec: number, problems: Problem[] = []): FlowInfo {
  const { state, badges } = flowBadges(f, nowSec);
  const notes: string[] = [];
  if (f.vni !== null) notes.push(`inside VXLAN vni ${f.vni}`);
  if (f.echo && f.echo.rttSamples > 0) {
    notes.push(`rtt min/avg/max ${f.echo.rttMinMs}/${f.echo.rttAvgMs}/${f.echo.rttMaxMs} ms (${f.echo.rttSamples} replies)`);
  }
  if (f.tcp && f.tcp.synRetransmits > 0) notes.push(`${f.tcp.synRetransmits} SYN retransmission(s)`);
  if (f.tcp && f.tcp.rstBy !== null) notes.push(`reset by the ${f.tcp.rstBy === 'a' ? 'initiator' : 'responder'}`);
  if (f.icmpErrors) notes.push(`ICMP from ${f.icmpErrors.from}: ${f.icmpErrors.text} (${f.icmpErrors.count}×)`);
  for (const p of problems) notes.push(`problem: ${p.text}`);
  return {
    key: f.key,
    proto: f.proto,
    a: endpoint(f.a, f.aPort, f.family),
    b: endpoint(f.b, f.bPort, f.family) + (f.echoId !== null ? ` id ${f.echoId}` : ''),
    packetsAB: f.packetsAB,
    packetsBA: f.packetsBA,
    bytesAB: f.bytesAB,
    bytesBA: f.bytesBA,
    bytesPerSec: f.rateBytesPerSec,
    firstSec: tsSeconds(f.first),
    lastSec: tsSeconds(f.last),
    state,
    badges,
    ifaces: f.ifaces,
    notes,
  };
}

/** Rows for the flows pane from a FlowTable snapshot (already sorted/cut by the engine). */
export function flowsFromSnapshot(snap: FlowSnapshot, nowSec: number): { flows: FlowInfo[]; total: number; note: string } {
  const byFlow = new Map<string, Problem[]>();
  for (const p of snap.problems) {
    if (p.flow === null) continue;
    const list = byFlow.get(p.flow);
    if (list) list.push(p);
    else byFlow.set(p.flow, [p]);
  }
  const flows = snap.flows.map((f) => flowInfo(f, nowSec, byFlow.get(f.key)));
  const notes: string[] = [];
  if (snap.counters.evicted > 0) notes.push(`${snap.counters.evicted} evicted`);
  if (snap.counters.flows > snap.flows.length) notes.push(`top ${snap.flows.length} shown`);
  return { flows, total: snap.counters.flows, note: notes.join(', ') };
}

/**
 * The problems pane's groups: per kind (in PROBLEM_ORDER) the count and the first `perKind` problems' lines.
 * Stands in for the analysis engine's problem digest (count and most significant few per kind, computed from
 * numbers); once FlowTable has problemDigest(), its kinds map one to one: { kind, count, top: top.map(p => p.text) }.
 */
export function problemGroups(problems: Problem[], perKind = 3): ProblemGroup[] {
  const byKind = new Map<string, ProblemGroup>();
  for (const p of problems) {
    const g = byKind.get(p.kind);
    if (!g) byKind.set(p.kind, { kind: p.kind, count: 1, top: [p.text] });
    else {
      g.count++;
      if (g.top.length < perKind) g.top.push(p.text);
    }
  }
  const rank = (k: string): number => {
    const i = PROBLEM_ORDER.indexOf(k as Problem['kind']);
    return i < 0 ? PROBLEM_ORDER.length : i;
  };
  return [...byKind.values()].sort((x, y) => rank(x.kind) - rank(y.kind));
}

/**
 * MACs seen on the wire, and moves since the previous call (MacEntry.moves grew: the MAC now shows up on
 * another interface/VLAN than before).
 */
export class WireMacTracker {
  private last = new Map<string, { iface: string; moves: number }>();

  update(entries: MacEntry[]): { macs: WireMac[]; moved: MacMove[] } {
    const moved: MacMove[] = [];
    const next = new Map<string, { iface: string; moves: number }>();
    const macs: WireMac[] = [];
    for (const e of entries) {
      const where = e.vni !== null ? `${e.iface} vni ${e.vni}` : e.vlan !== null ? `${e.iface} vlan ${e.vlan}` : e.iface;
      const prev = this.last.get(e.mac);
      if (prev && e.moves > prev.moves && prev.iface !== where) moved.push({ mac: e.mac, from: prev.iface, to: where });
      next.set(e.mac, { iface: where, moves: e.moves });
      macs.push({ mac: e.mac, iface: where, vlan: e.vlan ?? undefined, lastSec: tsSeconds(e.lastSeen), ips: [] });
    }
    this.last = next;
    return { macs, moved };
  }
}

const COMMENT_MATCH = /\s*-m comment --comment (?:"(?:[^"\\]|\\.)*"|\S+)/;

/**
 * The rule as shown: iptables' `-m comment --comment …` moves to the end as "# …" (and a topology's ownership
 * marker "netscope:<name> #hash" is dropped): in a narrow pane the match and the verdict matter more.
 */
export function ruleText(d: RuleDelta): string {
  if (d.backend === 'nft' || !COMMENT_MATCH.test(d.text)) return d.text;
  const text = d.text.replace(COMMENT_MATCH, '').trim();
  const c = d.comment;
  return c !== undefined && ownerOf(c) === undefined && d.service === undefined ? `${text}  # ${c}` : text;
}

/** Rule rows: only rules the kernel counts (uncounted nft rules never move). */
export function ruleRows(deltas: RuleDelta[]): RuleRow[] {
  return deltas
    .filter((d) => d.counted)
    .map((d) => ({
      key: d.key,
      backend: d.backend,
      table: d.backend === 'nft' ? d.table : d.backend.startsWith('ip6') ? `ip6 ${d.table}` : d.table,
      chain: d.chain,
      position: d.position,
      text: ruleText(d),
      target: d.target,
      packets: d.packets,
      bytes: d.bytes,
      dPackets: d.dPackets,
      dBytes: d.dBytes,
      pps: d.pps,
      hitDrop: d.hitDrop,
      service: d.service,
    }));
}

/**
 * The topology pane: the bridge's tree from the shared renderer (bridge → ports → veth peers → namespaces
 * with addresses, taps), limited to the watched bridge's namespace; links that are down are marked.
 */
export function topologyLines(topo: Topology, bridge: IfInfo): TopologyLine[] {
  // renderTree draws every namespace that has a bridge of this name; keep only the watched one.
  // Aliases are ownership markers ("netscope:<topology>") or notes: noise in a small pane.
  const only: Topology = {
    ...topo,
    namespaces: topo.namespaces.filter((n) => n.id === bridge.netns),
    interfaces: topo.interfaces.map((i) => (i.alias === undefined ? i : { ...i, alias: undefined })),
  };
  const text = renderTree(only, { bridge: bridge.name }).trimEnd();
  const lines: TopologyLine[] = text.split('\n').map((t) => {
    if (/\b(DOWN|LOWERLAYERDOWN)\b|admin down|not found/.test(t)) return { text: t, severity: 'bad' };
    return { text: t };
  });
  const ports = bridgePorts(topo, bridge);
  const down = ports.filter((p) => !p.up || p.state === 'DOWN' || p.state === 'LOWERLAYERDOWN').length;
  lines.push({
    text: `${ports.length} port(s), ${down} down${bridge.up ? '' : '; the bridge itself is down'}`,
    severity: down > 0 || !bridge.up ? 'warn' : undefined,
  });
  return lines;
}
