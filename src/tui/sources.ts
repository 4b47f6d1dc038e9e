/**
 * What the dashboard reads from, as parameters: a record source (LiveCapture, or a replayed fixture in tests),
 * two host pollers (bridge state: discovery + FDB; rule counters), a clock and a CPU meter. The dashboard never
 * builds a source itself, so the same code runs on live captures and on fake inputs (bandwhich's `ui.rs`
 * takes its sniffer and OS readers the same way).
 */
import type { TargetStats } from '../capture/live';
import type { FdbEntry } from '../host/fdb';
import type { RulesSnapshot } from '../host/rules';
import type { PacketRecord } from '../pcap/record';
import type { IfInfo, Topology } from '../topology/discover';

/** Packet records in time order, with per-interface counters. LiveCapture is one. */
export interface RecordSource {
  on(event: 'record', fn: (rec: PacketRecord) => void): this;
  on(event: 'warning', fn: (msg: string) => void): this;
  /** Every interface stopped delivering (stopped, or gone). */
  on(event: 'end', fn: () => void): this;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** One entry per captured interface, in rec.ifIndex order. */
  stats(): TargetStats[];
}

/**
 * A host reader polled on its own interval: hands each result (or error) to the sink, with the wall time of
 * the read. Reads never overlap; stop() resolves once no more results will arrive.
 */
export interface HostPoller<T> {
  start(sink: (result: T | Error, atSec: number) => void): void;
  stop(): Promise<void>;
}

/** The watched bridge as discovery sees it now; `bridge` undefined when it is gone. */
export interface BridgeState {
  topo: Topology;
  bridge: IfInfo | undefined;
  /** The bridge's FDB, MACs resolved to namespaces/pods where possible. */
  fdb: FdbEntry[];
}

/** Wall time and a repeating timer. Tests advance a fake one by hand. */
export interface Clock {
  /** Epoch seconds. */
  now(): number;
  /** Calls `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now() / 1000,
  every: (ms, fn) => {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
};

/** CPU the dashboard's process used since the last reading (percent of one core), undefined when not known yet. */
export interface CpuMeter {
  read(): number | undefined;
}

/** process.cpuUsage() over at least half a second of wall time. */
export function processCpuMeter(): CpuMeter {
  let mark = { usage: process.cpuUsage(), at: process.hrtime.bigint() };
  let last: number | undefined;
  return {
    read(): number | undefined {
      const usage = process.cpuUsage();
      const at = process.hrtime.bigint();
      const wallUs = Number(at - mark.at) / 1000;
      if (wallUs > 500_000) {
        const used = usage.user - mark.usage.user + usage.system - mark.usage.system;
        last = (used / wallUs) * 100;
        mark = { usage, at };
      }
      return last;
    },
  };
}

export interface DashboardSources {
  records: RecordSource;
  bridgeState: HostPoller<BridgeState>;
  rules: HostPoller<RulesSnapshot>;
  clock: Clock;
  /** Absent: the status bar shows no CPU figure. */
  cpu?: CpuMeter;
}
