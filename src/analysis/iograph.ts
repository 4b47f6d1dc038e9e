/**
 * The I/O graph model: packets and bytes per time interval, per series (a protocol, a flow, anything the
 * caller names), as Wireshark's I/O graph counts them. Pure data: `read --io-graph` renders it as text
 * (src/cli/ioGraphText.ts); a live view (the dashboard) feeds it from a capture with `overflow: 'slide'`, so it
 * keeps the last `maxBuckets` intervals.
 *
 * Per packet: one subtraction, one division, two array increments; storage grows by doubling, never per packet.
 */

export interface IoGraphOptions {
  /** Interval length in nanoseconds (> 0). */
  intervalNs: number;
  /**
   * Most intervals kept. Past it, 'coarsen' (a whole capture) merges neighbours so the interval grows by
   * `coarsenFactor` and the whole time range still fits; 'slide' (a live view) drops the oldest.
   */
  maxBuckets?: number;
  overflow?: 'coarsen' | 'slide';
  /** How much the interval grows per coarsening (default 2); `nextInterval` may choose instead. */
  nextInterval?: (ns: number) => number;
}

/** One series' counts, interval by interval (index 0 = the interval at `startSec`/`startNsec`). */
export interface IoSeries {
  name: string;
  packets: Float64Array;
  bytes: Float64Array;
  totalPackets: number;
  totalBytes: number;
}

export class IoGraph {
  private intervalNs: number;
  readonly maxBuckets: number;
  private readonly overflow: 'coarsen' | 'slide';
  private readonly nextInterval: (ns: number) => number;
  private readonly series: IoSeries[] = [];
  private readonly byName = new Map<string, number>();
  /** Time of bucket 0; -1 until the first packet. */
  private t0Sec = -1;
  private t0Nsec = 0;
  /** Buckets in use (highest index + 1). */
  private used = 0;
  private capacity = 64;

  constructor(opts: IoGraphOptions) {
    if (!(opts.intervalNs > 0)) throw new RangeError('interval must be positive');
    this.intervalNs = opts.intervalNs;
    this.maxBuckets = Math.max(2, opts.maxBuckets ?? 100_000);
    this.overflow = opts.overflow ?? 'coarsen';
    this.nextInterval = opts.nextInterval ?? ((ns) => ns * 2);
  }

  /** The series called `name` (created on first use); pass the index to add(). */
  seriesIndex(name: string): number {
    let i = this.byName.get(name);
    if (i === undefined) {
      i = this.series.length;
      this.byName.set(name, i);
      this.series.push({ name, packets: new Float64Array(this.capacity), bytes: new Float64Array(this.capacity), totalPackets: 0, totalBytes: 0 });
    }
    return i;
  }

  /** Counts one packet of `len` bytes at time tsSec + tsNsec/1e9 in series `s`. */
  add(tsSec: number, tsNsec: number, len: number, s: number): void {
    if (this.t0Sec < 0) {
      // Intervals start at the first packet, as Wireshark's I/O graph and tshark -z io,stat count them.
      this.t0Sec = tsSec;
      this.t0Nsec = tsNsec;
    }
    let b = Math.floor(((tsSec - this.t0Sec) * 1e9 + (tsNsec - this.t0Nsec)) / this.intervalNs);
    // Earlier than the first packet (a merged capture slightly out of order): counted in the first interval.
    if (b < 0) b = 0;
    if (b >= this.maxBuckets) b = this.makeRoom(b);
    if (b >= this.capacity) this.grow(b + 1);
    if (b >= this.used) this.used = b + 1;
    const ser = this.series[s];
    ser.packets[b]++;
    ser.bytes[b] += len;
    ser.totalPackets++;
    ser.totalBytes += len;
  }

  get interval(): number {
    return this.intervalNs;
  }

  /** Intervals from the first to the last one with a packet (or the window, sliding). */
  get length(): number {
    return this.used;
  }

  /** Start of interval 0, as epoch seconds and nanoseconds; sec is -1 before any packet. */
  get start(): { sec: number; nsec: number } {
    return { sec: this.t0Sec, nsec: this.t0Nsec };
  }

  /** Every series (arrays longer than `length`: read indexes below it). */
  all(): readonly IoSeries[] {
    return this.series;
  }

  /** Sum over all series of interval `b`. */
  total(b: number): { packets: number; bytes: number } {
    let packets = 0;
    let bytes = 0;
    for (const s of this.series) {
      packets += s.packets[b];
      bytes += s.bytes[b];
    }
    return { packets, bytes };
  }

  /**
   * Adds series `s`'s counts to series `into` and gives `s` a new name with no counts: a bounded set of series
   * (the biggest flows) reuses the slot of one that turned out small.
   */
  fold(s: number, into: number, newName: string): void {
    const a = this.series[s];
    const t = this.series[into];
    for (let i = 0; i < this.used; i++) {
      t.packets[i] += a.packets[i];
      t.bytes[i] += a.bytes[i];
    }
    t.totalPackets += a.totalPackets;
    t.totalBytes += a.totalBytes;
    a.packets.fill(0);
    a.bytes.fill(0);
    a.totalPackets = 0;
    a.totalBytes = 0;
    this.byName.delete(a.name);
    a.name = newName;
    this.byName.set(newName, s);
  }

  private grow(need: number): void {
    let cap = this.capacity;
    while (cap < need) cap *= 2;
    cap = Math.min(cap, this.maxBuckets);
    for (const s of this.series) {
      const p = new Float64Array(cap);
      p.set(s.packets.subarray(0, this.used));
      const y = new Float64Array(cap);
      y.set(s.bytes.subarray(0, this.used));
      s.packets = p;
      s.bytes = y;
    }
    this.capacity = cap;
  }

  /** Makes bucket `b` fit under maxBuckets; returns its new index. */
  private makeRoom(b: number): number {
    if (this.overflow === 'slide') {
      const drop = b - this.maxBuckets + 1;
      for (const s of this.series) {
        if (drop < this.used) {
          s.packets.copyWithin(0, drop, this.used);
          s.bytes.copyWithin(0, drop, this.used);
        }
        s.packets.fill(0, Math.max(0, this.used - drop), this.used);
        s.bytes.fill(0, Math.max(0, this.used - drop), this.used);
      }
      this.used = Math.max(0, this.used - drop);
      // Move the origin forward by `drop` intervals.
      const ns = this.t0Nsec + drop * this.intervalNs;
      this.t0Sec += Math.floor(ns / 1e9);
      this.t0Nsec = ns % 1e9;
      return b - drop;
    }
    // The absolute position of b in nanoseconds after t0 stays the same; the interval grows until it fits.
    const offsetNs = b * this.intervalNs;
    while (Math.floor(offsetNs / this.intervalNs) >= this.maxBuckets) {
      const next = this.nextInterval(this.intervalNs);
      const f = Math.round(next / this.intervalNs);
      if (!(f >= 2) || Math.abs(next - f * this.intervalNs) > 1e-6) throw new RangeError('nextInterval must grow by a whole factor');
      const used = Math.ceil(this.used / f);
      for (const s of this.series) {
        for (let i = 0; i < used; i++) {
          let p = 0;
          let y = 0;
          for (let j = i * f; j < Math.min((i + 1) * f, this.used); j++) {
            p += s.packets[j];
            y += s.bytes[j];
          }
          s.packets[i] = p;
          s.bytes[i] = y;
        }
        s.packets.fill(0, used, this.used);
        s.bytes.fill(0, used, this.used);
      }
      this.used = used;
      this.intervalNs = next;
    }
    return Math.floor(offsetNs / this.intervalNs);
  }
}

/**
 * Interval ladder for automatic coarsening: each value a whole multiple of the one before (ns).
 * 1 s, 2 s, 10 s, 20 s, 1 min, 2 min, 10 min, 20 min, 1 h, then doubling.
 */
export function niceNextInterval(ns: number): number {
  const ladder = [1e9, 2e9, 10e9, 20e9, 60e9, 120e9, 600e9, 1200e9, 3600e9];
  for (const v of ladder) if (v > ns && v % ns === 0) return v;
  return ns * 2;
}
