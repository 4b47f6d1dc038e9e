/**
 * The problem digest: problems grouped by kind with counts, and per kind the few most significant ones (most
 * packets affected, then seen first). A capture with 300k flows can hold 80k problems; the digest is what a
 * person reads (the text report, the dashboard) and what a metric counts (the agent), while JSON keeps every
 * problem. Data only: views write the sentences.
 *
 * Sources offer candidates as numbers (kind, packets affected, first-seen time, a reference the source can
 * turn into a Problem later), so only the kept few become objects.
 */
import { PROBLEM_ORDER, Problem, ProblemKind } from './problems';

export interface ProblemKindDigest {
  kind: ProblemKind;
  /** Problems of this kind. */
  count: number;
  /** Packets they affected (failed connects: the flows' packets; unanswered echo/ARP: the requests; …). */
  packets: number;
  /** The most significant few, most packets first, then earliest first seen. */
  top: Problem[];
}

export interface ProblemDigest {
  /** Problems of every kind. */
  total: number;
  /** How many of each kind `top` holds at most. */
  perKind: number;
  /** Kinds with at least one problem, in PROBLEM_ORDER (what breaks connectivity first). */
  kinds: ProblemKindDigest[];
}

/** Index of a kind in PROBLEM_ORDER. */
export const KIND_INDEX: Readonly<Record<ProblemKind, number>> = Object.fromEntries(PROBLEM_ORDER.map((k, i) => [k, i])) as Record<ProblemKind, number>;

/** Where sources offer their problems as numbers. */
export interface ProblemSink {
  /** A problem of kind `k` (KIND_INDEX) that affected `packets`, first seen at `first` (s); `ref` identifies it to its source. */
  offer(k: number, packets: number, first: number, ref: number): void;
}

/**
 * Every offered problem's reference, per kind (numbers only: a list of 100k problems is two arrays, not 100k
 * objects), for writers that emit all problems one at a time (JSON lines).
 */
export class ProblemList implements ProblemSink {
  private readonly first: number[][] = PROBLEM_ORDER.map(() => []);
  private readonly refs: number[][] = PROBLEM_ORDER.map(() => []);

  offer(k: number, _packets: number, first: number, ref: number): void {
    this.first[k].push(first);
    this.refs[k].push(ref);
  }

  /** References of kind `k`, earliest first seen first (ties in offer order). */
  sorted(k: number): Float64Array {
    const n = this.refs[k].length;
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const f = this.first[k];
    order.sort((x, y) => f[x] - f[y] || x - y);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.refs[k][order[i]];
    return out;
  }
}

/**
 * Collects candidates per kind, keeping the `perKind` most significant in a heap of typed arrays (the root is
 * the least significant kept). Offering allocates nothing.
 */
export class ProblemDigestBuilder implements ProblemSink {
  readonly counts = new Float64Array(PROBLEM_ORDER.length);
  readonly packets = new Float64Array(PROBLEM_ORDER.length);
  private readonly n = new Int32Array(PROBLEM_ORDER.length);
  private readonly hPackets: Float64Array;
  private readonly hFirst: Float64Array;
  private readonly hRef: Float64Array;

  constructor(readonly perKind: number) {
    const size = Math.max(1, perKind) * PROBLEM_ORDER.length;
    this.hPackets = new Float64Array(size);
    this.hFirst = new Float64Array(size);
    this.hRef = new Float64Array(size);
  }

  /** Counts a problem of kind `k` (KIND_INDEX) that affected `packets`, first seen at `first` (s); `ref` identifies it to its source. */
  offer(k: number, packets: number, first: number, ref: number): void {
    this.counts[k]++;
    this.packets[k] += packets;
    const cap = this.perKind;
    if (cap <= 0) return;
    const base = k * cap;
    let n = this.n[k];
    if (n < cap) {
      // Sift up: the root is the least significant.
      let j = n++;
      this.n[k] = n;
      while (j > 0) {
        const p = (j - 1) >> 1;
        if (!this.less(packets, first, ref, this.hPackets[base + p], this.hFirst[base + p], this.hRef[base + p])) break;
        this.set(base + j, base + p);
        j = p;
      }
      this.hPackets[base + j] = packets;
      this.hFirst[base + j] = first;
      this.hRef[base + j] = ref;
      return;
    }
    if (!this.less(this.hPackets[base], this.hFirst[base], this.hRef[base], packets, first, ref)) return;
    // Replace the root and sift down.
    let j = 0;
    for (;;) {
      const l = 2 * j + 1;
      if (l >= n) break;
      let c = l;
      if (l + 1 < n && this.less(this.hPackets[base + l + 1], this.hFirst[base + l + 1], this.hRef[base + l + 1], this.hPackets[base + l], this.hFirst[base + l], this.hRef[base + l])) c = l + 1;
      if (!this.less(this.hPackets[base + c], this.hFirst[base + c], this.hRef[base + c], packets, first, ref)) break;
      this.set(base + j, base + c);
      j = c;
    }
    this.hPackets[base + j] = packets;
    this.hFirst[base + j] = first;
    this.hRef[base + j] = ref;
  }

  /** The kept references of kind `k`, most significant first. */
  kept(k: number): number[] {
    const base = k * this.perKind;
    const idx: number[] = [];
    for (let i = 0; i < this.n[k]; i++) idx.push(base + i);
    idx.sort((x, y) => (this.less(this.hPackets[y], this.hFirst[y], this.hRef[y], this.hPackets[x], this.hFirst[x], this.hRef[x]) ? -1 : 1));
    return idx.map((i) => this.hRef[i]);
  }

  /** Builds the digest, turning each kept reference into its Problem. */
  build(problemOf: (ref: number, kind: ProblemKind) => Problem | undefined): ProblemDigest {
    const kinds: ProblemKindDigest[] = [];
    let total = 0;
    for (let k = 0; k < PROBLEM_ORDER.length; k++) {
      if (this.counts[k] === 0) continue;
      total += this.counts[k];
      const top: Problem[] = [];
      for (const ref of this.kept(k)) {
        const p = problemOf(ref, PROBLEM_ORDER[k]);
        if (p !== undefined) top.push(p);
      }
      kinds.push({ kind: PROBLEM_ORDER[k], count: this.counts[k], packets: this.packets[k], top });
    }
    return { total, perKind: this.perKind, kinds };
  }

  /** True when candidate a is less significant than b: fewer packets, then seen later, then the later reference. */
  private less(pa: number, fa: number, ra: number, pb: number, fb: number, rb: number): boolean {
    if (pa !== pb) return pa < pb;
    if (fa !== fb) return fa > fb;
    return ra > rb;
  }

  private set(to: number, from: number): void {
    this.hPackets[to] = this.hPackets[from];
    this.hFirst[to] = this.hFirst[from];
    this.hRef[to] = this.hRef[from];
  }
}
