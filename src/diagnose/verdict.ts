/**
 * The verdict: connected or not, and if not, where traffic stopped and why, with the evidence. Pure: combines
 * what the configuration says (the path trace), what the probes reported, what every hop captured, and which
 * counters moved. Order of reasoning: a firewall rule that counted the probes is the most direct evidence; then
 * a local error of the sender; then the configuration problem found on the path; then what came back (ICMP
 * errors, resets); then unanswered ARP; else the last hop that saw the traffic.
 */
import { isDropTarget } from '../host/rules';
import type { ArpExchange, Endpoint, Hop, HopObservation, IfaceDelta, NeighbourState, PathIssue, ProbeProto, ProbeResult, RuleHit, TracedDrop, Verdict } from './types';

export interface VerdictInput {
  from: Endpoint;
  to: Endpoint;
  proto: ProbeProto;
  port: number | null;
  hops: Hop[];
  observed: HopObservation[];
  /** The first configuration problem on the request or reply path. */
  issue?: PathIssue;
  result: ProbeResult;
  rules: RuleHit[];
  /** A neighbour (ARP) fault on the path: wrong MAC in a neighbour entry, duplicate address. */
  neighbourIssue?: PathIssue;
  /** Drops nftables tracing saw (rule-exact, with or without counters). */
  traced?: TracedDrop[];
  arp: ArpExchange[];
  neighbours: NeighbourState[];
  nextHops: Array<{ netns: string; ip: string; dev: string }>;
  interfaces: IfaceDelta[];
}

function hopName(h: Hop): string {
  return `${h.netnsLabel} ${h.iface}`;
}

function probeWord(proto: ProbeProto, port: number | null): string {
  return proto === 'icmp' ? 'echo requests' : proto === 'tcp' ? `TCP SYNs to port ${port}` : `UDP datagrams to port ${port}`;
}

function replyWord(proto: ProbeProto): string {
  return proto === 'icmp' ? 'echo replies' : proto === 'tcp' ? 'SYN-ACKs' : 'UDP replies';
}

/** Where the probes were seen and where they went missing, both ways, as evidence lines. */
export function traceEvidence(input: Pick<VerdictInput, 'hops' | 'observed' | 'proto' | 'port' | 'result'>): string[] {
  const { hops, observed } = input;
  const total = input.result.sent;
  const captured = hops.map((h, i) => ({ h, o: observed[i] })).filter((x) => x.o?.captured && !x.h.replyOnly);
  if (captured.length === 0) return ['no hop could be captured'];
  const seen = captured.filter((x) => x.o.request > 0);
  const lines: string[] = [];
  const req = probeWord(input.proto, input.port);
  if (seen.length === 0) {
    lines.push(`${req}: seen on no hop (${captured.length} captured)`);
  } else {
    const last = seen[seen.length - 1];
    const missing = captured.find((x) => x.h.index > last.h.index && x.o.request === 0);
    lines.push(`${req}: seen up to hop ${last.h.index} (${hopName(last.h)}, ${last.o.request}/${total})${missing ? `, not at hop ${missing.h.index} (${hopName(missing.h)})` : ''}`);
  }
  const rep = captured.filter((x) => x.o.reply > 0);
  if (rep.length > 0) {
    const back = rep[0];
    lines.push(`${replyWord(input.proto)}: seen back to hop ${back.h.index} (${hopName(back.h)}, ${back.o.reply}/${total})`);
  } else if (seen.length > 0) {
    lines.push(`${replyWord(input.proto)}: none seen on any hop`);
  }
  return lines;
}

function ruleText(r: RuleHit): string {
  const where = r.position === 0 ? `policy ${r.target}` : `rule ${r.position}`;
  return `${r.backend} ${r.backend === 'nft' ? `${r.family} ${r.table}` : r.table} ${r.chain} ${where} in ${r.netnsLabel}: "${r.text}"`;
}

/** How a traced drop is named: iptables-nft rules the way iptables shows them, nft rules by handle. */
export function tracedRuleName(d: TracedDrop): string {
  if (d.policy) return `${d.backend === 'nft' ? `nft ${d.family} ${d.table}` : `${d.backend} ${d.table}`} ${d.chain} policy ${d.verdict.toUpperCase()}`;
  if (d.backend !== 'nft' && d.iptables) return `${d.backend} ${d.table} ${d.chain} rule ${d.iptables.position} (nft handle ${d.handle ?? '?'}): "${d.iptables.text}"`;
  return `${d.backend === 'nft' ? 'nft' : d.backend} ${d.family} ${d.table} ${d.chain} rule handle ${d.handle ?? '?'}: "${d.text}"`;
}

/** The command that shows (or removes) the rule in its namespace. */
function tracedFix(d: TracedDrop): string {
  const ns = d.netns === '' ? '' : `ip netns exec ${d.netns} `;
  if (d.policy) return d.backend === 'nft' ? `${ns}nft list chain ${d.family} ${d.table} ${d.chain} (policy ${d.verdict}: add an accept rule for this traffic or change the policy)` : `${ns}${d.backend.replace('-nft', '')} -t ${d.table} -P ${d.chain} ACCEPT, or add an ACCEPT rule for this traffic`;
  if (d.backend !== 'nft' && d.iptables) return `${ns}${d.backend.replace('-nft', '')} -t ${d.table} -D ${d.chain} ${d.iptables.position} removes it (or narrow its match)`;
  return `${ns}nft delete rule ${d.family} ${d.table} ${d.chain} handle ${d.handle ?? '?'} removes it (or narrow its match)`;
}

function tracedHop(input: VerdictInput, d: TracedDrop): Hop | undefined {
  if (d.direction === 'reply') return firstReplyInNs(input, d.netns);
  const byIif = d.iif !== undefined ? input.hops.find((h) => h.netns === d.netns && h.iface === d.iif && h.role !== 'bridge' && !h.replyOnly) : undefined;
  return byIif ?? lastSeenInNs(input, d.netns);
}

function lastSeenInNs(input: VerdictInput, netns: string): Hop | undefined {
  const inNs = input.hops.filter((h) => h.netns === netns);
  const seen = inNs.filter((h) => (input.observed[h.index - 1]?.request ?? 0) > 0);
  return seen[seen.length - 1] ?? inNs[0];
}

/** On the way back, the hop of `netns` closest to FROM that still saw the replies (else its last hop). */
function firstReplyInNs(input: VerdictInput, netns: string): Hop | undefined {
  const inNs = input.hops.filter((h) => h.netns === netns && !h.replyOnly);
  return inNs.find((h) => (input.observed[h.index - 1]?.reply ?? 0) > 0) ?? inNs[inNs.length - 1];
}

function destinationHop(input: VerdictInput): Hop | undefined {
  return input.hops.find((h) => h.role === 'destination' && !h.replyOnly);
}

function lastRequestHop(input: VerdictInput): Hop | undefined {
  const seen = input.hops.filter((h) => !h.replyOnly && (input.observed[h.index - 1]?.request ?? 0) > 0);
  return seen[seen.length - 1];
}

/** Observed errors as evidence lines, one per kind and sender (with the hops that saw it). */
function errorLines(input: VerdictInput): string[] {
  const byKey = new Map<string, { kind: string; from: string; mtu?: number; count: number; hops: number[] }>();
  for (const e of errorsSeen(input)) {
    const k = `${e.kind}|${e.from}`;
    const g = byKey.get(k) ?? { kind: e.kind, from: e.from, mtu: e.mtu, count: 0, hops: [] };
    g.count = Math.max(g.count, e.count);
    g.hops.push(e.hop.index);
    byKey.set(k, g);
  }
  return [...byKey.values()].map((g) => `${g.kind} from ${g.from}${g.mtu !== undefined ? ` (next-hop MTU ${g.mtu})` : ''} ×${g.count}, seen at hop${g.hops.length > 1 ? 's' : ''} ${g.hops.join(', ')}`);
}

function errorsSeen(input: VerdictInput): Array<{ hop: Hop; kind: string; from: string; mtu?: number; count: number }> {
  const out: Array<{ hop: Hop; kind: string; from: string; mtu?: number; count: number }> = [];
  input.hops.forEach((h, i) => {
    for (const e of input.observed[i]?.errors ?? []) out.push({ hop: h, ...e });
  });
  return out;
}

function dropEvidence(input: VerdictInput): string[] {
  const lines: string[] = [];
  for (const d of input.interfaces) {
    if (d.rxDropped > 0 || d.txDropped > 0) lines.push(`interface ${d.netns || 'host'} ${d.iface}: rx_dropped +${d.rxDropped}, tx_dropped +${d.txDropped} during the probe`);
  }
  return lines;
}

function connected(input: VerdictInput): { ok: boolean; how: string } {
  const { result } = input;
  const total = result.sent;
  const src = input.observed[0];
  if (input.proto === 'icmp') {
    const answered = Math.max(result.answered, src?.captured ? src.reply : 0);
    return { ok: answered > 0, how: `${answered}/${total} echo replies` };
  }
  if (input.proto === 'tcp') return { ok: result.answered > 0, how: `${result.answered}/${total} connections established (SYN → SYN-ACK)` };
  if (result.answered > 0) return { ok: true, how: `${result.answered}/${total} UDP replies` };
  const dst = destinationHop(input);
  const dstObs = dst ? input.observed[dst.index - 1] : undefined;
  const drops = input.rules.some((r) => isDropTarget(r.target));
  const errors = errorsSeen(input).length > 0;
  if (result.refused === 0 && !errors && !drops && dstObs?.captured && dstObs.request > 0) {
    return { ok: true, how: `${dstObs.request}/${total} UDP datagrams delivered to ${dst ? hopName(dst) : 'TO'} with no ICMP error (UDP has no handshake; nothing answered)` };
  }
  return { ok: false, how: '' };
}

/** A hop adds "too much" above this many µs and more than SLOW_FACTOR × the median of the other hops. */
export const SLOW_HOP_US = 5000;
const SLOW_FACTOR = 10;

function slowHopIndex(input: VerdictInput): number | undefined {
  const lat = input.observed.map((o, i) => ({ i, us: o?.addedUs })).filter((x): x is { i: number; us: number } => x.us !== undefined);
  if (lat.length === 0) return undefined;
  const worst = lat.reduce((a, b) => (b.us > a.us ? b : a));
  const others = lat.filter((x) => x !== worst).map((x) => x.us).sort((a, b) => a - b);
  const typical = others.length > 0 ? others[Math.floor((others.length - 1) / 2)] : 0;
  return worst.us > SLOW_HOP_US && worst.us > SLOW_FACTOR * Math.max(typical, 1) ? input.hops[worst.i]?.index : undefined;
}

/** An evidence line for a hop that adds far more latency than the others. */
function slowHops(input: VerdictInput): string[] {
  const idx = slowHopIndex(input);
  if (idx === undefined) return [];
  const h = input.hops[idx - 1];
  const us = input.observed[idx - 1]?.addedUs ?? 0;
  return [`slow hop: ${hopName(h)} (hop ${idx}) adds ${(us / 1000).toFixed(1)} ms per probe (median), far more than the other hops`];
}

/** Decides the verdict; see the module comment for the order of reasoning. */
export function decideVerdict(input: VerdictInput): Verdict {
  const trace = traceEvidence(input);
  const c = connected(input);
  const slow = slowHops(input);
  if (c.ok) {
    const notes = [input.issue, input.neighbourIssue].filter((x): x is PathIssue => x !== undefined).map((x) => `note: ${x.summary}`);
    return { connected: true, cause: null, hop: null, direction: null, summary: `connected: ${c.how}`, evidence: [...trace, ...notes, ...slow], ...(slow.length > 0 ? { slowHop: slowHopIndex(input) } : {}) };
  }
  const not = (cause: Verdict['cause'], hop: Hop | number | null | undefined, direction: 'request' | 'reply', summary: string, evidence: string[]): Verdict => ({
    connected: false,
    cause,
    hop: hop === undefined || hop === null ? null : typeof hop === 'number' ? hop : hop.index,
    direction,
    summary,
    evidence,
  });

  // 0. A rule or policy that nftables tracing saw drop the probes: the exact rule, counter or not.
  const traced = [...(input.traced ?? [])].sort((a, b) => (a.direction === b.direction ? 0 : a.direction === 'request' ? -1 : 1));
  if (traced.length > 0) {
    const d = traced[0];
    const hop = tracedHop(input, d);
    const what = d.direction === 'request' ? 'probes' : 'replies';
    const name = d.policy ? `the ${d.verdict.toUpperCase()} policy of ${d.table} ${d.chain}` : `${d.backend === 'nft' ? 'nft' : d.backend} rule ${d.backend !== 'nft' && d.iptables ? `${d.table} ${d.chain} #${d.iptables.position}` : `${d.family} ${d.table} ${d.chain} handle ${d.handle ?? '?'}`}`;
    const counted = input.rules.filter((r) => isDropTarget(r.target));
    // kube-proxy rejects connections to a Service that has no endpoints (iptables: a REJECT commented
    // "NS/NAME:PORT has no endpoints"; nftables mode: its no-endpoint-services map).
    const svc = /"([^"]+?) has no endpoints"/.exec(d.iptables?.text ?? '')?.[1] ?? /comment "([^"]+?) has no endpoints"/.exec(d.text)?.[1];
    if (svc !== undefined || /no-endpoint/.test(`${d.chain} ${d.text}`)) {
      const name = svc ?? 'the Service';
      return not('service-no-endpoints', hop, d.direction, `Service ${name} has no endpoints: kube-proxy rejects connections to ${input.to.ip}${input.port !== null ? `:${input.port}` : ''} in ${d.netnsLabel}`, [
        `nft trace in ${d.netnsLabel}: ${tracedRuleName(d)} gave verdict ${d.verdict} to ${d.probes}/${input.result.sent} probes`,
        `fix: give the Service ready endpoints — check its selector matches running, Ready pods (kubectl get endpointslices -l kubernetes.io/service-name=${svc?.split(/[/:]/)[1] ?? 'NAME'}${svc?.includes('/') ? ` -n ${svc.split('/')[0]}` : ''})`,
        ...counted.map((x) => `counter: ${ruleText(x)} +${x.dPackets} packets`),
        ...trace,
        ...errorLines(input),
      ]);
    }
    return not('firewall', hop, d.direction, `firewall: ${name} in ${d.netnsLabel} drops the ${what}`, [
      `nft trace in ${d.netnsLabel}: ${tracedRuleName(d)} gave verdict ${d.verdict} to ${d.probes}/${input.result.sent} ${what}${d.packets !== d.probes ? ` (${d.packets} packets with retransmissions)` : ''}${d.iif ? ` (iif ${d.iif}${d.oif ? `, oif ${d.oif}` : ''})` : ''}`,
      ...(d.backend !== 'nft' && d.iptables ? [`as nft prints it: ${d.family} ${d.table} ${d.chain} handle ${d.handle ?? '?'} "${d.text}"`] : []),
      `fix: ${tracedFix(d)}`,
      ...traced.slice(1).map((x) => `also traced: ${tracedRuleName(x)} in ${x.netnsLabel} (${x.direction}, ${x.packets} packets)`),
      ...counted.map((x) => `counter: ${ruleText(x)} +${x.dPackets} packets`),
      ...trace,
      ...errorLines(input),
    ]);
  }

  // 1. A DROP/REJECT rule that counted packets during the probe.
  const drops = input.rules.filter((r) => isDropTarget(r.target));
  if (drops.length > 0) {
    const r = drops[0];
    const dst = destinationHop(input);
    const dstObs = dst ? input.observed[dst.index - 1] : undefined;
    const reachedDst = (dstObs?.request ?? 0) > 0;
    // The replies were sent (seen leaving TO) or TO's own OUTPUT chain dropped them: the reply direction.
    const direction = reachedDst && ((dstObs?.reply ?? 0) > 0 || (r.netns === input.to.netns && r.chain === 'OUTPUT')) ? 'reply' : 'request';
    const hop = direction === 'reply' ? firstReplyInNs(input, r.netns) : lastSeenInNs(input, r.netns);
    const bounced = errorLines(input);
    return not('firewall', hop, direction, `firewall: ${r.target} ${r.position === 0 ? 'policy' : 'rule'} in ${r.netnsLabel} (${r.table} ${r.chain}) drops the ${direction === 'request' ? 'probes' : 'replies'}`, [
      `${ruleText(r)} counted +${r.dPackets} packets (${r.dBytes} bytes) during the probe`,
      ...(r.backend.endsWith('-legacy') ? [`method: rule counters (iptables-legacy rules are invisible to nftables tracing)`] : []),
      ...drops.slice(1).map((x) => `also: ${ruleText(x)} +${x.dPackets} packets`),
      ...trace,
      ...bounced,
    ]);
  }

  // 2. The sender could not even send.
  const local = input.result.localError;
  if (local !== undefined) {
    // A router's "fragmentation needed" teaches the sender the path MTU: its next probe fails locally, but
    // the place to fix is the one the path trace found.
    if (/too long|EMSGSIZE/i.test(local) && input.issue?.cause === 'mtu') {
      return not('mtu', input.issue.hop, input.issue.direction, input.issue.summary, [...input.issue.evidence, ...trace, ...errorLines(input), `the probe tool reported: ${local}`]);
    }
    if (/too long|EMSGSIZE/i.test(local)) {
      const src = input.hops[0];
      return not('mtu', src ?? null, 'request', `MTU too small at the sender: ${local}`, [
        `the probe tool reported: ${local}`,
        ...(input.issue?.cause === 'mtu' ? input.issue.evidence : src ? [`${hopName(src)} has MTU ${src.mtu}`] : []),
      ]);
    }
    if (/unreachable|ENETUNREACH/i.test(local) && input.issue && (input.issue.cause === 'no-route' || input.issue.cause === 'link-down' || input.issue.cause === 'subnet-mismatch')) {
      return not(input.issue.cause, input.issue.hop, input.issue.direction, input.issue.summary, [...input.issue.evidence, `the probe tool reported: ${local}`]);
    }
    if (/unreachable|ENETUNREACH/i.test(local)) {
      return not('no-route', null, 'request', `no route from ${input.from.label} to ${input.to.ip}`, [`the probe tool reported: ${local}`]);
    }
    if (/EPERM|EACCES|not permitted/i.test(local)) {
      return not('firewall', input.hops[0] ?? null, 'request', `firewall: the sender's own namespace refuses to send (${local})`, [`the probe tool reported: ${local}`, 'an OUTPUT rule in FROM rejects the probes (its counter did not show: see warnings)']);
    }
  }

  // 3. The configuration problem the path trace found.
  if (input.issue) {
    const extra: string[] = errorLines(input);
    for (const a of input.arp) if (a.requests > 0 && a.replies === 0) extra.push(`ARP who-has ${a.target} tell ${a.asker}: ${a.requests} requests, no reply (seen at hops ${a.seenAt.join(', ')})`);
    for (const n of input.neighbours) if (n.state.some((s) => s === 'FAILED' || s === 'INCOMPLETE')) extra.push(`neighbour ${n.ip} dev ${n.dev} in ${n.netns || 'host'}: ${n.state.join(' ')}`);
    if (local !== undefined) extra.push(`the probe tool reported: ${local}`);
    return not(input.issue.cause, input.issue.hop, input.issue.direction, input.issue.summary, [...input.issue.evidence, ...trace, ...extra, ...dropEvidence(input)]);
  }

  // 3b. A neighbour entry that sends the frames to the wrong MAC (or two holders answering ARP).
  if (input.neighbourIssue) {
    return not(input.neighbourIssue.cause, input.neighbourIssue.hop, input.neighbourIssue.direction, input.neighbourIssue.summary, [...input.neighbourIssue.evidence, ...trace, ...dropEvidence(input)]);
  }

  // 4. What came back: ICMP errors and resets about the probes.
  const errs = errorsSeen(input);
  const frag = errs.find((e) => e.kind === 'icmp-frag-needed');
  if (frag) {
    const at = lastRequestHop(input) ?? frag.hop;
    return not('mtu', at, 'request', `MTU too small: ${frag.from} cannot forward the probe without fragmenting (DF set), next-hop MTU ${frag.mtu ?? '?'}`, [
      `ICMP fragmentation needed (mtu ${frag.mtu ?? '?'}) from ${frag.from} seen at hop ${frag.hop.index} (${hopName(frag.hop)}) ×${frag.count}`,
      ...trace,
    ]);
  }
  const closed = errs.find((e) => (e.kind === 'rst' || e.kind === 'icmp-port-unreachable') && e.from === input.to.ip);
  if (closed) {
    const dst = destinationHop(input);
    const how = closed.kind === 'rst' ? 'answered the SYN with a TCP RST' : 'answered ICMP port unreachable';
    return not('port-closed', dst ?? null, 'request', `destination port closed: ${input.to.ip} ${how} (nothing listens on ${input.proto} port ${input.port})`, [
      `${closed.kind === 'rst' ? 'TCP RST' : 'ICMP port unreachable'} from ${closed.from} seen at hop ${closed.hop.index} (${hopName(closed.hop)}) ×${closed.count}`,
      ...(input.result.refused > 0 ? [`the probe reported ${input.result.refused}/${input.result.sent} connection refused`] : []),
      ...trace,
    ]);
  }
  const admin = errs.find((e) => e.kind === 'icmp-admin-prohibited');
  if (admin) {
    return not('firewall', lastRequestHop(input) ?? admin.hop, 'request', `firewall: ${admin.from} rejects the probes (ICMP administratively prohibited)`, [
      `ICMP administratively prohibited from ${admin.from} seen at hop ${admin.hop.index} (${hopName(admin.hop)}) ×${admin.count}`,
      'no rule counter on the path moved: the rejecting rule is outside the namespaces read',
      ...trace,
    ]);
  }
  const unreach = errs.find((e) => e.kind.startsWith('icmp-'));
  if (unreach) {
    return not('unreachable', lastRequestHop(input) ?? unreach.hop, 'request', `${unreach.from} answered ${unreach.kind.replace(/^icmp-/, '').replace(/-/g, ' ')}`, [
      `${unreach.kind} from ${unreach.from} seen at hop ${unreach.hop.index} (${hopName(unreach.hop)}) ×${unreach.count}`,
      ...trace,
    ]);
  }

  // 5. ARP for a next hop that nobody answered.
  const wanted = new Set(input.nextHops.map((n) => n.ip));
  const arp = input.arp.find((a) => wanted.has(a.target) && a.requests > 0 && a.replies === 0);
  const failedNeigh = input.neighbours.find((n) => wanted.has(n.ip) && n.state.some((s) => s === 'FAILED' || s === 'INCOMPLETE'));
  if (arp || failedNeigh) {
    const target = arp?.target ?? failedNeigh?.ip ?? '?';
    const nh = input.nextHops.find((n) => n.ip === target);
    const hop = nh ? input.hops.find((h) => h.netns === nh.netns && h.iface === nh.dev) : input.hops[0];
    return not('arp-unanswered', hop ?? null, 'request', `ARP for ${target} gets no answer: the holder of ${target} is not reachable on this segment`, [
      ...(arp ? [`ARP who-has ${arp.target} tell ${arp.asker}: ${arp.requests} requests, no reply (seen at hops ${arp.seenAt.join(', ')})`] : []),
      ...(failedNeigh ? [`neighbour ${failedNeigh.ip} dev ${failedNeigh.dev} in ${failedNeigh.netns || 'host'}: ${failedNeigh.state.join(' ')}`] : []),
      ...trace,
    ]);
  }

  // 6. Nothing explains it: say where it was last seen.
  const dst = destinationHop(input);
  const dstObs = dst ? input.observed[dst.index - 1] : undefined;
  if (dst && dstObs?.captured && dstObs.request > 0) {
    return not('no-reply', dst, 'reply', `${input.to.label} receives the probes but no answer comes back`, [
      ...trace,
      'no rule counter moved and no ICMP error came back: the destination does not answer (a firewall outside iptables/nftables, an application that ignores the probe, rp_filter)',
      ...dropEvidence(input),
    ]);
  }
  const last = lastRequestHop(input);
  return not('unknown', last ?? null, 'request', last ? `traffic stops after hop ${last.index} (${hopName(last)}); no rule, link, route or ARP explains it` : 'no probe was seen on any hop', [
    ...trace,
    ...dropEvidence(input),
  ]);
}
