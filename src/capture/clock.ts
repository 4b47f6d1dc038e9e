/**
 * Arrival timestamps. cap gives no capture time, so records are stamped when JavaScript sees them.
 * All processes of one capture (the parent and its namespace agents) must agree on the clock to merge
 * by time: CLOCK_MONOTONIC (process.hrtime) is shared by every process on the host, so the parent measures
 * one offset "wall − monotonic" and hands it to each agent. Stamping uses performance.now() (a double on
 * the same monotonic clock) so the hot path allocates nothing; a BigInt per packet would.
 */
import { performance } from 'perf_hooks';

/** Wall-clock minus monotonic clock, in nanoseconds (as a decimal string: it exceeds 2^53). */
export function measureWallOffsetNs(): string {
  const mono = process.hrtime.bigint();
  const wallNs = BigInt(Date.now()) * 1_000_000n;
  return (wallNs - mono).toString();
}

export class ArrivalClock {
  /** Last stamp, written by stamp(): seconds and nanoseconds kept apart (64-bit ns exceed 2^53). */
  sec = 0;
  nsec = 0;
  private readonly baseSec: number;
  private readonly baseNsec: number;
  private readonly perfBase: number;

  /** offsetNs: from measureWallOffsetNs() (in the parent); omitted = measured here. */
  constructor(offsetNs: string = measureWallOffsetNs()) {
    // Anchor: monotonic "now" as BigInt once, then advance with performance.now() (same clock, a double).
    // The midpoint of two performance.now() reads around the hrtime read: anchoring error well under 1 µs.
    const perfBefore = performance.now();
    const mono0 = process.hrtime.bigint();
    const perfAfter = performance.now();
    const wall0 = mono0 + BigInt(offsetNs);
    this.baseSec = Number(wall0 / 1_000_000_000n);
    this.baseNsec = Number(wall0 % 1_000_000_000n);
    this.perfBase = (perfBefore + perfAfter) / 2;
  }

  /** Stamps "now" into sec/nsec (no allocation). */
  stamp(): void {
    const deltaNs = Math.floor((performance.now() - this.perfBase) * 1e6);
    const ns = this.baseNsec + deltaNs;
    const carry = Math.floor(ns / 1e9);
    this.sec = this.baseSec + carry;
    this.nsec = ns - carry * 1e9;
  }

  /** The current time as nanoseconds since the epoch, as a double (≈ 256 ns precision: for windows only). */
  nowApproxNs(): number {
    this.stamp();
    return this.sec * 1e9 + this.nsec;
  }
}
