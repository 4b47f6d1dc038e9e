/**
 * The agent's Prometheus metrics (prom-client): every family is filled from the NodeEngine's numbers when
 * Prometheus scrapes, never per packet. Naming follows Prometheus conventions: prefix netscope_, counters end in
 * _total, bytes in bytes. Cardinality is bounded (see docs/agent.md): label values come only from interfaces,
 * namespaces, pods, bridges, firewall rules and Services of the node — never from flows (addresses, ports) —
 * and each family holds at most `maxSeries` label sets; refused ones are counted in
 * netscope_metric_label_sets_refused_total{metric}.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { isDropTarget, type RuleCounter } from '../host/rules';
import type { NodeEngine } from './engine';
import { SeriesBudget, labelValue, seriesKey } from './series';

export interface AgentMetricsOptions {
  node: string;
  version: string;
  /** Add a `pod` label to per-interface families (default true). */
  podLabels?: boolean;
  /** Label sets per family (default 2000). */
  maxSeries?: number;
}

/** Numbers the HTTP side keeps (capture streams), read at scrape time. */
export interface StreamCounters {
  active: number;
  served: number;
  refusedLimit: number;
  unauthorized: number;
  badRequest: number;
  droppedPackets: number;
  packets: number;
}

type Labels = Record<string, string>;
type Emit = (labels: Labels, value: number) => void;

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly budgets: SeriesBudget[] = [];
  private readonly maxSeries: number;
  private readonly pod: boolean;

  constructor(
    private readonly engine: NodeEngine,
    private readonly streams: StreamCounters,
    opts: AgentMetricsOptions,
  ) {
    this.maxSeries = opts.maxSeries ?? 2000;
    this.pod = opts.podLabels ?? true;
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    // prom-client names these gauges *_total, which Prometheus reserves for counters (promtool rejects them).
    for (const m of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) r.removeSingleMetric(m);
    const ifLabels = this.pod ? ['netns', 'iface', 'pod'] : ['netns', 'iface'];
    const ifl = (netns: string, iface: string, pod: string): Labels => (this.pod ? { netns, iface, pod } : { netns, iface });

    this.gauge('netscope_agent_info', 'The agent: node name and version (value 1).', ['node', 'version'], (emit) =>
      emit({ node: opts.node, version: opts.version }, 1),
    );
    this.gauge('netscope_namespaces_followed', 'Network namespaces the agent follows.', [], (emit) => emit({}, engine.followed.length));
    this.counter('netscope_discoveries_total', 'Namespace discoveries done.', [], (emit) => emit({}, engine.discoveries));
    this.gauge('netscope_capture_interfaces', 'Interfaces captured on, by state (starting, running, failed).', ['state'], (emit) => {
      const n: Record<string, number> = { starting: 0, running: 0, failed: 0 };
      for (const s of engine.sources.values()) if (s.state in n) n[s.state]++;
      for (const [state, v] of Object.entries(n)) emit({ state }, v);
    });

    // Captured traffic per interface (what the flow engine saw).
    this.counter('netscope_capture_packets_total', 'Packets captured per interface.', ifLabels, (emit) => {
      for (const s of engine.sources.values()) emit(ifl(s.netns, s.iface, s.pod), s.packets);
    });
    this.counter('netscope_capture_bytes_total', 'Bytes (wire length) captured per interface.', ifLabels, (emit) => {
      for (const s of engine.sources.values()) emit(ifl(s.netns, s.iface, s.pod), s.bytes);
    });
    this.counter(
      'netscope_capture_drops_total',
      'Packets lost to the capture per interface: reason kernel (pcap_stats: ring full and interface drops), interface (rx_dropped growth while capturing), agent (capture process fell behind).',
      [...ifLabels, 'reason'],
      (emit) => {
        for (const s of engine.sources.values()) {
          engine.takeStats(s);
          emit({ ...ifl(s.netns, s.iface, s.pod), reason: 'kernel' }, s.kernelDrops);
          emit({ ...ifl(s.netns, s.iface, s.pod), reason: 'interface' }, s.ifaceDrops);
          emit({ ...ifl(s.netns, s.iface, s.pod), reason: 'agent' }, s.agentDrops);
        }
      },
    );

    // Kernel interface counters (every interface of every followed namespace, captured or not).
    this.counter('netscope_interface_packets_total', 'Kernel packet counters per interface and direction.', [...ifLabels, 'direction'], (emit) => {
      for (const i of engine.ifaces) {
        emit({ ...ifl(i.netns, i.iface, i.pod), direction: 'rx' }, i.rxPackets);
        emit({ ...ifl(i.netns, i.iface, i.pod), direction: 'tx' }, i.txPackets);
      }
    });
    this.counter('netscope_interface_bytes_total', 'Kernel byte counters per interface and direction.', [...ifLabels, 'direction'], (emit) => {
      for (const i of engine.ifaces) {
        emit({ ...ifl(i.netns, i.iface, i.pod), direction: 'rx' }, i.rxBytes);
        emit({ ...ifl(i.netns, i.iface, i.pod), direction: 'tx' }, i.txBytes);
      }
    });
    this.counter('netscope_interface_drops_total', 'Kernel drop counters per interface and direction.', [...ifLabels, 'direction'], (emit) => {
      for (const i of engine.ifaces) {
        emit({ ...ifl(i.netns, i.iface, i.pod), direction: 'rx' }, i.rxDropped);
        emit({ ...ifl(i.netns, i.iface, i.pod), direction: 'tx' }, i.txDropped);
      }
    });

    // Flow engine (node-wide: no per-flow labels).
    this.gauge('netscope_flows_active', 'Flows currently tracked.', [], (emit) => emit({}, engine.flows.size));
    this.counter('netscope_flows_evicted_total', 'Flows evicted because the flow table was full.', [], (emit) => emit({}, engine.flows.counters().evicted));
    this.counter('netscope_tcp_failed_connects_total', 'TCP connects that failed: refused by RST, or SYNs unanswered until the flow expired.', [], (emit) =>
      emit({}, engine.flows.counters().tcpFailedConnects),
    );
    this.counter('netscope_tcp_resets_total', 'TCP connections reset after the handshake (or seen mid-stream).', [], (emit) => emit({}, engine.flows.counters().tcpResets));
    this.counter('netscope_icmp_unreachables_total', 'ICMP and ICMPv6 destination-unreachable messages.', [], (emit) => emit({}, engine.flows.counters().icmpUnreachables));
    this.counter('netscope_arp_requests_total', 'ARP requests seen.', [], (emit) => emit({}, engine.flows.arp.counters.requests));
    this.counter('netscope_arp_replies_total', 'ARP replies seen.', [], (emit) => emit({}, engine.flows.arp.counters.replies));
    this.gauge('netscope_arp_unanswered_targets', 'IPv4 addresses asked for by ARP that never answered (since the agent started).', [], (emit) => {
      let n = 0;
      for (const t of engine.flows.arp.targets()) if (t.requests > 0 && t.replies === 0) n++;
      emit({}, n);
    });
    this.counter('netscope_wire_mac_moves_total', 'Source MACs seen on a different interface than before (learned from captured frames).', [], (emit) =>
      emit({}, engine.flows.mac.moves().length + engine.flows.mac.movesDropped),
    );
    this.counter('netscope_fdb_mac_moves_total', 'MACs the bridge moved to another port between two FDB reads.', ['netns', 'bridge'], (emit) => {
      for (const b of engine.bridges.values()) emit({ netns: b.netns, bridge: b.bridge }, b.moves);
    });
    this.gauge('netscope_fdb_entries', 'Entries in the bridge forwarding database.', ['netns', 'bridge'], (emit) => {
      for (const b of engine.bridges.values()) emit({ netns: b.netns, bridge: b.bridge }, b.entries);
    });

    // Firewall rule counters (kernel values: absolute, reset when a rule is replaced or zeroed).
    const ruleLabels = ['netns', 'backend', 'table', 'chain', 'rule', 'verdict'];
    const eachRule = (f: (netns: string, r: RuleCounter) => void): void => {
      for (const [netns, rules] of engine.rules) for (const r of rules) if (r.counted) f(netns, r);
    };
    const ruleL = (netns: string, r: RuleCounter): Labels => ({
      netns,
      backend: r.backend,
      table: r.family === 'ip' || r.family === 'ip6' ? r.table : `${r.family} ${r.table}`,
      chain: r.chain,
      rule: r.position === 0 ? 'policy' : labelValue(r.text),
      verdict: r.target === '' ? 'none' : labelValue(r.target, 64),
    });
    this.counter('netscope_rule_packets_total', 'Packets matched per firewall rule (iptables, ip6tables, nftables; policy = chain policy).', ruleLabels, (emit) =>
      eachRule((ns, r) => emit(ruleL(ns, r), r.packets)),
    );
    this.counter('netscope_rule_bytes_total', 'Bytes matched per firewall rule.', ruleLabels, (emit) => eachRule((ns, r) => emit(ruleL(ns, r), r.bytes)));
    this.counter('netscope_rule_drop_packets_total', 'Packets matched by DROP/REJECT rules and DROP policies, per namespace.', ['netns'], (emit) =>
      eachRule((ns, r) => {
        if (isDropTarget(r.target)) emit({ netns: ns }, r.packets);
      }),
    );
    this.counter('netscope_kube_service_packets_total', 'Packets kube-proxy sent to a Service (iptables mode: KUBE-SERVICES and KUBE-NODEPORTS jumps).', ['netns', 'service'], (emit) =>
      eachRule((ns, r) => {
        if (r.service !== undefined && (r.chain === 'KUBE-SERVICES' || r.chain === 'KUBE-NODEPORTS') && /^KUBE-(SVC|SVL|EXT|XLB|FW)-/.test(r.target)) {
          emit({ netns: ns, service: labelValue(r.service, 128) }, r.packets);
        }
      }),
    );

    // HTTP side.
    this.gauge('netscope_capture_streams_active', 'Capture streams (/capture) being served.', [], (emit) => emit({}, streams.active));
    this.counter('netscope_capture_streams_total', 'Capture stream requests by result: served, limit (429), unauthorized (401), bad_request (400/404).', ['result'], (emit) => {
      emit({ result: 'served' }, streams.served);
      emit({ result: 'limit' }, streams.refusedLimit);
      emit({ result: 'unauthorized' }, streams.unauthorized);
      emit({ result: 'bad_request' }, streams.badRequest);
    });
    this.counter('netscope_capture_stream_packets_total', 'Packets written to capture streams.', [], (emit) => emit({}, streams.packets));
    this.counter('netscope_capture_stream_dropped_packets_total', 'Packets not sent to a capture stream because its client read too slowly.', [], (emit) =>
      emit({}, streams.droppedPackets),
    );
    // Last, so it sees the refusals of this scrape's families (prom-client collects in registration order).
    this.counter('netscope_metric_label_sets_refused_total', 'Label sets not exported because their family reached its cap.', ['metric'], (emit) => {
      for (const b of this.budgets) emit({ metric: b.metric }, b.refused);
    });
  }

  /** The text Prometheus scrapes. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** A family filled at scrape time; label sets beyond the budget are refused, vanished ones released. */
  private filler(name: string, fill: (emit: Emit) => void, set: (labels: Labels, v: number) => void): () => void {
    // The refusal counter itself has one label set per family: it is bounded by the code, not by the host.
    const budget = new SeriesBudget(name, name === 'netscope_metric_label_sets_refused_total' ? Infinity : this.maxSeries);
    if (budget.max !== Infinity) this.budgets.push(budget);
    let live = new Set<string>();
    return () => {
      const now = new Set<string>();
      fill((labels, v) => {
        const key = seriesKey(Object.values(labels));
        if (!budget.admit(key)) return;
        now.add(key);
        set(labels, Number.isFinite(v) && v > 0 ? v : 0);
      });
      for (const k of live) if (!now.has(k)) budget.release(k);
      live = now;
    };
  }

  private counter(name: string, help: string, labelNames: string[], fill: (emit: Emit) => void): void {
    this.family(Counter, name, help, labelNames, fill);
  }

  private gauge(name: string, help: string, labelNames: string[], fill: (emit: Emit) => void): void {
    this.family(Gauge, name, help, labelNames, fill);
  }

  /** Registers a family whose collect() resets it and refills it from the engine (inc on a fresh set = set). */
  private family(Kind: typeof Counter | typeof Gauge, name: string, help: string, labelNames: string[], fill: (emit: Emit) => void): void {
    const m: Counter<string> | Gauge<string> = new Kind({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect: () => {
        m.reset();
        run();
      },
    });
    const run = this.filler(name, fill, (labels, v) => m.inc(labels, v));
  }
}
