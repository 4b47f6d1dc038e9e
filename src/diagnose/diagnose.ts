/**
 * `diagnose FROM TO`, end to end: discover → resolve endpoints → trace the path both ways from the
 * configuration → capture on every hop and read counters → send the probes → read counters again → verdict.
 * Nothing is changed on the machine: captures are stopped (even on errors), no rule or address is added.
 */
import { CaptureStartError, LiveCapture } from '../capture/live';
import type { CaptureTarget } from '../capture/target';
import { discover, type Topology } from '../topology/discover';
import { interfaceDeltas, neighbourStates, readIpForward, readRuleHits, readRulesBefore } from './counters';
import { resolveEndpoint } from './endpoints';
import { ProbeMatcher } from './observe';
import { tracePath } from './path';
import { chooseIdentity, probePacketBytes, sendProbes, type ProbePlan } from './probe';
import type { DiagnoseReport, Endpoint, Hop, PathIssue, PathTrace, ProbeProto } from './types';
import { decideVerdict } from './verdict';

export { EndpointError } from './endpoints';

export interface DiagnoseOptions {
  from: string;
  to: string;
  proto?: ProbeProto;
  /** Required for tcp/udp. */
  port?: number;
  /** ICMP echo payload / UDP payload bytes (default 56 / 64). */
  size?: number;
  /** Probes sent (default 2). */
  count?: number;
  /** How long each probe waits for its answer (default 1000 ms). */
  timeoutMs?: number;
  /** Don't fragment (default true: an MTU problem must show, not be hidden by fragmentation). */
  df?: boolean;
  /** Called with a short line at each step (for -v). */
  onStep?: (line: string) => void;
}

/** Invalid options (exit 2). */
export class DiagnoseUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiagnoseUsageError';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Captured packets are tagged "NETNS/IFACE" ("IFACE" in netscope's own namespace). */
function captureLabel(h: Hop): string {
  return h.netns === '' ? h.iface : `${h.netns}/${h.iface}`;
}

function captureTarget(h: Hop): CaptureTarget {
  return h.netns === '' ? { iface: h.iface } : { iface: h.iface, netns: h.netns };
}

/**
 * Which hops get a capture: every interface on the path that is up, except a bridge device that only
 * forwards between its ports (bridged frames never pass through it).
 */
function captureNote(h: Hop): string | undefined {
  if (!h.up || h.state === 'DOWN' || h.state === 'LOWERLAYERDOWN') return 'link down';
  if (h.role === 'bridge') return 'bridge forwards between ports (frames do not pass the bridge device)';
  return undefined;
}

/** The reply path's hops that the request path does not cross, appended and marked replyOnly. */
function mergeHops(fwd: PathTrace, rev: PathTrace | undefined): { hops: Hop[]; revIndex: Map<number, number> } {
  const hops = fwd.hops.map((h) => ({ ...h }));
  const revIndex = new Map<number, number>();
  for (const h of rev?.hops ?? []) {
    let at = hops.find((x) => x.netns === h.netns && x.iface === h.iface);
    if (!at) {
      at = { ...h, index: hops.length + 1, replyOnly: true };
      hops.push(at);
    }
    revIndex.set(h.index, at.index);
  }
  return { hops, revIndex };
}

function validate(opts: DiagnoseOptions): Required<Pick<DiagnoseOptions, 'proto' | 'size' | 'count' | 'timeoutMs' | 'df'>> & { port: number | null } {
  const proto: ProbeProto = opts.proto ?? (opts.port !== undefined ? 'tcp' : 'icmp');
  if (proto === 'icmp' && opts.port !== undefined) throw new DiagnoseUsageError('--port applies to tcp and udp probes: add --proto tcp or --proto udp, or drop --port');
  if (proto !== 'icmp' && opts.port === undefined) throw new DiagnoseUsageError(`--proto ${proto} needs --port N`);
  if (opts.port !== undefined && !(Number.isInteger(opts.port) && opts.port >= 1 && opts.port <= 65535)) throw new DiagnoseUsageError(`--port ${opts.port}: give a port number 1-65535`);
  const size = opts.size ?? (proto === 'udp' ? 64 : 56);
  if (!(Number.isInteger(size) && size >= 0 && size <= 65507)) throw new DiagnoseUsageError(`--size ${size}: give a payload size 0-65507 bytes`);
  if (proto === 'tcp' && opts.size !== undefined) throw new DiagnoseUsageError('--size applies to icmp and udp probes (a TCP SYN carries no payload)');
  const count = opts.count ?? 2;
  if (!(Number.isInteger(count) && count >= 1 && count <= 20)) throw new DiagnoseUsageError(`--count ${count}: give 1-20 probes`);
  const timeoutMs = opts.timeoutMs ?? 1000;
  if (!(Number.isFinite(timeoutMs) && timeoutMs >= 100 && timeoutMs <= 30_000)) throw new DiagnoseUsageError(`--timeout ${timeoutMs}: give 100-30000 ms`);
  return { proto, port: opts.port ?? null, size, count, timeoutMs, df: opts.df ?? true };
}

/** Earliest issue along the path: the request path's before the reply path's; lower hop first. */
function firstIssue(candidates: Array<PathIssue | undefined>): PathIssue | undefined {
  const list = candidates.filter((x): x is PathIssue => x !== undefined);
  list.sort((a, b) => (a.direction === b.direction ? 0 : a.direction === 'request' ? -1 : 1) || (a.hop ?? 0) - (b.hop ?? 0));
  return list[0];
}

/** Runs the whole diagnosis. Throws EndpointError / DiagnoseUsageError for usage mistakes. */
export async function diagnose(opts: DiagnoseOptions): Promise<DiagnoseReport> {
  const started = Date.now();
  const step = opts.onStep ?? (() => undefined);
  const o = validate(opts);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('diagnose needs root (CAP_NET_ADMIN to read namespaces and counters, CAP_NET_RAW to capture): run it with sudo');
  }
  step('discovering namespaces, interfaces and routes');
  const topo = await discover();
  const from = resolveEndpoint(topo, opts.from, { allowUnknownIp: false, what: 'FROM' });
  const to = resolveEndpoint(topo, opts.to, { allowUnknownIp: true, what: 'TO', near: from.netns ?? '' });
  if (from.netns === to.netns && from.ip === to.ip) throw new DiagnoseUsageError(`FROM and TO are the same address (${from.ip}): name two different endpoints`);
  const warnings: string[] = [];

  const packetBytes = probePacketBytes(o.proto, o.size);
  const fwd = tracePath(topo, from, to, { packetBytes, df: o.df, direction: 'request' });
  const rev = to.netns !== null && to.iface !== null && !fwd.issue ? tracePath(topo, to, from, { packetBytes, df: o.df, direction: 'reply' }) : undefined;
  const { hops, revIndex } = mergeHops(fwd, rev);
  const revIssue = rev?.issue ? { ...rev.issue, hop: rev.issue.hop === null ? null : (revIndex.get(rev.issue.hop) ?? null) } : undefined;

  // Routers must forward: ip_forward is per namespace.
  const routers = [...new Set([...fwd.routers, ...(rev?.routers ?? [])])];
  const fwdFlags = await Promise.all(routers.map((ns) => readIpForward(ns)));
  let forwardingIssue: PathIssue | undefined;
  routers.forEach((ns, i) => {
    if (forwardingIssue || fwdFlags[i] !== false) return;
    const hop = hops.find((h) => h.netns === ns && h.role === 'router in');
    const label = hop?.netnsLabel ?? ns;
    forwardingIssue = {
      cause: 'forwarding-disabled',
      hop: hop?.index ?? null,
      direction: fwd.routers.includes(ns) ? 'request' : 'reply',
      summary: `${label} routes between the subnets but IP forwarding is off there (net.ipv4.ip_forward = 0)`,
      evidence: [`sysctl net.ipv4.ip_forward = 0 in ${label} (fix: ip netns exec ${ns || '<ns>'} sysctl -w net.ipv4.ip_forward=1)`],
    };
  });
  const issue = firstIssue([fwd.issue, forwardingIssue, revIssue]);

  const nextHops = [...fwd.nextHops, ...(rev?.nextHops ?? [])];
  const pathNs = [...new Set([from.netns ?? '', ...hops.map((h) => h.netns), ...(to.netns !== null ? [to.netns] : [])])];
  const labels = new Map(pathNs.map((ns) => [ns, ns === '' ? 'host' : (topo.namespaces.find((n) => n.id === ns)?.label ?? ns)]));
  const identity = chooseIdentity(o.proto, o.count);
  const plan: ProbePlan = { proto: o.proto, netns: from.netns ?? '', dst: to.ip, port: o.port, size: o.size, count: o.count, timeoutMs: o.timeoutMs, df: o.df, identity };

  const captureHops = hops.map((h) => ({ hop: h, note: captureNote(h) }));
  const targets = captureHops.filter((c) => c.note === undefined).map((c) => c.hop);
  const matcher = new ProbeMatcher(
    hops.map(captureLabel),
    { proto: o.proto, fromIp: from.ip, toIp: to.ip, port: o.port, identity },
  );
  const filter = o.proto === 'icmp' ? 'arp or icmp' : `arp or icmp or ${o.proto} port ${o.port}`;
  let capture: LiveCapture | null = targets.length > 0 ? new LiveCapture(targets.map(captureTarget), { filter, statsIntervalMs: 60_000 }) : null;
  let captureFailed: string | undefined;
  capture?.on('record', (rec) => matcher.observe(rec));
  capture?.on('warning', (m) => warnings.push(`capture: ${m}`));

  let result;
  let rulesAfter;
  let after: Topology;
  try {
    step(`capturing on ${targets.length} interfaces, reading firewall counters in ${pathNs.length} namespaces`);
    const [rulesBefore] = await Promise.all([
      readRulesBefore(pathNs),
      capture?.start().catch((e: unknown) => {
        captureFailed = e instanceof CaptureStartError || e instanceof Error ? e.message : String(e);
        warnings.push(`capture could not start (${captureFailed}); the verdict relies on configuration and counters only`);
        capture = null;
      }),
    ]);
    warnings.push(...rulesBefore.warnings);
    step('capture running');
    // Agents are streaming once start() resolves; a moment lets the first batch timer run everywhere.
    await sleep(30);
    step(`sending ${o.count} ${o.proto} probe(s) from ${from.label} to ${to.ip}${o.port !== null ? ` port ${o.port}` : ''}`);
    result = await sendProbes(plan);
    step(`probes done (${result.answered}/${result.sent} answered${result.localError ? `, ${result.localError}` : ''})`);
    // Late answers (a slow ARP, an ICMP error in flight) and the merge window.
    await sleep(150);
    await capture?.stop();
    capture = null;
    step('reading counters again');
    [rulesAfter, after] = await Promise.all([readRuleHits(rulesBefore, labels), discover({ netns: pathNs })]);
    warnings.push(...rulesAfter.warnings);
    step('done');
  } finally {
    await capture?.stop();
  }

  const observed = matcher.observations(
    captureHops.map((c) => ({
      captured: c.note === undefined && captureFailed === undefined,
      ...(c.note !== undefined ? { note: c.note } : captureFailed !== undefined ? { note: 'capture failed' } : {}),
    })),
  );
  const arp = matcher.arpExchanges();
  const interfaces = interfaceDeltas(hops, topo, after);
  const neighbours = neighbourStates(topo, after, nextHops);
  const verdict = decideVerdict({ from, to, proto: o.proto, port: o.port, hops, observed, issue, result, rules: rulesAfter.hits, arp, neighbours, nextHops, interfaces });
  const report: DiagnoseReport = {
    version: 1,
    from,
    to,
    probe: { proto: o.proto, port: o.port, size: o.size, count: o.count, timeoutMs: o.timeoutMs, df: o.df, identity },
    verdict,
    hops: hops.map((h, i) => ({ ...h, observed: observed[i] })),
    arp,
    result,
    counters: { rules: rulesAfter.hits, interfaces, neighbours },
    warnings,
    durationMs: Date.now() - started,
  };
  return report;
}

export type { DiagnoseReport, Endpoint };
