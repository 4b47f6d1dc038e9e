/**
 * The dashboard: its sources (sources.ts) feed the model; the view draws the model on the clock's tick.
 *
 *   records ─record→ TrafficCollector (decode → FlowTable, ring)  ─┐ snapshot every second
 *   bridgeState poller (topology, resolved FDB) → FdbWatch         ─┤→ DashboardModel → DashboardView
 *   rules poller (rule counters) → RuleDeltas                      ─┘   (drawn at most 10 times a second)
 *
 * Nothing here builds a source: `netscope watch`/`demo` pass live ones (liveSources.ts), tests pass fakes.
 */
import type { FlowRecord, FlowSort } from '../analysis/flows';
import type { TargetStats } from '../capture/live';
import { FdbWatch, type FdbEntry } from '../host/fdb';
import { RuleDeltas } from '../host/rules';
import type { IfInfo, Topology } from '../topology/discover';
import { flowsFromSnapshot, problemGroups, ruleRows, topologyLines, WireMacTracker } from './adapt';
import { TrafficCollector } from './collector';
import { DashboardModel } from './model';
import type { FdbRow, SourceStat } from './rows';
import type { SortKey } from './state';
import { DashboardView, type ViewOptions } from './screen';
import type { DashboardSources } from './sources';

export interface DashboardOptions {
  /** The watched bridge and the topology it was found in. */
  bridge: IfInfo;
  topo: Topology;
  /** pcap-filter expression the capture runs with (shown in the status line). */
  captureFilter?: string;
  /** Flows taken from the engine per snapshot (sorted by the current key), default 500; ten times that while a `/` filter is set. */
  top?: number;
  /** Where to draw: output/input streams, terminal name, window title. */
  view?: ViewOptions;
}

/** Redraw and detail tick: at most 10 frames a second, whatever the packet rate. */
export const TICK_MS = 100;

const ENGINE_SORT: Record<SortKey, FlowSort> = { bytes: 'bytes', packets: 'packets', rate: 'rate' };

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

/** The status bar's accounting from a capture's per-interface counters (kernel/interface drops when known). */
export function sourceStat(s: TargetStats): SourceStat {
  // pcap_stats (ps_drop, ps_ifdrop) as tcpdump reports them; without ps_ifdrop the interface's rx_dropped growth
  // stands for "dropped by the interface".
  return {
    target: s.target,
    packets: s.packets,
    bytes: s.bytes,
    kernelDrops: s.kernelDropped,
    ifDrops: s.kernelIfDropped ?? s.ifaceDrops,
    agentDrops: s.agentDropped,
  };
}

export class Dashboard {
  readonly model: DashboardModel;
  readonly collector = new TrafficCollector();
  /** Resolves when the user quit (q, Ctrl-C) or close() was called; the terminal is restored by then. */
  readonly done: Promise<void>;
  private view: DashboardView | undefined;
  private stopTicker: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  private resolveDone: () => void = () => undefined;
  private lastSnapshotSec = -Infinity;
  private snapshotSort: SortKey | undefined;
  private snapshotFilter = '';
  private records = new Map<string, FlowRecord>();
  private wireMacs = new WireMacTracker();
  private fdbWatch = new FdbWatch();
  private ruleDeltas = new RuleDeltas();
  private detailSeen = -1;
  private readonly bridgeIf: IfInfo;

  constructor(
    private readonly opts: DashboardOptions,
    private readonly sources: DashboardSources,
  ) {
    const { bridge, topo } = opts;
    this.bridgeIf = bridge;
    const nsLabel = bridge.netns === '' ? undefined : (topo.namespaces.find((n) => n.id === bridge.netns)?.label ?? bridge.netns);
    this.model = new DashboardModel({ bridge: bridge.name, netns: nsLabel, captureFilter: opts.captureFilter });
    this.model.setTopology(topologyLines(topo, bridge));
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  private now(): number {
    return this.sources.clock.now();
  }

  /**
   * Starts the record source (its errors, e.g. CaptureStartError, reject and leave nothing running), then
   * opens the screen and starts the pollers.
   */
  async start(): Promise<void> {
    const rs = this.sources.records;
    rs.on('record', (rec) => this.collector.add(rec));
    rs.on('warning', (msg) => this.model.warn(msg, this.now()));
    rs.on('end', () => {
      if (!this.closing) this.model.warn('every capture stopped (interfaces gone?): press q to quit', this.now());
    });
    await rs.start();
    try {
      this.startView();
      this.startPolls();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  private startView(): void {
    const v = this.opts.view ?? {};
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
      { ...v, title: v.title ?? `netscope watch ${this.bridgeIf.name}` },
    );
    this.tick();
    this.view.draw(true);
    this.stopTicker = this.sources.clock.every(TICK_MS, () => this.tick());
  }

  /** Flow snapshots once a second (sooner when the sort or filter changed), detail lines, then a redraw if anything changed. */
  tick(): void {
    const now = this.now();
    const changed = this.snapshotSort !== this.model.sortKey || this.snapshotFilter !== this.model.flowFilter;
    if (now - this.lastSnapshotSec >= 1 || changed) this.snapshot(now);
    this.refreshDetail();
    this.view?.draw(false);
  }

  private snapshot(now: number): void {
    this.lastSnapshotSec = now;
    this.snapshotSort = this.model.sortKey;
    this.snapshotFilter = this.model.flowFilter;
    // A `/` filter searches a deeper cut of the table, so a small flow among many is still found.
    const top = (this.opts.top ?? 500) * (this.model.flowFilter ? 10 : 1);
    const snap = this.collector.snapshot(now, ENGINE_SORT[this.model.sortKey], top);
    const { flows, total, note } = flowsFromSnapshot(snap, now);
    this.records = new Map(snap.flows.map((f) => [f.key, f]));
    this.model.setFlows(flows, now, total, note);
    this.model.setProblems(problemGroups(snap.problems));
    const stats = this.sources.records.stats();
    const { macs, moved } = this.wireMacs.update(snap.macs);
    // With several capture points one frame is seen on each interface along its path, so "moved between
    // capture interfaces" is an artefact there; only a single capture point's moves (VLAN/VNI) are real.
    this.model.setWireMacs(macs, stats.length === 1 ? moved : [], now);
    // The chart and the rates are the bridge's (the first capture target, ifIndex 0); the packet total counts
    // every source.
    const c = this.collector;
    this.model.sample(now, c.firstTargetPackets, c.firstTargetBytes, c.packets);
    const cpu = this.sources.cpu?.read();
    if (cpu !== undefined) this.model.setCpu(cpu);
    this.model.setSources(stats.map(sourceStat));
  }

  private refreshDetail(): void {
    if (this.model.detailKey === undefined) return;
    const n = this.collector.detailVersion;
    if (n === this.detailSeen) return;
    this.detailSeen = n;
    this.model.setDetailPackets(this.collector.detailLines());
  }

  private startPolls(): void {
    const br = this.bridgeIf;
    this.sources.bridgeState.start((res, at) => {
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
    });
    this.sources.rules.start((res, at) => {
      if (res instanceof Error) return void this.model.setError('rules', res.message);
      this.model.setRules(ruleRows(this.ruleDeltas.update(res.rules, at)), at);
      if (res.warnings.length > 0 && res.rules.length === 0) this.model.setError('rules', res.warnings.join('; '));
    });
  }

  /** Restores the terminal first, then stops pollers and the record source. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      this.stopTicker?.();
      this.view?.destroy();
      const s = this.sources;
      await Promise.all([s.records.stop(), s.bridgeState.stop(), s.rules.stop()]);
      this.resolveDone();
    })();
    return this.closing;
  }

  /** The screen's text after the last draw (tests, `demo --no-ui`). */
  screenText(): string {
    return this.view?.text() ?? '';
  }
}
