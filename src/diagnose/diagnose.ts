/**
 * `diagnose FROM TO`, end to end: discover → resolve endpoints → trace the path both ways from the
 * configuration → capture on every hop and read counters → send the probes → read counters again → verdict.
 * The only thing added is a netscope-owned nftables trace table per namespace on the path (selecting only
 * the probes), removed when the diagnosis ends, fails or is aborted (and by the kernel if netscope dies:
 * host/nft-trace.ts). Captures are stopped even on errors; no other rule, address or route is touched.
 */
import { CaptureStartError, LiveCapture } from '../capture/live';
import type { CaptureTarget } from '../capture/target';
import { discover, type Topology } from '../topology/discover';
import { interfaceDeltas, neighbourStates, readIpForward, readRpFilter, readRuleHits, readRulesBefore } from './counters';
import { receivingHops, rpFilterIssue, type RpFilterSetting } from './rpfilter';
import { resolveEndpoint } from './endpoints';
import { ProbeMatcher } from './observe';
import { tracePath } from './path';
import { NftTracer, cleanupStaleTraces } from '../host/nft-trace';
import type { TraceEvent } from '../host/nft-trace-parse';
import { neighbourIssue } from './neighbour';
import { analyseTrace, describeXtablesDrops, traceMatches } from './trace';
import { chooseIdentity, probePacketBytes, sendProbes, type ProbePlan } from './probe';
import type { CaptureAccounting, DiagnoseReport, Endpoint, Hop, PathIssue, PathTrace, ProbeProto, TraceSummary } from './types';
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
  /** Trace the probes through nftables in every namespace on the path (default true). */
  trace?: boolean;
  /** Aborts the diagnosis (Ctrl-C): everything started is stopped and removed, then DiagnoseAbortedError. */
  signal?: AbortSignal;
  /** Called with a short line at each step (for -v). */
  onStep?: (line: string) => void;
}

/** The diagnosis was aborted (opts.signal); nothing is left behind. */
export class DiagnoseAbortedError extends Error {
  constructor() {
    super('diagnose interrupted: captures stopped, trace tables removed');
    this.name = 'DiagnoseAbortedError';
  }
}

/** Invalid options (exit 2). */
export class DiagnoseUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiagnoseUsageError';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves with p, or rejects with DiagnoseAbortedError as soon as the signal fires. */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new DiagnoseAbortedError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DiagnoseAbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

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
/** "IP:PORT" as TO (a Service's ClusterIP and port): the address, and the port for a TCP probe. */
function splitHostPort(opts: DiagnoseOptions): DiagnoseOptions {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(opts.to);
  if (!m) return opts;
  const port = Number(m[2]);
  if (opts.port !== undefined && opts.port !== port) throw new DiagnoseUsageError(`TO ${opts.to} names port ${port} but --port is ${opts.port}: give the port once`);
  return { ...opts, to: m[1], port };
}

export async function diagnose(options: DiagnoseOptions): Promise<DiagnoseReport> {
  const opts = splitHostPort(options);
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
  let captureAccounting: CaptureAccounting[] = [];

  const packetBytes = probePacketBytes(o.proto, o.size);
  const fwd = tracePath(topo, from, to, { packetBytes, df: o.df, direction: 'request' });
  const rev = to.netns !== null && to.iface !== null && !fwd.issue ? tracePath(topo, to, from, { packetBytes, df: o.df, direction: 'reply' }) : undefined;
  const { hops, revIndex } = mergeHops(fwd, rev);
  const revIssue = rev?.issue ? { ...rev.issue, hop: rev.issue.hop === null ? null : (revIndex.get(rev.issue.hop) ?? null) } : undefined;

  // Routers must forward: ip_forward is per namespace.
  const routers = [...new Set([...fwd.routers, ...(rev?.routers ?? [])])];
  const receiving = receivingHops(hops);
  const [fwdFlags, rpRead] = await Promise.all([Promise.all(routers.map((ns) => readIpForward(ns))), Promise.all(receiving.map((h) => readRpFilter(h.netns, h.iface)))]);
  const rpSettings: RpFilterSetting[] = [];
  receiving.forEach((h, i) => {
    const r = rpRead[i];
    if (r) rpSettings.push({ netns: h.netns, iface: h.iface, ...r });
  });
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
  const labels0 = new Map(topo.namespaces.map((n) => [n.id, n.label] as [string, string]));
  const rpIssue = rpFilterIssue({ topo, hops, settings: rpSettings, src: from.ip, walks: [], labels: labels0 });
  let issue = firstIssue([fwd.issue, forwardingIssue, revIssue, rpIssue]);

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

  const signal = opts.signal;
  const tracer = opts.trace === false ? null : new NftTracer(traceMatches(o.proto, identity, o.port));
  const trace: TraceSummary = { method: tracer ? 'nftrace' : 'off', traced: [], failed: [], legacy: [], drops: [], walks: [] };
  let traceEvents = new Map<string, TraceEvent[]>();

  let result;
  let rulesAfter;
  let after: Topology;
  try {
    if (tracer) {
      // A diagnosis that was killed left its trace record: remove what it left in these namespaces before adding ours.
      const stale = await cleanupStaleTraces(undefined, pathNs);
      if (stale.tables.length > 0) warnings.push(`removed trace tables a killed diagnosis left: ${stale.tables.join(', ')}`);
    }
    step(`capturing on ${targets.length} interfaces, reading firewall counters${tracer ? ' and tracing' : ''} in ${pathNs.length} namespaces`);
    const [rulesBefore] = await abortable(
      Promise.all([
        readRulesBefore(pathNs),
        capture?.start().catch((e: unknown) => {
          captureFailed = e instanceof CaptureStartError || e instanceof Error ? e.message : String(e);
          warnings.push(`capture could not start (${captureFailed}); the verdict relies on configuration and counters only`);
          capture = null;
        }),
        tracer?.start(pathNs).then((r) => {
          trace.traced = r.traced;
          trace.failed = r.failed;
          for (const f of r.failed) warnings.push(`nft tracing could not start in ${labels.get(f.netns) ?? f.netns}: ${f.reason}`);
        }),
      ]),
      signal,
    );
    warnings.push(...rulesBefore.warnings);
    trace.legacy = rulesBefore.legacy;
    step('capture running');
    // Agents are streaming once start() resolves; a moment lets the first batch timer run everywhere.
    await abortable(sleep(30), signal);
    step(`sending ${o.count} ${o.proto} probe(s) from ${from.label} to ${to.ip}${o.port !== null ? ` port ${o.port}` : ''}`);
    result = await abortable(sendProbes(plan, signal), signal);
    step(`probes done (${result.answered}/${result.sent} answered${result.localError ? `, ${result.localError}` : ''})`);
    // Late answers (a slow ARP, an ICMP error in flight) and the merge window.
    await abortable(sleep(150), signal);
    const [, events] = await abortable(Promise.all([capture?.stop(), tracer?.finish()]), signal);
    captureAccounting = (capture?.stats() ?? []).map((st) => ({
      iface: st.target,
      captured: st.packets,
      receivedByFilter: st.kernelReceived ?? null,
      droppedByKernel: st.kernelDropped ?? null,
      droppedByInterface: st.kernelIfDropped ?? null,
      droppedByNetscope: st.agentDropped,
    }));
    const lost = captureAccounting.filter((c) => (c.droppedByKernel ?? 0) + c.droppedByNetscope > 0);
    if (lost.length > 0) warnings.push(`the capture lost packets on ${lost.map((c) => c.iface).join(', ')}: a probe missing there may have been dropped by the capture, not the network`);
    capture = null;
    if (events) traceEvents = events;
    step('reading counters again');
    [rulesAfter, after] = await abortable(Promise.all([readRuleHits(rulesBefore, labels), discover({ netns: pathNs })]), signal);
    warnings.push(...rulesAfter.warnings);
    if (tracer) {
      const a = analyseTrace(traceEvents, tracer.table, { proto: o.proto, identity, port: o.port }, labels);
      await describeXtablesDrops(a.drops);
      trace.drops = a.drops;
      trace.walks = a.walks;
    }
    step('done');
  } finally {
    await Promise.all([capture?.stop(), tracer?.stop()]);
  }

  const observed = matcher.observations(
    captureHops.map((c) => ({
      captured: c.note === undefined && captureFailed === undefined,
      ...(c.note !== undefined ? { note: c.note } : captureFailed !== undefined ? { note: 'capture failed' } : {}),
    })),
  );
  // Per-hop latency from the records' timestamps; a negative step means the stamps of different capture
  // agents are not comparable (taken on arrival, not by the kernel): then no latency is shown.
  const lat = matcher.hopLatencies();
  if (lat.some((v) => v !== undefined && v < 0)) {
    warnings.push('per-hop latency not shown: capture timestamps of different hops are out of order (records stamped on arrival, not by the kernel)');
  } else {
    observed.forEach((ob, i) => {
      const v = lat[i];
      if (v !== undefined && !hops[i].replyOnly) ob.addedUs = v;
    });
  }
  const arp = matcher.arpExchanges();
  const interfaces = interfaceDeltas(hops, topo, after);
  const neighbours = neighbourStates(topo, after, nextHops);
  if (issue && issue === rpIssue) issue = rpFilterIssue({ topo, hops, settings: rpSettings, src: from.ip, walks: trace.walks, labels }) ?? issue;
  const neighIssue = neighbourIssue({ topo: after, hops, nextHops, requestMacs: matcher.requestMacs(), arpAnswers: matcher.arpAnswers(), labels });
  const verdict = decideVerdict({ from, to, proto: o.proto, port: o.port, hops, observed, issue, neighbourIssue: neighIssue, result, rules: rulesAfter.hits, traced: trace.drops, arp, neighbours, nextHops, interfaces });
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
    trace,
    capture: captureAccounting,
    warnings,
    durationMs: Date.now() - started,
  };
  return report;
}

export type { DiagnoseReport, Endpoint };
