/**
 * NodeEngine: what the agent knows about its node, kept current. It follows the node's network namespaces
 * (periodic discovery: namespaces and interfaces come and go), captures on their interfaces (one LiveCapture
 * per interface, so one can start or stop without touching the others), feeds every packet to one FlowTable
 * (the engine of `read --flows` and the dashboard), and polls firewall rule counters and bridge FDBs.
 * It holds numbers only; metrics.ts turns them into Prometheus families at scrape time.
 */
import { EventEmitter } from 'events';
import { FlowTable } from '../analysis/flows';
import { LiveCapture } from '../capture/live';
import type { CaptureTarget } from '../capture/target';
import { decodeRecord } from '../decode/decode';
import { PacketView } from '../decode/view';
import { FdbWatch, parseFdbJson } from '../host/fdb';
import { pollEvery, type Poll } from '../host/poller';
import { readRules, type RuleCounter } from '../host/rules';
import { run } from '../host/run';
import type { PacketRecord } from '../pcap/record';
import { discover, listNamespaces, type IfInfo, type IfStats, type NetnsInfo, type Topology } from '../topology/discover';
import { captureInterfaces, followedNamespaces, netnsLabel, type FollowPolicy } from './follow';

export interface NodeEngineOptions {
  policy: FollowPolicy;
  /** Seconds between rule counter and FDB reads (default 5). */
  pollSec?: number;
  /** Seconds between namespace discoveries (default 10): each one dumps every followed namespace. */
  discoverSec?: number;
  /** pcap-filter for the metrics captures (default: everything). */
  filter?: string;
  /** Kernel ring per captured interface (bytes); the agent default is smaller than `capture`'s. */
  ringBytes?: number;
  maxFlows?: number;
  idleTimeoutSec?: number;
  /** The pod a namespace belongs to ("namespace/name"), when pod identity is known. */
  podOf?: (ns: NetnsInfo) => string | undefined;
  /** Seconds before retrying an interface whose capture failed to start (default 30). */
  retrySec?: number;
}

/** One captured interface and what was counted on it. */
export interface CaptureSource {
  /** `${netns inode}/${ifname}`: stable while the interface exists. */
  key: string;
  netns: string;
  iface: string;
  pod: string;
  target: CaptureTarget;
  capture: LiveCapture | null;
  state: 'starting' | 'running' | 'failed' | 'gone';
  packets: number;
  bytes: number;
  /** Drops as LiveCapture reports them (kernel: pcap_stats ps_drop + ps_ifdrop; interface: rx_dropped growth; agent: fell behind). */
  kernelDrops: number;
  ifaceDrops: number;
  agentDrops: number;
  lastError: string;
  retryAt: number;
}

/** Kernel interface counters of a followed namespace (from the discovery dump). */
export interface IfaceCounters extends IfStats {
  netns: string;
  iface: string;
  pod: string;
}

export interface BridgeFdb {
  netns: string;
  bridge: string;
  entries: number;
  moves: number;
  watch: FdbWatch;
}

export declare interface NodeEngine {
  /** One line for the agent's log (a capture failed, an interface went away). */
  on(event: 'log', fn: (line: string) => void): this;
}

export class NodeEngine extends EventEmitter {
  readonly flows: FlowTable;
  /** Captured interfaces by key (also those that failed, until they are gone from the host). */
  readonly sources = new Map<string, CaptureSource>();
  /** Latest kernel interface counters of followed namespaces. */
  ifaces: IfaceCounters[] = [];
  /** Latest rule counters per followed namespace label. */
  readonly rules = new Map<string, RuleCounter[]>();
  readonly bridges = new Map<string, BridgeFdb>();
  topology: Topology = { namespaces: [], interfaces: [], routes: [], neighbours: [] };
  followed: NetnsInfo[] = [];
  discoveries = 0;
  discoveryErrors = 0;
  ruleReadErrors = 0;
  /** Packets seen by the flow engine (all sources). */
  packets = 0;
  private readonly view = new PacketView();
  private readonly polls: Poll[] = [];
  private expireTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private firstDiscovery: Promise<void> | null = null;

  constructor(private readonly opts: NodeEngineOptions) {
    super();
    this.flows = new FlowTable({ idleTimeoutSec: opts.idleTimeoutSec ?? 120, maxFlows: opts.maxFlows ?? 100_000, rateIntervalSec: 1 });
  }

  private get pollMs(): number {
    return Math.max(0.2, this.opts.pollSec ?? 5) * 1000;
  }

  /** Starts following; resolves after the first discovery (captures may still be starting). */
  start(): Promise<void> {
    if (this.firstDiscovery) return this.firstDiscovery;
    this.firstDiscovery = new Promise<void>((resolve) => {
      let first = true;
      this.polls.push(
        pollEvery(Math.max(0.2, this.opts.discoverSec ?? 10) * 1000, () => this.discoverFollowed(), (res) => {
          if (res instanceof Error) {
            this.discoveryErrors++;
            this.emit('log', `discovery failed: ${res.message}`);
          } else {
            this.applyTopology(res);
          }
          if (first) {
            first = false;
            resolve();
            this.polls.push(pollEvery(this.pollMs, () => this.readAllRules(), () => undefined));
            this.polls.push(pollEvery(this.pollMs, () => this.readAllFdbs(), () => undefined));
          }
          return !this.stopped;
        }),
      );
    });
    this.expireTimer = setInterval(() => this.flows.expire(Date.now() / 1000), 5000);
    this.expireTimer.unref();
    return this.firstDiscovery;
  }

  private async discoverFollowed(): Promise<Topology> {
    const all = await listNamespaces();
    const ids = all.filter((n) => this.opts.policy.netns(netnsLabel(n))).map((n) => n.id);
    return discover({ netns: ids });
  }

  private podOf(nsId: string): string {
    if (this.opts.podOf === undefined) return '';
    const ns = this.followed.find((n) => n.id === nsId);
    return ns === undefined ? '' : (this.opts.podOf(ns) ?? '');
  }

  /** Starts captures on new interfaces, forgets vanished ones, refreshes interface counters. */
  private applyTopology(topo: Topology): void {
    if (this.stopped) return;
    this.discoveries++;
    this.topology = topo;
    this.followed = followedNamespaces(topo, this.opts.policy);
    const inode = new Map(this.followed.map((n) => [n.id, n.inode]));
    const followedIds = new Set(this.followed.map((n) => n.id));
    this.ifaces = topo.interfaces
      .filter((i) => followedIds.has(i.netns) && i.stats !== undefined)
      .map((i) => ({ netns: netnsLabel(i.netns), iface: i.name, pod: this.podOf(i.netns), ...i.stats! }));
    const want = new Map<string, IfInfo>();
    for (const i of captureInterfaces(topo, this.followed, this.opts.policy)) want.set(`${inode.get(i.netns)}/${i.name}`, i);
    for (const [key, s] of this.sources) {
      if (!want.has(key)) {
        s.state = 'gone';
        this.sources.delete(key);
        void s.capture?.stop();
      }
    }
    const now = Date.now();
    for (const [key, i] of want) {
      const s = this.sources.get(key);
      if (s === undefined) this.startSource(key, i);
      else if (s.state === 'failed' && now >= s.retryAt) this.startSource(key, i, s);
    }
  }

  private startSource(key: string, i: IfInfo, prev?: CaptureSource): void {
    const target: CaptureTarget = i.netns === '' ? { iface: i.name } : { iface: i.name, netns: i.netns };
    const s: CaptureSource = prev ?? {
      key,
      netns: netnsLabel(i.netns),
      iface: i.name,
      pod: this.podOf(i.netns),
      target,
      capture: null,
      state: 'starting',
      packets: 0,
      bytes: 0,
      kernelDrops: 0,
      ifaceDrops: 0,
      agentDrops: 0,
      lastError: '',
      retryAt: 0,
    };
    s.state = 'starting';
    this.sources.set(key, s);
    const cap = new LiveCapture([target], { filter: this.opts.filter ?? '', reorderWindowMs: 0, ringBytes: this.opts.ringBytes });
    s.capture = cap;
    const flows = this.flows;
    const view = this.view;
    cap.on('record', (rec: PacketRecord) => {
      s.packets++;
      s.bytes += rec.len;
      this.packets++;
      flows.add(decodeRecord(view, rec), rec);
    });
    cap.on('warning', (m) => this.emit('log', `capture ${s.netns}/${s.iface}: ${m}`));
    cap.on('end', () => {
      this.takeStats(s);
      // Ended while still wanted (interface set down, agent died): retry after a while if it is still there.
      if (this.sources.get(key) === s && !this.stopped) {
        s.state = 'failed';
        s.retryAt = Date.now() + (this.opts.retrySec ?? 30) * 1000;
      }
    });
    cap.start().then(
      () => {
        if (s.state === 'gone' || this.stopped) void cap.stop();
        else s.state = 'running';
      },
      (e: unknown) => {
        s.state = this.sources.get(key) === s ? 'failed' : 'gone';
        s.lastError = e instanceof Error ? e.message : String(e);
        s.retryAt = Date.now() + (this.opts.retrySec ?? 30) * 1000;
        s.capture = null;
        if (s.state === 'failed') this.emit('log', `capture ${s.netns}/${s.iface} did not start: ${s.lastError} (retrying in ${this.opts.retrySec ?? 30} s)`);
      },
    );
  }

  /** Copies LiveCapture's drop counters into the source (they stay after the capture ended). */
  takeStats(s: CaptureSource): void {
    const st = s.capture?.stats()[0];
    if (st === undefined) return;
    s.ifaceDrops = st.ifaceDrops ?? s.ifaceDrops;
    s.agentDrops = st.agentDropped;
    s.kernelDrops = (st.kernelDropped ?? 0) + (st.kernelIfDropped ?? 0) || s.kernelDrops;
  }

  private async readAllRules(): Promise<void> {
    const labels = new Set<string>();
    // Two namespaces at a time: each read runs five save tools.
    const queue = [...this.followed];
    const worker = async (): Promise<void> => {
      for (let ns = queue.shift(); ns !== undefined; ns = queue.shift()) {
        const label = netnsLabel(ns);
        labels.add(label);
        try {
          const snap = await readRules({ netns: ns.id === '' ? undefined : ns.id });
          this.rules.set(label, snap.rules);
        } catch (e) {
          this.ruleReadErrors++;
          this.rules.delete(label);
          if (this.followed.some((n) => n.id === ns.id)) this.emit('log', `rules in ${label}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    };
    await Promise.all([worker(), worker()]);
    for (const k of [...this.rules.keys()]) if (!labels.has(k)) this.rules.delete(k);
  }

  private async readAllFdbs(): Promise<void> {
    const followedIds = new Set(this.followed.map((n) => n.id));
    const bridges = this.topology.interfaces.filter((i) => i.kind === 'bridge' && followedIds.has(i.netns));
    const seen = new Set<string>();
    for (const br of bridges) {
      const key = `${netnsLabel(br.netns)}/${br.name}`;
      seen.add(key);
      let entry = this.bridges.get(key);
      if (entry === undefined) {
        entry = { netns: netnsLabel(br.netns), bridge: br.name, entries: 0, moves: 0, watch: new FdbWatch() };
        this.bridges.set(key, entry);
      }
      try {
        const { stdout } = await run(['bridge', '-j', 'fdb', 'show', 'br', br.name], { netns: br.netns === '' ? undefined : br.netns });
        const diff = entry.watch.update(parseFdbJson(stdout));
        entry.entries = diff.entries.length;
        entry.moves += diff.moved.length;
      } catch {
        // The bridge vanished between discovery and this read: the next discovery drops it.
      }
    }
    for (const k of [...this.bridges.keys()]) if (!seen.has(k)) this.bridges.delete(k);
  }

  /** Stops pollers and every capture (they flush what they hold). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const p of this.polls) p.stop();
    if (this.expireTimer) clearInterval(this.expireTimer);
    await Promise.all([...this.sources.values()].map((s) => s.capture?.stop()));
  }
}
