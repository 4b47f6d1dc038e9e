/**
 * Fake dashboard sources (src/tui/sources.ts): a record source that replays capture fixtures through the
 * parser LiveCapture uses, pollers the test pushes results into, and a clock the test advances.
 */
import { EventEmitter } from 'events';
import fs from 'fs';
import type { TargetStats } from '../../src/capture/live';
import { CaptureParser } from '../../src/pcap/reader';
import type { PacketRecord } from '../../src/pcap/record';
import type { Clock, HostPoller, RecordSource } from '../../src/tui/sources';

interface Timer {
  every: number;
  due: number;
  fn: () => void;
  live: boolean;
}

/** A clock that moves only when advance() is called; timers fire in due order as it passes them. */
export class FakeClock implements Clock {
  private ms: number;
  private timers: Timer[] = [];

  constructor(startSec: number) {
    this.ms = Math.round(startSec * 1000);
  }

  now(): number {
    return this.ms / 1000;
  }

  every(ms: number, fn: () => void): () => void {
    const t: Timer = { every: ms, due: this.ms + ms, fn, live: true };
    this.timers.push(t);
    return () => {
      t.live = false;
    };
  }

  advance(ms: number): void {
    if (ms > 3_600_000) throw new Error('advance() by more than an hour: start the clock nearer to the test\'s times');
    const end = this.ms + ms;
    for (;;) {
      const next = this.timers.filter((t) => t.live && t.due <= end).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.ms = next.due;
      next.due += next.every;
      next.fn();
    }
    this.ms = end;
    this.timers = this.timers.filter((t) => t.live);
  }
}

/** A host poller whose results the test hands in with push(). */
export class FakePoller<T> implements HostPoller<T> {
  private sink: ((result: T | Error, atSec: number) => void) | undefined;
  stopped = false;

  start(sink: (result: T | Error, atSec: number) => void): void {
    this.sink = sink;
  }

  push(result: T | Error, atSec: number): void {
    if (!this.sink) throw new Error('poller not started');
    if (!this.stopped) this.sink(result, atSec);
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}

export interface FixtureTarget {
  /** Capture file (pcap or pcapng). */
  file: string;
  /** The record source's label for it, like LiveCapture's "NETNS/IFACE". */
  target: string;
}

interface Held {
  rec: PacketRecord;
  index: number;
}

/**
 * Capture fixtures as a live record source: each file is parsed by the same CaptureParser that reads agent
 * streams, records are tagged with iface/ifIndex as LiveCapture tags them, and play() delivers them in
 * timestamp order up to a time. Drop counters are set by the test.
 */
export class FixtureRecords extends EventEmitter implements RecordSource {
  private held: Held[] = [];
  private next = 0;
  private counts: Array<{ packets: number; bytes: number }>;
  /** Per target: kernel/interface/agent drops to report (undefined = unknown). */
  drops: Array<{ kernelDrops?: number; ifDrops?: number; agentDropped?: number }>;
  started = false;
  stopped = false;

  constructor(private readonly targets: FixtureTarget[]) {
    super();
    this.counts = targets.map(() => ({ packets: 0, bytes: 0 }));
    this.drops = targets.map(() => ({}));
    targets.forEach((t, index) => {
      // The parser reuses one record and buffer: keep copies, as a consumer that holds records must.
      const parser = new CaptureParser((rec) => {
        const buf = Buffer.from(rec.buf.subarray(rec.offset, rec.offset + rec.caplen));
        this.held.push({ rec: { ...rec, buf, offset: 0, iface: t.target, ifIndex: index }, index });
      });
      if (!parser.push(fs.readFileSync(t.file)) || parser.end() !== null) throw new Error(`${t.file}: ${parser.error?.message}`);
    });
    this.held.sort((a, b) => a.rec.tsSec - b.rec.tsSec || a.rec.tsNsec - b.rec.tsNsec);
  }

  async start(): Promise<void> {
    this.started = true;
  }

  /** Delivers every record stamped at or before `untilSec` (all when absent); returns how many. */
  play(untilSec = Infinity): number {
    if (!this.started || this.stopped) throw new Error('play() before start() or after stop()');
    let n = 0;
    while (this.next < this.held.length && this.held[this.next].rec.tsSec + this.held[this.next].rec.tsNsec / 1e9 <= untilSec) {
      const { rec, index } = this.held[this.next++];
      this.counts[index].packets++;
      this.counts[index].bytes += rec.caplen;
      this.emit('record', rec);
      n++;
    }
    return n;
  }

  /** Timestamp of the last record, seconds. */
  get lastSec(): number {
    const r = this.held[this.held.length - 1]?.rec;
    return r ? r.tsSec + r.tsNsec / 1e9 : 0;
  }

  stats(): TargetStats[] {
    return this.targets.map((t, i) => {
      const d = this.drops[i];
      return {
        target: t.target,
        packets: this.counts[i].packets,
        bytes: this.counts[i].bytes,
        truncated: 0,
        agentDropped: d.agentDropped ?? 0,
        active: !this.stopped,
        kernelDropped: d.kernelDrops,
        kernelIfDropped: d.ifDrops,
      };
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}
