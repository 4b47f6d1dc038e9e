/**
 * `netscope watch`: wires the shared engines to the model and the view.
 *
 *   LiveCapture ─record→ TrafficCollector (decode → FlowTable, ring)      ─┐ snapshot every second
 *   discover() + bridge fdb (parseFdbJson/resolveFdb) + FdbWatch, pollEvery ─┤→ DashboardModel → DashboardView
 *   readRules() + RuleDeltas, pollEvery                                   ─┘   (≤ 10 redraws/s)
 *
 * Capture never waits for host reads: those are child processes polled one at a time on their own interval.
 */
import type { FlowRecord, FlowSort } from '../analysis/flows';
import { LiveCapture } from '../capture/live';
import type { CaptureTarget } from '../capture/target';
import { FdbWatch, parseFdbJson, resolveFdb, type FdbEntry } from '../host/fdb';
import { listBridges } from '../host/fdb-resolve';
import { pollEvery, type Poll } from '../host/poller';
import { readRules, RuleDeltas } from '../host/rules';
import { run } from '../host/run';
import { bridgePorts, discover, findBridge, findNetns, type IfInfo, type Topology } from '../topology/discover';
import { flowsFromSnapshot, ruleRows, topologyLines, WireMacTracker } from './adapt';
import { TrafficCollector } from './collector';
import { DashboardModel, type FdbRow, type SortKey } from './model';
import { DashboardView } from './screen';

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

export interface DashboardOptions {
  bridge: string;
  /** The bridge's namespace as the user named it (name, "pid:N", "host"); any namespace when absent. */
  netns?: string;
  /** More interfaces to capture on. */
  extra?: CaptureTarget[];
  /** pcap-filter expression for the capture (kernel BPF). */
  filter?: string;
  /** Host state refresh (FDB, topology, rule counters), default 2000 ms. */
  pollMs?: number;
  /** Flows taken from the engine per snapshot (sorted by the current key), default 500; ten times that while a `/` filter is set. */
  top?: number;
  output?: NodeJS.WritableStream;
  input?: NodeJS.ReadableStream;
  /** terminfo name (default $TERM; headless runs use "xterm"). */
  terminal?: string;
  /** Window title (default "netscope watch BRIDGE"). */
  title?: string;
}

const nowSec = (): number => Date.now() / 1000;

/** Every namespace is rediscovered this often (new pods are also noticed sooner, see netnsToWatch). */
const FULL_DISCOVERY_MS = 30_000;

const ENGINE_SORT: Record<SortKey, FlowSort> = { bytes: 'bytes', packets: 'packets', rate: 'rate' };

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

function fdbRow(e: FdbEntry): FdbRow {
  const r = e.resolved;
  return {
    mac: e.mac,
    port: e.port,
    vlan: e.vlan,
    flags: e.flags,
    ageSec: e.usedSec,
    pod: r ? (r.ifname && r.netns !== '' ? `${r.label}/${r.ifname}` : r.label) : undefined,
    ips: r?.ips ?? [],
  };
}

interface HostState {
  topo: Topology;
  bridge: IfInfo | undefined;
  fdb: FdbEntry[];
}

export class Dashboard {
  readonly model: DashboardModel;
  readonly collector = new TrafficCollector();
  /** Resolves when the user quit (q, Ctrl-C) or close() was called; the terminal is restored by then. */
  readonly done: Promise<void>;
  private view: DashboardView | undefined;
  private capture: LiveCapture;
  private polls: Poll[] = [];
  private ticker: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private resolveDone: () => void = () => undefined;
  private lastSnapshotSec = 0;
  private snapshotSort: SortKey | undefined;
  private snapshotFilter = '';
  private records = new Map<string, FlowRecord>();
  private wireMacs = new WireMacTracker();
  private fdbWatch = new FdbWatch();
  private ruleDeltas = new RuleDeltas();
  private detailSeen = -1;
  private bridgeIf: IfInfo;
  private cpuMark = { usage: process.cpuUsage(), at: process.hrtime.bigint() };
  private watchedNetns: string[] | undefined;
  private lastFullDiscovery = 0;
  /** Pod IP → "namespace/name" from discovery, shown beside flow endpoints. */
  private readonly podByIp = new Map<string, string>();

  private constructor(
    private readonly opts: DashboardOptions,
    bridge: IfInfo,
    topo: Topology,
  ) {
    this.bridgeIf = bridge;
    const nsLabel = bridge.netns === '' ? undefined : (topo.namespaces.find((n) => n.id === bridge.netns)?.label ?? bridge.netns);
    this.model = new DashboardModel({ bridge: bridge.name, netns: nsLabel, captureFilter: opts.filter });
    this.model.setTopology(topologyLines(topo, bridge));
    for (const n of topo.namespaces) for (const ip of n.pod?.ips ?? []) this.podByIp.set(ip, n.label);
    this.watchedNetns = this.netnsToWatch(topo, bridge);
    this.lastFullDiscovery = Date.now();
    const main: CaptureTarget = bridge.netns === '' ? { iface: bridge.name } : { iface: bridge.name, netns: bridge.netns };
    this.capture = new LiveCapture([main, ...(opts.extra ?? [])], { filter: opts.filter });
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  /**
   * Resolves the bridge, starts the captures (errors: WatchError / CaptureStartError, nothing left running),
   * then opens the screen and the pollers.
   */
  static async open(opts: DashboardOptions): Promise<Dashboard> {
    const { topo, bridge } = await resolveBridge(opts.bridge, opts.netns);
    const d = new Dashboard(opts, bridge, topo);
    await d.startCapture();
    try {
      d.startView();
      d.startPolls();
    } catch (err) {
      await d.close();
      throw err;
    }
    d.crashHook();
    return d;
  }

  /**
   * Testing hook for the crash path: NETSCOPE_TUI_CRASH_AFTER_MS=N throws from a timer after N ms, so tests can
   * check that an unexpected error still restores the terminal and runs the owner's cleanup (demo teardown).
   */
  private crashHook(): void {
    const ms = Number(process.env.NETSCOPE_TUI_CRASH_AFTER_MS);
    if (!(ms > 0)) return;
    const t = setTimeout(() => {
      throw new Error(`crash injected by NETSCOPE_TUI_CRASH_AFTER_MS=${ms}`);
    }, ms);
    void this.done.then(() => clearTimeout(t));
  }

  private async startCapture(): Promise<void> {
    this.capture.on('record', (rec) => this.collector.add(rec));
    this.capture.on('warning', (msg) => this.model.warn(msg, nowSec()));
    this.capture.on('end', () => {
      if (!this.closing) this.model.warn('every capture stopped (interfaces gone?): press q to quit', nowSec());
    });
    await this.capture.start();
  }

  private startView(): void {
    this.view = new DashboardView(
      this.model,
      {
        quit: () => void this.close(),
        detailOpened: (flow) => {
          const rec = this.records.get(flow.key);
          if (rec) this.collector.watchFlow(rec);
          this.detailSeen = -1;
          this.refreshDetail();
        },
        detailClosed: () => this.collector.unwatchFlow(),
      },
      {
        output: this.opts.output,
        input: this.opts.input,
        terminal: this.opts.terminal,
        title: this.opts.title ?? `netscope watch ${this.opts.bridge}`,
      },
    );
    this.view.start();
    this.snapshot();
    // Fast tick: detail lines and sort changes feel immediate; flow snapshots stay at one per second.
    this.ticker = setInterval(() => {
      const now = nowSec();
      const changed = this.snapshotSort !== this.model.sortKey || this.snapshotFilter !== this.model.flowFilter;
      if (now - this.lastSnapshotSec >= 1 || changed) this.snapshot();
      this.refreshDetail();
    }, 250);
  }

  private snapshot(): void {
    const now = nowSec();
    this.lastSnapshotSec = now;
    this.snapshotSort = this.model.sortKey;
    this.snapshotFilter = this.model.flowFilter;
    // A `/` filter searches a deeper cut of the table, so a small flow among many is still found.
    const top = (this.opts.top ?? 500) * (this.model.flowFilter ? 10 : 1);
    const snap = this.collector.snapshot(now, ENGINE_SORT[this.model.sortKey], top);
    const { flows, total, note } = flowsFromSnapshot(snap, now, (ip) => this.podByIp.get(ip));
    this.records = new Map(snap.flows.map((f) => [f.key, f]));
    this.model.setFlows(flows, now, total, note);
    const { macs, moved } = this.wireMacs.update(snap.macs);
    // With several capture points one frame is seen on each interface along its path, so "moved between
    // capture interfaces" is an artefact there; only a single capture point's moves (VLAN/VNI) are real.
    this.model.setWireMacs(macs, this.capture.targets.length === 1 ? moved : [], now);
    // The chart and the rates are the bridge's (LiveCapture tags the bridge, target 0, with ifIndex 0); the
    // packet total counts every source.
    const c = this.collector;
    this.model.sample(now, c.firstTargetPackets, c.firstTargetBytes, c.packets);
    const usage = process.cpuUsage();
    const at = process.hrtime.bigint();
    const wallUs = Number(at - this.cpuMark.at) / 1000;
    if (wallUs > 500_000) {
      const used = usage.user - this.cpuMark.usage.user + usage.system - this.cpuMark.usage.system;
      this.model.setCpu((used / wallUs) * 100);
      this.cpuMark = { usage, at };
    }
    this.model.setSources(
      this.capture.stats().map((s) => ({ target: s.target, packets: s.packets, bytes: s.bytes, drops: s.ifaceDrops })),
    );
  }

  private refreshDetail(): void {
    if (this.model.detailKey === undefined) return;
    const n = this.collector.detailVersion;
    if (n === this.detailSeen) return;
    this.detailSeen = n;
    this.model.setDetailPackets(this.collector.detailLines());
  }

  private startPolls(): void {
    const every = this.opts.pollMs ?? 2000;
    const br = this.bridgeIf;
    // Discovery feeds the topology pane and resolves FDB MACs (the same resolution `netscope fdb` uses).
    this.polls.push(
      pollEvery(
        every,
        async (): Promise<HostState> => {
          const full = this.watchedNetns === undefined || Date.now() - this.lastFullDiscovery > FULL_DISCOVERY_MS;
          const topo = await discover(full ? {} : { netns: this.watchedNetns });
          if (full) this.lastFullDiscovery = Date.now();
          // Flow endpoints are named after pods: a full discovery replaces the map, a partial one adds to it.
          if (full) this.podByIp.clear();
          for (const n of topo.namespaces) for (const ip of n.pod?.ips ?? []) this.podByIp.set(ip, n.label);
          const bridge = topo.interfaces.find((i) => i.kind === 'bridge' && i.name === br.name && i.netns === br.netns);
          this.watchedNetns = bridge ? this.netnsToWatch(topo, bridge) : undefined;
          if (!bridge) return { topo, bridge, fdb: [] };
          const { stdout } = await run(['bridge', '-j', '-s', 'fdb', 'show', 'br', bridge.name], { netns: bridge.netns });
          return { topo, bridge, fdb: resolveFdb(topo, bridge, parseFdbJson(stdout)) };
        },
        (res, at) => {
          if (res instanceof Error) {
            this.model.setError('fdb', res.message);
            this.model.setError('topology', res.message);
            return;
          }
          if (!res.bridge) {
            const gone = `bridge ${br.name} is gone (deleted?)`;
            this.model.setError('fdb', gone);
            this.model.setError('topology', gone);
            return;
          }
          this.model.setTopology(topologyLines(res.topo, res.bridge));
          const diff = this.fdbWatch.update(res.fdb);
          this.model.setFdb(
            res.fdb.map(fdbRow),
            diff.moved.map((m) => ({ mac: m.entry.mac, from: m.fromPort, to: m.entry.port })),
            at,
          );
        },
      ),
    );
    this.polls.push(
      pollEvery(
        every,
        () => readRules({ netns: br.netns === '' ? undefined : br.netns }),
        (res, at) => {
          if (res instanceof Error) return void this.model.setError('rules', res.message);
          this.model.setRules(ruleRows(this.ruleDeltas.update(res.rules, at)), at);
          if (res.warnings.length > 0 && res.rules.length === 0) this.model.setError('rules', res.warnings.join('; '));
        },
      ),
    );
  }

  /**
   * The namespaces the panes need: the bridge's and those of its ports' veth peers. Polling only these keeps
   * the number of `ip` processes per refresh small on a machine with many namespaces: every spawn forks this
   * process and stalls its event loop (and with it the capture stream) for milliseconds. A port whose peer is
   * not resolved (a new pod) makes the next poll a full discovery again.
   */
  private netnsToWatch(topo: Topology, bridge: IfInfo): string[] | undefined {
    const ports = bridgePorts(topo, bridge);
    if (ports.some((p) => p.kind === 'veth' && p.peer === undefined)) return undefined;
    return [...new Set([bridge.netns, ...ports.map((p) => p.peer?.netns).filter((n): n is string => n !== undefined)])];
  }

  /** Restores the terminal first, then stops pollers and captures. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      if (this.ticker) clearInterval(this.ticker);
      this.view?.destroy();
      for (const p of this.polls) p.stop();
      await Promise.all([this.capture.stop(), ...this.polls.map((p) => p.done)]);
      this.resolveDone();
    })();
    return this.closing;
  }

  /** The screen's text (tests, --no-ui diagnostics). */
  screenText(): string {
    return this.view?.text() ?? '';
  }
}
