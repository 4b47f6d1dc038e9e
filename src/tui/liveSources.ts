/**
 * The real sources of `netscope watch` and `netscope demo`: the bridge picked from a discovered topology, a
 * LiveCapture on it (and on extra interfaces), discovery + `bridge fdb` and the rule counters polled one read at a
 * time, the system clock and the process CPU meter. The dashboard gets them as parameters (see sources.ts).
 *
 * Capture never waits for host reads: those are child processes polled on their own interval.
 */
import { LiveCapture } from '../capture/live';
import type { CaptureTarget } from '../capture/target';
import { parseFdbJson, resolveFdb } from '../host/fdb';
import { listBridges } from '../host/fdb-resolve';
import { pollEvery, type Poll } from '../host/poller';
import { readRules, type RulesSnapshot } from '../host/rules';
import { run } from '../host/run';
import { bridgePorts, discover, findBridge, findNetns, type IfInfo, type Topology } from '../topology/discover';
import { processCpuMeter, systemClock, type BridgeState, type DashboardSources, type HostPoller } from './sources';

/** A problem the user can fix by changing the command line (exit 2), or a failure (exit 1). */
export class WatchError extends Error {
  constructor(
    message: string,
    readonly usage: boolean,
  ) {
    super(message);
    this.name = 'WatchError';
  }
}

/**
 * The bridge the user named, in a discovered topology. Unknown bridge or namespace, or a bare name that several
 * namespaces have (every Kubernetes node has a cni0) → WatchError listing what exists.
 */
export function pickBridge(topo: Topology, bridge: string, netns: string | undefined): IfInfo {
  if (netns !== undefined && findNetns(topo, netns) === undefined) {
    const known = topo.namespaces.map((n) => (n.id === '' ? 'host' : n.label)).join(', ');
    throw new WatchError(`no network namespace "${netns}" (namespaces: ${known})`, true);
  }
  const br = findBridge(topo, bridge, netns);
  if (!br) {
    const where = netns !== undefined ? ` in namespace "${netns}"` : '';
    throw new WatchError(`no bridge "${bridge}"${where}; bridges netscope can see: ${listBridges(topo)}`, true);
  }
  if (netns === undefined) {
    const same = topo.interfaces.filter((i) => i.kind === 'bridge' && i.name === bridge);
    if (same.length > 1) {
      const where = same.map((i) => `${bridge}@${i.netns === '' ? 'host' : i.netns}`).join(', ');
      throw new WatchError(`bridge "${bridge}" exists in ${same.length} namespaces; name one: ${where}`, true);
    }
  }
  return br;
}

/** Discovers the machine and picks the bridge (see pickBridge). */
export async function resolveBridge(bridge: string, netns: string | undefined): Promise<{ topo: Topology; bridge: IfInfo }> {
  const topo = await discover();
  return { topo, bridge: pickBridge(topo, bridge, netns) };
}

/** A HostPoller over pollEvery: `read` every `intervalMs` after the previous read finished. */
export function hostPoller<T>(intervalMs: number, read: () => Promise<T>): HostPoller<T> {
  let poll: Poll | undefined;
  return {
    start(sink) {
      poll = pollEvery(intervalMs, read, sink);
    },
    async stop() {
      poll?.stop();
      await poll?.done;
    },
  };
}

/** Every namespace is rediscovered this often (new pods are also noticed sooner, see netnsToWatch). */
const FULL_DISCOVERY_MS = 30_000;

/**
 * The namespaces the panes need: the bridge's and those of its ports' veth peers. Polling only these keeps
 * the number of `ip` processes per refresh small on a machine with many namespaces: every spawn forks this
 * process and stalls its event loop (and with it the capture stream) for milliseconds. A port whose peer is
 * not resolved (a new pod) makes the next poll a full discovery again.
 */
export function netnsToWatch(topo: Topology, bridge: IfInfo): string[] | undefined {
  const ports = bridgePorts(topo, bridge);
  if (ports.some((p) => p.kind === 'veth' && p.peer === undefined)) return undefined;
  return [...new Set([bridge.netns, ...ports.map((p) => p.peer?.netns).filter((n): n is string => n !== undefined)])];
}

/** Reads the bridge's topology and resolved FDB; discovery is limited to the namespaces that matter (above). */
export function bridgeStateReader(br: IfInfo, topo: Topology): () => Promise<BridgeState> {
  let watched = netnsToWatch(topo, br);
  let lastFull = Date.now();
  return async () => {
    const full = watched === undefined || Date.now() - lastFull > FULL_DISCOVERY_MS;
    const now = await discover(full ? {} : { netns: watched });
    if (full) lastFull = Date.now();
    const bridge = now.interfaces.find((i) => i.kind === 'bridge' && i.name === br.name && i.netns === br.netns);
    watched = bridge ? netnsToWatch(now, bridge) : undefined;
    if (!bridge) return { topo: now, bridge, fdb: [] };
    const { stdout } = await run(['bridge', '-j', '-s', 'fdb', 'show', 'br', bridge.name], { netns: bridge.netns });
    return { topo: now, bridge, fdb: resolveFdb(now, bridge, parseFdbJson(stdout)) };
  };
}

export interface LiveSourceOptions {
  /** More interfaces to capture on. */
  extra?: CaptureTarget[];
  /** pcap-filter expression for the capture (kernel BPF). */
  filter?: string;
  /** Host state refresh (FDB, topology, rule counters), default 2000 ms. */
  pollMs?: number;
}

/** Real sources for a dashboard on `bridge` (found in `topo`). Nothing runs until the dashboard starts them. */
export function liveSources(bridge: IfInfo, topo: Topology, opts: LiveSourceOptions = {}): DashboardSources {
  const every = opts.pollMs ?? 2000;
  const main: CaptureTarget = bridge.netns === '' ? { iface: bridge.name } : { iface: bridge.name, netns: bridge.netns };
  return {
    records: new LiveCapture([main, ...(opts.extra ?? [])], { filter: opts.filter }),
    bridgeState: hostPoller(every, bridgeStateReader(bridge, topo)),
    rules: hostPoller<RulesSnapshot>(every, () => readRules({ netns: bridge.netns === '' ? undefined : bridge.netns })),
    clock: systemClock,
    cpu: processCpuMeter(),
  };
}
