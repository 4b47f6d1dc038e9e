/**
 * The slot store of the flow engine: each flow is one REC-byte record in a single ArrayBuffer, read through
 * typed views of every width (layout below), with side tables for what few flows need (IPv6/MAC address
 * words beyond the first, ICMP errors). An open-addressing index of int32 entries (slot + 1 and a hash tag)
 * finds records by hash; live slots sit on an LRU list ordered by the rate interval in which they were last
 * seen, free ones on a free list. Records for maxFlows are reserved up front as address space: pages are
 * committed as slots are first used, and the table never copies itself.
 *
 * The store knows nothing of packets: the key (flowKey.ts) finds and fills records, FlowTable (flows.ts)
 * updates them, the readout (flowReadout.ts) turns them into data.
 */

export const FAM_ETH = 0;
export const FAM_ARP = 1;
export const FAM_V4 = 4;
export const FAM_V6 = 6;

export const ST_NONE = 0;
export const ST_SYN_SENT = 1;
export const ST_SYN_RCVD = 2;
export const ST_ESTABLISHED = 3;
export const ST_CLOSING = 4;
export const ST_CLOSED = 5;
export const ST_RESET = 6;

export const TF_SYNACK = 1;
export const TF_FIN_A = 2;
export const TF_FIN_B = 4;
export const TF_MIDSTREAM = 8;
export const TF_ESTABLISHED_EVER = 16;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;


/*
 * Flow record layout: REC bytes per slot. Field names say the view: F_ = Float64 index, W_ = 32-bit index
 * (Uint32/Int32/Float32), H_ = Uint16 index, B_ = byte index, each relative to the slot's start in that unit.
 * The first 64 bytes hold everything a typical packet reads or writes (key, counters, last-seen time, rate).
 */
export const REC = 128;
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Word 3 holds proto (u16), family (u8) and the TCP state (u8): keyMatches compares the first two. */
export const PROTO_FAM_MASK = LITTLE_ENDIAN ? 0x00ffffff : 0xffffff00;
export const F = REC / 8;
export const W = REC / 4;
export const H = REC / 2;
export const B = REC;
export const W_A0 = 0; // address a (IPv4, first IPv6 word, MAC high 16 bits)
export const W_B0 = 1;
export const H_A_PORT = 4;
export const H_B_PORT = 5;
export const H_PROTO = 6;
export const B_FAM = 14;
export const B_TST = 15; // TCP state
export const W_VNI = 4; // int32, -1 = not inside VXLAN
export const W_LAST_SEC = 5;
export const W_LAST_NS = 6;
export const W_RATE_K = 7; // int32 interval number - rateBase
export const W_RATE_CUR = 8; // float32 bytes in interval W_RATE_K
export const W_IF_MASK = 9;
export const F_BYTE_AB = 5;
export const F_BYTE_BA = 6;
export const W_PKT_AB = 14; // low 32 bits; the high word is W_PKT_AB_HI
export const W_PKT_BA = 15;
// ---- second cache line: touched once per rate interval or on connection events
export const W_RATE_PREV = 16; // float32 bytes in the interval before
export const W_LPREV = 17; // int32 LRU links (W_LNEXT also chains free slots)
export const W_LNEXT = 18;
export const W_FIRST_SEC = 19;
export const W_FIRST_NS = 20;
export const W_GEN = 21; // bumped on every reuse of the slot: echo matches never cross flows
export const H_PKT_AB_HI = 44; // packets above 2^32, per direction
export const H_PKT_BA_HI = 45;
export const B_TFL = 92;
export const B_RST_BY = 93;
export const H_SYNS = 47;
export const W_C1 = 24; // echo requests / ARP requests
export const W_C2 = 25; // echo replies / ARP replies
export const W_RTT_MIN = 26; // float32 ms
export const W_RTT_MAX = 27; // float32 ms
export const W_RTT_MEAN = 28; // float32 ms, running mean (stable in single precision, unlike a sum)
export const W_RTT_N = 29;
export const W_HASH = 30;
export const W_V6 = 31; // int32 entry in the IPv6 side table, -1 = none

/** ICMP errors quoting a flow: rare, so kept beside the records instead of in every one. */
export interface IcmpErrorState {
  count: number;
  /** The last error: type and code (ICMPv6 numbering when v6), its sender, the MTU it reported (0 = none). */
  type: number;
  code: number;
  from: string;
  v6: boolean;
  mtu: number;
}

/** W_LPREV of a slot on the free list (live slots hold -1 or a slot number there). */
export const FREE_SLOT = -2;
/** Slot numbers below this pack with a 32-bit sort key into one double (2^21 · 2^32 = 2^53). */
export const SLOT_PACK = 2 ** 21;

export class FlowStore {
  readonly maxFlows: number;
  readonly rateIntervalSec: number;
  readonly cap: number;
  /** Slots handed out so far (slots at or above it were never used). */
  hwm = 0;
  /** Live flows. */
  live = 0;
  freeHead = -1;
  lruHead = -1;
  lruTail = -1;

  // Flow records: one fixed-size record per slot in one ArrayBuffer (see the layout above), read through
  // typed views of every width. A typical packet touches one cache line of its own flow.
  mem!: ArrayBuffer;
  u8!: Uint8Array;
  u16!: Uint16Array;
  u32!: Uint32Array;
  i32!: Int32Array;
  f32!: Float32Array;
  f64!: Float64Array;
  /**
   * Open-addressing index (linear probing, load ≤ 1/2). An entry packs slot + 1 into the low bits (slotMask)
   * and the hash's top bits above them as a tag, so a probe rarely touches a record that is not the one; 0 = empty.
   * One int32 per entry keeps the index small enough to stay in cache.
   */
  ix!: Int32Array;
  ixMask = 0;
  /** Slots the index is sized for (doubles as slots are first used, up to maxFlows). */
  ixCap = 1024;
  /** Low bits of an index entry holding slot + 1 (enough for maxFlows); the bits above hold the hash tag. */
  readonly slotMask: number;
  /** IPv6 address words beyond the first (a1..a3, b1..b3), 8 words per entry, referenced by W_V6. */
  v6w = new Uint32Array(8 * 64);
  v6Hwm = 0;
  v6Free = -1;
  /** Interval number where rate intervals start counting (keeps W_RATE_K small enough for int32). */
  rateBase = NaN;
  /** Capture clock: the newest packet time seen (or expire()'s now). */
  clockSec = 0;
  clockNs = 0;
  /** True while slot order is the order of first packet time (no slot reused, flows created in time order). */
  slotsInFirstOrder = true;
  /** ICMP errors quoting a flow, by slot. */
  readonly errors = new Map<number, IcmpErrorState>();

  constructor(maxFlows: number, rateIntervalSec: number) {
    this.maxFlows = maxFlows;
    this.rateIntervalSec = rateIntervalSec;
    let bits = 1;
    while (2 ** bits - 1 < maxFlows) bits++;
    this.slotMask = 2 ** bits - 1;
    // Records for maxFlows are reserved at once: a zero-filled ArrayBuffer is only address space until a
    // slot is first written, so RSS follows the flows actually held, and the table never copies itself
    // (no transient old+new peak). Only the small index is rebuilt as the table fills.
    this.cap = maxFlows;
    this.allocRecords(this.cap);
    this.buildIndex();
  }

  /** A zeroed slot, linked nowhere yet; -1 when every slot up to maxFlows is live. */
  allocSlot(): number {
    let s: number;
    let reused = true;
    if (this.freeHead >= 0) {
      s = this.freeHead;
      this.freeHead = this.i32[s * W + W_LNEXT];
    } else if (this.hwm < this.cap) {
      reused = false;
      if (this.hwm + 1 > this.ixCap) {
        this.ixCap = Math.min(this.maxFlows, this.ixCap * 2);
        this.buildIndex();
      }
      s = this.hwm++;
    } else {
      return -1; // full: the caller evicts (FlowTable keeps the evicted flow's problems) and asks again
    }
    // Zero a reused record (fresh ones are zero already), keeping only the generation, bumped so stale
    // echo entries never match.
    const g = this.u32[s * W + W_GEN];
    if (reused) {
      this.u8.fill(0, s * B, s * B + REC);
      this.slotsInFirstOrder = false;
    }
    this.u32[s * W + W_GEN] = (g + 1) >>> 0;
    this.i32[s * W + W_V6] = -1;
    this.live++;
    return s;
  }

  allocV6(): number {
    if (this.v6Free >= 0) {
      const v = this.v6Free;
      this.v6Free = this.v6w[v * 8];
      return v;
    }
    if ((this.v6Hwm + 1) * 8 > this.v6w.length) {
      const bigger = new Uint32Array(this.v6w.length * 2);
      bigger.set(this.v6w);
      this.v6w = bigger;
    }
    return this.v6Hwm++;
  }

  /** Unlinks slot s from the index and the LRU list and frees it. */
  remove(s: number): void {
    const w = s * W;
    this.errors.delete(s);
    this.indexDelete(this.u32[w + W_HASH], s);
    const pv = this.i32[w + W_LPREV];
    const nx = this.i32[w + W_LNEXT];
    if (pv >= 0) this.i32[pv * W + W_LNEXT] = nx;
    else this.lruHead = nx;
    if (nx >= 0) this.i32[nx * W + W_LPREV] = pv;
    else this.lruTail = pv;
    const v = this.i32[w + W_V6];
    if (v >= 0) {
      this.v6w[v * 8] = this.v6Free;
      this.v6Free = v;
    }
    this.i32[w + W_LPREV] = FREE_SLOT;
    this.i32[w + W_LNEXT] = this.freeHead;
    this.freeHead = s;
    this.live--;
  }

  linkTail(s: number): void {
    this.i32[s * W + W_LPREV] = this.lruTail;
    this.i32[s * W + W_LNEXT] = -1;
    if (this.lruTail >= 0) this.i32[this.lruTail * W + W_LNEXT] = s;
    else this.lruHead = s;
    this.lruTail = s;
  }

  /** Moves s to the most-recently-seen end of the LRU list. */
  touch(s: number): void {
    if (this.lruTail === s) return;
    const pv = this.i32[s * W + W_LPREV];
    const nx = this.i32[s * W + W_LNEXT];
    if (pv >= 0) this.i32[pv * W + W_LNEXT] = nx;
    else this.lruHead = nx;
    this.i32[nx * W + W_LPREV] = pv; // nx >= 0 because s is not the tail
    this.linkTail(s);
  }

  indexInsert(h: number, s: number): void {
    const ix = this.ix;
    const mask = this.ixMask;
    let i = h & mask;
    while (ix[i] !== 0) i = (i + 1) & mask;
    ix[i] = (h & ~this.slotMask) | (s + 1);
  }

  /** Linear-probing delete with backward shift: later entries of the run move up, so no tombstones pile up. */
  indexDelete(h: number, s: number): void {
    const ix = this.ix;
    const mask = this.ixMask;
    const slotMask = this.slotMask;
    let i = h & mask;
    while ((ix[i] & slotMask) !== s + 1) {
      if (ix[i] === 0) return; // not indexed (cannot happen for a live slot)
      i = (i + 1) & mask;
    }
    for (let j = (i + 1) & mask; ix[j] !== 0; j = (j + 1) & mask) {
      // The entry's home bucket comes from its record's full hash (deletes are rare; lookups never do this).
      const home = this.u32[((ix[j] & slotMask) - 1) * W + W_HASH] & mask;
      // Entry j may fill the hole at i unless its home lies cyclically in (i, j].
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (inRange) continue;
      ix[i] = ix[j];
      i = j;
    }
    ix[i] = 0;
  }

  /** (Re)builds the index for ixCap slots (load ≤ 1/2) from the live flows. */
  buildIndex(): void {
    let n = 2048;
    while (n < this.ixCap * 2) n *= 2;
    this.ix = new Int32Array(n);
    this.ixMask = n - 1;
    // Slots in memory order (the hardware prefetcher streams them), not LRU order (a miss per flow).
    for (let s = 0; s < this.hwm; s++) if (this.i32[s * W + W_LPREV] !== FREE_SLOT) this.indexInsert(this.u32[s * W + W_HASH], s);
  }

  allocRecords(cap: number): void {
    const mem = new ArrayBuffer(cap * REC);
    if (this.mem) new Uint8Array(mem).set(new Uint8Array(this.mem));
    this.mem = mem;
    this.u8 = new Uint8Array(mem);
    this.u16 = new Uint16Array(mem);
    this.u32 = new Uint32Array(mem);
    this.i32 = new Int32Array(mem);
    this.f32 = new Float32Array(mem);
    this.f64 = new Float64Array(mem);
  }

  packets(s: number, lo: number, hi: number): number {
    return this.u16[s * H + hi] * 0x100000000 + this.u32[s * W + lo];
  }
}
