/**
 * LiveCapture: captures on one or more interfaces, each possibly in another network namespace, and emits
 * one record stream in timestamp order with rec.iface = "NETNS/IFACE" ("IFACE" in netscope's own namespace)
 * and rec.ifIndex = the target's index. This is the capture source the CLI, the dashboard and diagnose share.
 *
 * Every interface is captured by an agent process (agent.ts) started in its namespace (a libpcap handle is
 * bound to the namespace of the thread that opened it), also in netscope's own namespace so that every source
 * behaves alike. Records carry the kernel's capture timestamps (nanoseconds, CLOCK_REALTIME, one clock for
 * every namespace), so the merge puts one packet seen on several hops in physical order.
 */
import { EventEmitter } from 'events';
import { CaptureParser } from '../pcap/reader';
import type { PacketRecord } from '../pcap/record';
import { AgentExit, AgentProcess, AgentStartError } from './agentProcess';
import type { AgentCounters, CaptureJob } from './agentProtocol';
import { DEFAULT_RING_BYTES, DEFAULT_TIMEOUT_MS } from '../libpcap/handle';
import { describeFilterError } from '../filter/filter';
import { TimestampMerger } from './merge';
import { CaptureTarget, TargetError, checkTargetExists, listInterfaces, targetLabel, targetSpec } from './target';

export interface LiveCaptureOptions {
  /** pcap-filter expression, compiled by libpcap to kernel BPF in every namespace. */
  filter?: string;
  /**
   * Merging several interfaces waits for every agent's promise (an in-band heartbeat every 50 ms); an agent
   * not heard from for this long, while the others are, stops holding them back (default 2000 ms).
   */
  reorderWindowMs?: number;
  /** Kernel capture ring per interface (tcpdump -B; default 32 MiB). */
  ringBytes?: number;
  /** Snapshot length (tcpdump -s; default 262144). */
  snaplen?: number;
  /** Promiscuous mode (default true; tcpdump -p = false). */
  promisc?: boolean;
  /** libpcap immediate mode (lowest latency; a smaller ring in frames). */
  immediate?: boolean;
  /** How often agents report interface drop counters (default 1000 ms). */
  statsIntervalMs?: number;
}

/** Why start() failed: usage mistakes (exit 2) vs. failures (exit 1) are told apart by `usage`. */
export class CaptureStartError extends Error {
  constructor(
    readonly kind: 'target' | 'filter' | 'permission' | 'failure',
    message: string,
  ) {
    super(message);
    this.name = 'CaptureStartError';
  }

  get usage(): boolean {
    return this.kind === 'target' || this.kind === 'filter';
  }
}

export interface TargetStats {
  target: string;
  packets: number;
  bytes: number;
  /** rx_dropped growth of the interface during the capture (from its namespace's /proc/net/dev). */
  ifaceDrops?: number;
  /** Records cut short by the snapshot length. */
  truncated: number;
  /** pcap_stats, as tcpdump reports them: packets received by filter, dropped by kernel, dropped by interface. */
  kernelReceived?: number;
  kernelDropped?: number;
  kernelIfDropped?: number;
  /** Captured but dropped by the agent because netscope fell more than 256 MiB behind reading them. */
  agentDropped: number;
  /** Still capturing. */
  active: boolean;
}

/** One captured interface as a file writer declares it (pcapng IDB). */
export interface CapturedInterface {
  /** "NETNS/IFACE" or "IFACE": the records' rec.iface. */
  name: string;
  linktype: number;
  snaplen: number;
}

interface Source {
  target: CaptureTarget;
  linktype: number;
  snaplen: number;
  label: string;
  agent: AgentProcess;
  parser: CaptureParser | null;
  packets: number;
  bytes: number;
  agentCounters: AgentCounters | null;
  active: boolean;
  /** Date.now() when the source's stream last delivered anything (records or heartbeats). */
  lastHeardMs: number;
}

export declare interface LiveCapture {
  on(event: 'record', fn: (rec: PacketRecord) => void): this;
  on(event: 'warning', fn: (msg: string) => void): this;
  /** Every source has ended (stopped, or all interfaces gone). */
  on(event: 'end', fn: () => void): this;
}

export class LiveCapture extends EventEmitter {
  private readonly sources: Source[];
  private readonly windowMs: number;
  private merger: TimestampMerger | null = null;
  private releaseTimer: NodeJS.Timeout | null = null;
  private started = false;
  private stopping: Promise<void> | null = null;
  private ended = false;

  constructor(
    readonly targets: CaptureTarget[],
    private readonly opts: LiveCaptureOptions = {},
  ) {
    super();
    if (targets.length === 0) throw new TargetError('name at least one interface to capture on (-i IFACE[@NETNS])');
    this.windowMs = opts.reorderWindowMs ?? 2000;
    const job = (t: CaptureTarget): CaptureJob => ({
      mode: 'capture',
      iface: t.iface,
      filter: opts.filter ?? '',
      snaplen: opts.snaplen,
      promisc: opts.promisc,
      immediate: opts.immediate,
      ringBytes: opts.ringBytes ?? DEFAULT_RING_BYTES,
      timeoutMs: DEFAULT_TIMEOUT_MS,
      statsIntervalMs: opts.statsIntervalMs ?? 1000,
    });
    this.sources = targets.map((t) => ({
      target: t,
      linktype: 1,
      snaplen: 65535,
      label: targetLabel(t),
      agent: new AgentProcess(t, job(t)),
      parser: null,
      packets: 0,
      bytes: 0,
      agentCounters: null,
      active: false,
      lastHeardMs: 0,
    }));
  }

  /**
   * Checks every target, starts the agents, waits until each has opened libpcap with the filter, then
   * starts streaming. Rejects with CaptureStartError (nothing is captured then): unknown interface or
   * namespace (lists what exists), libpcap's message for a bad filter, missing CAP_NET_RAW.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('LiveCapture.start() called twice');
    this.started = true;
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      throw new CaptureStartError('permission', 'live capture needs CAP_NET_RAW (and CAP_SYS_ADMIN to enter namespaces): run as root (sudo netscope capture …)');
    }
    try {
      await Promise.all(this.targets.map((t) => checkTargetExists(t)));
    } catch (e) {
      if (e instanceof TargetError) throw new CaptureStartError('target', e.message);
      throw new CaptureStartError('failure', e instanceof Error ? e.message : String(e));
    }
    const results = await Promise.allSettled(this.sources.map((s) => s.agent.start()));
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        this.sources[i].linktype = r.value.linktype;
        this.sources[i].snaplen = r.value.snaplen;
        if (r.value.warning) this.emit('warning', `${targetSpec(this.sources[i].target)}: ${r.value.warning}`);
      }
    });
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      await Promise.all(this.sources.map((s) => s.agent.stop(1000)));
      const reason = (results[failed] as PromiseRejectedResult).reason as unknown;
      throw this.startError(this.sources[failed].target, reason);
    }
    if (this.sources.length > 1) {
      this.merger = new TimestampMerger(
        this.sources.map((s) => s.label),
        (rec) => this.emit('record', rec),
      );
      const every = Math.max(20, Math.min(100, Math.floor(this.windowMs / 2)));
      this.releaseTimer = setInterval(() => this.releaseHeld(), every);
    }
    this.sources.forEach((s, i) => this.wire(s, i));
    for (const s of this.sources) s.agent.go();
  }

  private startError(t: CaptureTarget, reason: unknown): CaptureStartError {
    const msg = reason instanceof Error ? reason.message : String(reason);
    if (reason instanceof AgentStartError) {
      switch (reason.kind) {
        case 'filter':
          return new CaptureStartError('filter', `${targetSpec(t)}: ${describeFilterError(this.opts.filter ?? '', msg)}`);
        case 'iface':
          return new CaptureStartError('target', `${targetSpec(t)}: ${msg}`);
        case 'permission':
          return new CaptureStartError('permission', `${targetSpec(t)}: ${msg}: capture needs CAP_NET_RAW (run as root)`);
        default:
          break;
      }
    }
    return new CaptureStartError('failure', `${targetSpec(t)}: ${msg}`);
  }

  private wire(s: Source, index: number): void {
    s.active = true;
    const merger = this.merger;
    const onRecord = (rec: PacketRecord): void => {
      if (rec.len === 0 && rec.caplen === 0) {
        // The agent's heartbeat: everything before this time was sent.
        merger?.promise(index, rec.tsSec, rec.tsNsec);
        return;
      }
      s.packets++;
      s.bytes += rec.caplen;
      rec.iface = s.label;
      rec.ifIndex = index;
      if (merger === null) this.emit('record', rec);
      else merger.push(index, rec);
    };
    const parser = new CaptureParser(onRecord);
    s.parser = parser;
    s.lastHeardMs = Date.now();
    s.agent.on('data', (chunk: Buffer) => {
      s.lastHeardMs = Date.now();
      parser.push(chunk);
      if (merger !== null) this.releaseHeld();
    });
    s.agent.on('message', (m) => {
      if (m.type === 'stats' || m.type === 'done') s.agentCounters = m;
    });
    s.agent.on('exit', (e: AgentExit) => void this.sourceEnded(s, index, e));
  }

  private releaseHeld(): void {
    if (this.merger === null) return;
    // An agent silent for longer than the window (stopped, starved) no longer holds the others back: its
    // promise moves to now − window (kernel timestamps are CLOCK_REALTIME, the clock of Date.now()).
    // Only while another source is being heard: when netscope itself lags (every pipe unread), all sources
    // look silent at once and none of them is stalled.
    const now = Date.now();
    const heard = this.sources.reduce((m, s) => Math.max(m, s.lastHeardMs), 0);
    if (now - heard < 200) {
      const fallbackMs = now - this.windowMs;
      const sec = Math.floor(fallbackMs / 1000);
      const nsec = Math.round((fallbackMs - sec * 1000) * 1e6);
      this.sources.forEach((s, i) => {
        if (s.active && now - s.lastHeardMs > this.windowMs) this.merger?.promise(i, sec, nsec);
      });
    }
    this.merger.release(-Infinity, 0);
  }

  private async sourceEnded(s: Source, index: number, e: AgentExit): Promise<void> {
    s.active = false;
    s.parser?.end();
    if (s.parser?.error) this.emit('warning', `${targetSpec(s.target)}: capture stream damaged: ${s.parser.error.message}`);
    this.merger?.close(index);
    this.releaseHeld();
    if (!e.clean && this.stopping === null) this.emit('warning', await this.explainExit(s, e));
    if (this.sources.every((x) => !x.active)) this.finish();
  }

  /** One line saying why an agent stopped early, checking whether its interface still exists. */
  private async explainExit(s: Source, e: AgentExit): Promise<string> {
    const spec = targetSpec(s.target);
    let gone = false;
    try {
      gone = !(await listInterfaces(s.target.netns)).includes(s.target.iface);
    } catch {
      gone = true; // the namespace itself is gone
    }
    const kept = `${s.packets} packets kept`;
    if (gone) return `${spec}: interface or namespace was deleted; capture on it stopped (${kept}), others continue`;
    if (e.lost !== null) return `${spec}: interface went down (${e.lost}); capture on it stopped (${kept}), others continue`;
    const why = e.text.join('; ') || (e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`);
    return `${spec}: capture agent stopped (${why}); ${kept}, others continue`;
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.releaseTimer) clearInterval(this.releaseTimer);
    this.releaseTimer = null;
    this.merger?.release(Infinity, 0);
    this.emit('end');
  }

  /** Stops every agent (they flush what they captured), delivers all held records, then resolves. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      await Promise.all(this.sources.map((s) => s.agent.stop()));
      // 'exit' handlers run before stop() resolves; make sure the end is delivered even if none was wired.
      this.finish();
    })();
    return this.stopping;
  }

  /** The captured interfaces in target order (index = rec.ifIndex); link types are known after start(). */
  interfaces(): CapturedInterface[] {
    return this.sources.map((s) => ({ name: s.label, linktype: s.linktype, snaplen: s.snaplen }));
  }

  stats(): TargetStats[] {
    return this.sources.map((s) => ({
      target: s.label,
      packets: s.packets,
      bytes: s.bytes,
      ifaceDrops: s.agentCounters?.ifaceRxDropped,
      truncated: s.agentCounters?.truncated ?? 0,
      agentDropped: s.agentCounters?.agentDropped ?? 0,
      kernelReceived: s.agentCounters?.kernelReceived,
      kernelDropped: s.agentCounters?.kernelDropped,
      kernelIfDropped: s.agentCounters?.kernelIfDropped,
      active: s.active,
    }));
  }

  /** Records released out of order because a source lagged more than the reorder window. */
  get lateRecords(): number {
    return this.merger?.late ?? 0;
  }
}
