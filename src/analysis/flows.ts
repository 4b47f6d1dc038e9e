/**
 * FlowTable: bidirectional flows with per-direction counters, TCP connection state, ICMP echo matching (RTT),
 * ICMP errors attributed to the flow they quote, ARP pairs, plus MAC learning and ARP health on the side.
 *
 * Memory and speed: each flow is one 128-byte record in a single ArrayBuffer (IPv6/MAC address words beyond
 * the first in a side table), found through an open-addressing index of [hash, slot] pairs. The key is read
 * as numbers straight from the PacketView, so updating an existing flow allocates nothing and touches two or
 * three cache lines. The hash is symmetric in the two endpoints, so both directions land on one flow; the
 * stored a/b order says which side initiated. Slots sit on an LRU list ordered by the rate interval (1 s by
 * default) in which they were last seen: idle expiry walks it from the front and, when the table is full,
 * the front flow (least recently seen, to interval precision) is evicted and counted. Records for maxFlows are
 * reserved up front as address space; pages are committed as slots are first used.
 * Flows that leave the table with a problem (failed connect, reset, …) keep that problem in a bounded log.
 */
import { L, PacketView, TCP } from '../decode/view';
import { PacketRecord, formatTs } from '../pcap/record';
import { ip4Text, ip6Text, macText } from './addr';
import { ArpCounters, ArpTargetStats, ArpTracker } from './arp';
import { MacEntry, MacLearner } from './mac';
import { Problem, compareProblems, icmpErrorText } from './problems';

export interface FlowTableOptions {
  /** Flows not seen for this long are removed by expire() (default 120 s; Infinity keeps them). */
  idleTimeoutSec?: number;
  /** Hard cap on flows held; beyond it the least recently seen flow is evicted (default 1,000,000). */
  maxFlows?: number;
  /** Interval for the per-flow rate (default 1 s). */
  rateIntervalSec?: number;
  /** Track flows of VXLAN inner frames, tagged with the VNI (default true). */
  trackInner?: boolean;
}

export type FlowSort = 'packets' | 'bytes' | 'rate' | 'start';

/** Address family of a flow key: IP v4/v6, ARP (keyed by the IP pair), or other Ethernet (keyed by MACs). */
export type FlowFamily = 'ipv4' | 'ipv6' | 'arp' | 'eth';

export type TcpState = 'syn-sent' | 'refused' | 'syn-received' | 'established' | 'closing' | 'closed' | 'reset' | 'midstream';

export interface TcpSummary {
  state: TcpState;
  /** SYNs (without ACK) seen; syns - 1 of them are retransmissions. */
  syns: number;
  synRetransmits: number;
  synAck: boolean;
  finA: boolean;
  finB: boolean;
  /** Side that sent a RST, if any (the last one). */
  rstBy: 'a' | 'b' | null;
}

export interface EchoSummary {
  requests: number;
  replies: number;
  unanswered: number;
  /** Round-trip times of matched request/reply pairs (by id+seq), milliseconds; null when none matched. */
  rttMinMs: number | null;
  rttAvgMs: number | null;
  rttMaxMs: number | null;
  rttSamples: number;
}

export interface ArpPairSummary {
  requests: number;
  replies: number;
}

export interface IcmpErrorSummary {
  count: number;
  /** The last error: ICMP type/code, the router/host that sent it. */
  type: number;
  code: number;
  from: string;
  text: string;
}

/** One flow as plain data (strings and numbers), safe to keep after the table changes. */
export interface FlowRecord {
  /** "PROTO A[:PORT] <-> B[:PORT][ vni N]": stable while the flow lives. */
  key: string;
  proto: string;
  family: FlowFamily;
  /** Initiator side (SYN sender / echo requester / ARP requester / first seen). */
  a: string;
  aPort: number | null;
  b: string;
  bPort: number | null;
  /** ICMP echo identifier for echo flows. */
  echoId: number | null;
  /** VXLAN VNI for flows of inner frames. */
  vni: number | null;
  packetsAB: number;
  packetsBA: number;
  bytesAB: number;
  bytesBA: number;
  packets: number;
  bytes: number;
  /** First/last packet time, "SEC.NNNNNNNNN". */
  first: string;
  last: string;
  durationSec: number;
  /** Bytes per second over the last complete rate interval (live view). */
  rateBytesPerSec: number;
  /** Bytes per second averaged over the flow's lifetime, at least one rate interval long. */
  avgBytesPerSec: number;
  ifaces: string[];
  tcp: TcpSummary | null;
  echo: EchoSummary | null;
  arp: ArpPairSummary | null;
  icmpErrors: IcmpErrorSummary | null;
}

/**
 * One flow as numbers and constant strings, overwritten by FlowTable.readFlow(): for renderers of many rows
 * (`read --flows` prints every flow), which would otherwise build a FlowRecord of fresh strings per flow.
 * Fields mean what the FlowRecord fields of the same name mean; absent values are -1 instead of null.
 */
export class FlowFacts {
  family: FlowFamily = 'ipv4';
  proto = '';
  /** Addresses as uint32 for families ipv4 and arp; -1 otherwise (use FlowTable.flowAddress). */
  a4 = -1;
  b4 = -1;
  aPort = -1;
  bPort = -1;
  echoId = -1;
  vni = -1;
  packetsAB = 0;
  packetsBA = 0;
  bytesAB = 0;
  bytesBA = 0;
  firstSec = 0;
  firstNs = 0;
  lastSec = 0;
  lastNs = 0;
  durationSec = 0;
  rateBytesPerSec = 0;
  avgBytesPerSec = 0;
  /** Bit i: seen on interface i (FlowTable.ifaceName(i)); bit 31: on one beyond the first 31. */
  ifaceMask = 0;
  /** TCP state (null for other protocols), SYNs seen, side of the last RST. */
  tcpState: TcpState | null = null;
  syns = 0;
  rstBy: 'a' | 'b' | null = null;
  /** Echo flows: requests, replies and RTT (ms, null-free: valid when rttSamples > 0); ARP flows: requests, replies. */
  requests = 0;
  replies = 0;
  rttSamples = 0;
  rttMinMs = 0;
  rttAvgMs = 0;
  rttMaxMs = 0;
  isEcho = false;
  isArp = false;
  /** True when ICMP errors quote this flow (details: FlowTable.flowRecord). */
  hasIcmpErrors = false;
}

export interface FlowCounters {
  packets: number;
  bytes: number;
  /** Flows currently in the table. */
  flows: number;
  created: number;
  expired: number;
  evicted: number;
  /** Packets not assignable to any flow (no IP/ARP/Ethernet layer decoded). */
  unkeyed: number;
  /** VXLAN inner frames tracked. */
  innerPackets: number;
  /** ICMP errors whose quoted flow was not in the table. */
  icmpErrorsUnmatched: number;
  /** Problems of removed flows beyond the retained log. */
  problemsDropped: number;
  /** Connects that failed: a RST answered the SYN (refused), or the flow left the table with SYNs unanswered. */
  tcpFailedConnects: number;
  /** Connections reset after the handshake answered (or seen mid-stream): counted once per reset. */
  tcpResets: number;
  /** ICMP destination unreachable (v4 type 3) and ICMPv6 destination unreachable (type 1) messages. */
  icmpUnreachables: number;
  macs: number;
  macsUntracked: number;
  arp: ArpCounters;
}

export interface FlowSnapshot {
  /** Capture clock: newest packet time seen (or expire()'s now), "SEC.NNNNNNNNN". */
  now: string;
  flows: FlowRecord[];
  problems: Problem[];
  counters: FlowCounters;
  macs: MacEntry[];
  arpTargets: ArpTargetStats[];
}

export interface SnapshotOptions {
  sort?: FlowSort;
  /** Keep only the first N flows after sorting (0 = all). */
  top?: number;
  /** What sort 'rate' ranks by: the last complete interval (live views, default) or the lifetime average. */
  rateBy?: 'live' | 'average';
}

const FAM_ETH = 0;
const FAM_ARP = 1;
const FAM_V4 = 4;
const FAM_V6 = 6;

const ST_NONE = 0;
const ST_SYN_SENT = 1;
const ST_SYN_RCVD = 2;
const ST_ESTABLISHED = 3;
const ST_CLOSING = 4;
const ST_CLOSED = 5;
const ST_RESET = 6;

const TF_SYNACK = 1;
const TF_FIN_A = 2;
const TF_FIN_B = 4;
const TF_MIDSTREAM = 8;
const TF_ESTABLISHED_EVER = 16;

const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_ICMPV6 = 58;

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 2: 'igmp', 6: 'tcp', 17: 'udp', 47: 'gre', 50: 'esp', 58: 'icmpv6', 89: 'ospf', 112: 'vrrp', 132: 'sctp' };

/*
 * Flow record layout: REC bytes per slot. Field names say the view: F_ = Float64 index, W_ = 32-bit index
 * (Uint32/Int32/Float32), H_ = Uint16 index, B_ = byte index, each relative to the slot's start in that unit.
 * The first 64 bytes hold everything a typical packet reads or writes (key, counters, last-seen time, rate).
 */
const REC = 128;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Word 3 holds proto (u16), family (u8) and the TCP state (u8): keyMatches compares the first two. */
const PROTO_FAM_MASK = LITTLE_ENDIAN ? 0x00ffffff : 0xffffff00;
const F = REC / 8;
const W = REC / 4;
const H = REC / 2;
const B = REC;
const W_A0 = 0; // address a (IPv4, first IPv6 word, MAC high 16 bits)
const W_B0 = 1;
const H_A_PORT = 4;
const H_B_PORT = 5;
const H_PROTO = 6;
const B_FAM = 14;
const B_TST = 15; // TCP state
const W_VNI = 4; // int32, -1 = not inside VXLAN
const W_LAST_SEC = 5;
const W_LAST_NS = 6;
const W_RATE_K = 7; // int32 interval number - rateBase
const W_RATE_CUR = 8; // float32 bytes in interval W_RATE_K
const W_IF_MASK = 9;
const F_BYTE_AB = 5;
const F_BYTE_BA = 6;
const W_PKT_AB = 14; // low 32 bits; the high word is W_PKT_AB_HI
const W_PKT_BA = 15;
// ---- second cache line: touched once per rate interval or on connection events
const W_RATE_PREV = 16; // float32 bytes in the interval before
const W_LPREV = 17; // int32 LRU links (W_LNEXT also chains free slots)
const W_LNEXT = 18;
const W_FIRST_SEC = 19;
const W_FIRST_NS = 20;
const W_GEN = 21; // bumped on every reuse of the slot: echo matches never cross flows
const H_PKT_AB_HI = 44; // packets above 2^32, per direction
const H_PKT_BA_HI = 45;
const B_TFL = 92;
const B_RST_BY = 93;
const H_SYNS = 47;
const W_C1 = 24; // echo requests / ARP requests
const W_C2 = 25; // echo replies / ARP replies
const W_RTT_MIN = 26; // float32 ms
const W_RTT_MAX = 27; // float32 ms
const W_RTT_MEAN = 28; // float32 ms, running mean (stable in single precision, unlike a sum)
const W_RTT_N = 29;
const W_HASH = 30;
const W_V6 = 31; // int32 entry in the IPv6 side table, -1 = none

/** ICMP errors quoting a flow: rare, so kept beside the records instead of in every one. */
interface IcmpErrorState {
  count: number;
  /** The last error: type and code (ICMPv6 numbering when v6), its sender, the MTU it reported (0 = none). */
  type: number;
  code: number;
  from: string;
  v6: boolean;
  mtu: number;
}

const MAX_RETIRED_PROBLEMS = 10_000;
/** W_LPREV of a slot on the free list (live slots hold -1 or a slot number there). */
const FREE_SLOT = -2;
/** Slot numbers below this pack with a 32-bit sort key into one double (2^21 · 2^32 = 2^53). */
const SLOT_PACK = 2 ** 21;
const ECHO_PENDING = 1 << 16;
const ECHO_PROBE = 8;
/** Datagrams whose first fragment is remembered until their later fragments arrive (probe runs of FRAG_PROBE). */
const FRAG_SLOTS = 4096;
const FRAG_PROBE = 4;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Per-endpoint mix; the two endpoints' values are added (symmetric) and the sum finalised once. */
function endpointHash(w0: number, port: number): number {
  const h = Math.imul(w0 ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(port + 0x7f4a7c15, 0xc2b2ae35);
  return h ^ (h >>> 15);
}

function endpointHashWide(w0: number, w1: number, w2: number, w3: number, port: number): number {
  let h = Math.imul(w0 ^ 0x9e3779b9, 0x85ebca6b);
  h = (h << 13) | (h >>> 19);
  h ^= Math.imul(w1, 0xc2b2ae35);
  h = (h << 13) | (h >>> 19);
  h ^= Math.imul(w2, 0x27d4eb2f);
  h = (h << 13) | (h >>> 19);
  h ^= Math.imul(w3, 0x165667b1);
  h ^= Math.imul(port + 1, 0x9e3779b1);
  return fmix(h);
}

function rd32(b: Buffer, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export class FlowTable {
  readonly idleTimeoutSec: number;
  readonly maxFlows: number;
  readonly rateIntervalSec: number;
  readonly trackInner: boolean;

  private cap: number;
  private hwm = 0;
  private live = 0;
  private freeHead = -1;
  private lruHead = -1;
  private lruTail = -1;

  // Flow records: one fixed-size record per slot in one ArrayBuffer (see the layout above), read through
  // typed views of every width. A typical packet touches one cache line of its own flow.
  private mem!: ArrayBuffer;
  private u8!: Uint8Array;
  private u16!: Uint16Array;
  private u32!: Uint32Array;
  private i32!: Int32Array;
  private f32!: Float32Array;
  private f64!: Float64Array;
  /**
   * Open-addressing index (linear probing, load ≤ 1/2). An entry packs slot + 1 into the low bits (slotMask)
   * and the hash's top bits above them as a tag, so a probe rarely touches a record that is not the one; 0 = empty.
   * One int32 per entry keeps the index small enough to stay in cache.
   */
  private ix!: Int32Array;
  private ixMask = 0;
  /** Slots the index is sized for (doubles as slots are first used, up to maxFlows). */
  private ixCap = 1024;
  /** Low bits of an index entry holding slot + 1 (enough for maxFlows); the bits above hold the hash tag. */
  private readonly slotMask: number;
  /** IPv6 address words beyond the first (a1..a3, b1..b3), 8 words per entry, referenced by W_V6. */
  private v6w = new Uint32Array(8 * 64);
  private v6Hwm = 0;
  private v6Free = -1;
  /** Interval number where rate intervals start counting (keeps W_RATE_K small enough for int32). */
  private rateBase = NaN;

  // Echo requests waiting for a reply: (slot, generation, seq) → time. Fixed size; lookups probe ECHO_PROBE cells.
  // Entry p: epKey[2p] = slot + 1 (0 = free), epKey[2p+1] = (generation & 0xffff) << 16 | seq; adjacent
  // entries are adjacent in memory, so one probe run costs a cache line or two.
  private readonly epKey = new Int32Array(2 * ECHO_PENDING);
  private readonly epTime = new Float64Array(ECHO_PENDING);

  // First fragments by datagram (fragmentFlow): key [hash, id, src word 0, dst word 0], flow [slot + 1, its
  // generation, direction].
  private readonly fragKey = new Int32Array(4 * FRAG_SLOTS);
  private readonly fragFlow = new Int32Array(3 * FRAG_SLOTS);
  private fragRotor = 0;
  /** The flow a first fragment was counted on, for fragmentFlow(…, true). */
  private fragSlot = -1;

  // Key of the packet being added (scratch, numbers only).
  private kFam = 0;
  private kProto = 0;
  private kS0 = 0;
  private kS1 = 0;
  private kS2 = 0;
  private kS3 = 0;
  private kD0 = 0;
  private kD1 = 0;
  private kD2 = 0;
  private kD3 = 0;
  private kSp = 0;
  private kDp = 0;
  private kVni = -1;
  /** True when kS1..kD3 may be non-zero (IPv6 or MAC key last time). */
  private kWide = false;
  /** The key's fields as they sit in a record's words 2 and 3 (ports both ways; proto+family), for one compare. */
  private kPortsFwd = 0;
  private kPortsRev = 0;
  private kProtoFam = 0;
  private kVniU = 0;
  /** Rate interval of the last packet's second (valid when the interval is a whole number of seconds). */
  private kSecLast = -1;
  private kLast = 0;
  private readonly rateWhole: boolean;
  /** True when the packet's destination is the initiator (SYN-ACK, echo reply, ARP reply). */
  private kDstInit = false;
  /** Direction of the last lookup: 0 = a→b, 1 = b→a. */
  private dir = 0;
  /** Slot of the previous packet's flow (-1 after it was removed). */
  private lastSlot = -1;
  /** True while slot order is the order of first packet time (no slot reused, flows created in time order). */
  private slotsInFirstOrder = true;
  private lastCreatedSec = 0;
  private lastCreatedNs = 0;
  private readonly errors = new Map<number, IcmpErrorState>();

  // Interfaces: names interned to small ids (flow masks hold the first 31; bit 31 = "others").
  private readonly ifNames: string[] = [];
  private readonly ifByName = new Map<string, number>();
  private readonly ifByIndex: number[] = [];
  private lastIfStr: string | undefined = undefined;
  private lastIfId = -1;

  private clockSec = 0;
  private clockNs = 0;
  private readonly retired: Problem[] = [];

  readonly arp: ArpTracker;
  readonly mac: MacLearner;
  private readonly c = {
    packets: 0,
    bytes: 0,
    created: 0,
    expired: 0,
    evicted: 0,
    unkeyed: 0,
    innerPackets: 0,
    icmpErrorsUnmatched: 0,
    problemsDropped: 0,
    tcpFailedConnects: 0,
    tcpResets: 0,
    icmpUnreachables: 0,
  };

  constructor(opts: FlowTableOptions = {}) {
    this.idleTimeoutSec = opts.idleTimeoutSec ?? 120;
    // Slot numbers share an int32 index entry with a hash tag: keep at least 4 tag bits.
    this.maxFlows = Math.min(2 ** 28 - 1, Math.max(1, Math.floor(opts.maxFlows ?? 1_000_000)));
    this.rateIntervalSec = opts.rateIntervalSec && opts.rateIntervalSec > 0 ? opts.rateIntervalSec : 1;
    this.rateWhole = Number.isInteger(this.rateIntervalSec);
    this.trackInner = opts.trackInner ?? true;
    let bits = 1;
    while (2 ** bits - 1 < this.maxFlows) bits++;
    this.slotMask = 2 ** bits - 1;
    // Records for maxFlows are reserved at once: a zero-filled ArrayBuffer is only address space until a
    // slot is first written, so RSS follows the flows actually held, and the table never copies itself
    // (no transient old+new peak). Only the small index is rebuilt as the table fills.
    this.cap = this.maxFlows;
    this.allocRecords(this.cap);
    this.buildIndex();
    this.arp = new ArpTracker();
    this.mac = new MacLearner((id) => this.ifaceName(id));
  }

  get size(): number {
    return this.live;
  }

  /** Adds one decoded packet (call after decodeRecord(view, rec)). */
  add(view: PacketView, rec: PacketRecord): void {
    this.c.packets++;
    this.c.bytes += rec.len;
    const tsSec = rec.tsSec;
    const tsNs = rec.tsNsec;
    if (tsSec > this.clockSec || (tsSec === this.clockSec && tsNs > this.clockNs)) {
      this.clockSec = tsSec;
      this.clockNs = tsNs;
    }
    const ifId = this.ifaceId(rec);
    this.mac.observe(view, ifId, -1, tsSec, tsNs);
    if ((view.layers & L.ARP) !== 0) this.arp.observe(view, tsSec, tsNs);
    this.addView(view, rec.len, ifId, -1, tsSec, tsNs);
    const inner = view.inner;
    if (this.trackInner && (view.layers & L.VXLAN) !== 0 && inner !== null && inner.layers !== 0) {
      this.c.innerPackets++;
      const innerLen = inner.len > 0 ? inner.len : rec.len - (inner.base - view.base);
      this.mac.observe(inner, ifId, view.vni, tsSec, tsNs);
      this.addView(inner, innerLen, ifId, view.vni, tsSec, tsNs);
    }
  }

  /** Removes flows idle for longer than idleTimeoutSec at capture time `nowSec` (and advances the clock). */
  expire(nowSec: number): void {
    if (nowSec > this.clockSec + this.clockNs / 1e9) {
      this.clockSec = Math.floor(nowSec);
      this.clockNs = Math.round((nowSec - this.clockSec) * 1e9) % 1_000_000_000;
    }
    if (!Number.isFinite(this.idleTimeoutSec)) return;
    const cutoff = nowSec - this.idleTimeoutSec;
    // The list is ordered by rate interval of the last move: flows of the cutoff's own interval may sit in any
    // order, so look through that interval instead of stopping at its first still-active flow.
    const cutoffK = Math.floor(cutoff / this.rateIntervalSec) - this.rateBase;
    let s = this.lruHead;
    while (s >= 0) {
      const next = this.i32[s * W + W_LNEXT];
      if (this.u32[s * W + W_LAST_SEC] + this.u32[s * W + W_LAST_NS] / 1e9 < cutoff) {
        this.retire(s);
        this.remove(s);
        this.c.expired++;
      } else if (this.i32[s * W + W_RATE_K] > cutoffK) {
        break;
      }
      s = next;
    }
  }

  counters(): FlowCounters {
    return {
      ...this.c,
      flows: this.live,
      macs: this.mac.size,
      macsUntracked: this.mac.untracked,
      arp: { ...this.arp.counters },
    };
  }

  /** A copy for a view: flows (optionally sorted and cut to top N), problems, counters, MACs, ARP targets. */
  snapshot(opts: SnapshotOptions = {}): FlowSnapshot {
    const slots = this.selectSlots(opts.sort, opts.top ?? 0, opts.rateBy ?? 'live');
    const flows: FlowRecord[] = [];
    for (let i = 0; i < slots.length; i++) flows.push(this.record(slots[i]));
    return {
      now: formatTs(this.clockSec, this.clockNs),
      flows,
      problems: this.problems(),
      counters: this.counters(),
      macs: this.mac.entries(),
      arpTargets: this.arp.targets(),
    };
  }

  /**
   * Handles of the flows snapshot(opts) would show, in its order, for readFlow/flowAddress/flowRecord.
   * Valid until the table next changes (add, expire).
   */
  selectFlows(opts: SnapshotOptions = {}): Int32Array {
    return this.selectSlots(opts.sort, opts.top ?? 0, opts.rateBy ?? 'live');
  }

  /** Fills `out` with flow `h` (a handle from selectFlows) without allocating. */
  readFlow(h: number, out: FlowFacts): void {
    const s = h;
    const fam = this.u8[s * B + B_FAM];
    const p = this.u16[s * H + H_PROTO];
    const isIp = fam === FAM_V4 || fam === FAM_V6;
    const hasPorts = isIp && (p === IPPROTO_TCP || p === IPPROTO_UDP);
    const isEcho = isIp && (p === IPPROTO_ICMP || p === IPPROTO_ICMPV6) && (this.u32[s * W + W_C1] > 0 || this.u32[s * W + W_C2] > 0);
    out.family = fam === FAM_V4 ? 'ipv4' : fam === FAM_V6 ? 'ipv6' : fam === FAM_ARP ? 'arp' : 'eth';
    out.proto = fam === FAM_V4 || fam === FAM_V6 ? (PROTO_NAMES[p] ?? this.protoName(s)) : this.protoName(s);
    const v4 = fam === FAM_V4 || fam === FAM_ARP;
    out.a4 = v4 ? this.u32[s * W + W_A0] : -1;
    out.b4 = v4 ? this.u32[s * W + W_B0] : -1;
    out.aPort = hasPorts ? this.u16[s * H + H_A_PORT] : -1;
    out.bPort = hasPorts ? this.u16[s * H + H_B_PORT] : -1;
    out.echoId = isEcho ? this.u16[s * H + H_A_PORT] : -1;
    out.vni = this.i32[s * W + W_VNI];
    out.packetsAB = this.packets(s, W_PKT_AB, H_PKT_AB_HI);
    out.packetsBA = this.packets(s, W_PKT_BA, H_PKT_BA_HI);
    out.bytesAB = this.f64[s * F + F_BYTE_AB];
    out.bytesBA = this.f64[s * F + F_BYTE_BA];
    out.firstSec = this.u32[s * W + W_FIRST_SEC];
    out.firstNs = this.u32[s * W + W_FIRST_NS];
    out.lastSec = this.u32[s * W + W_LAST_SEC];
    out.lastNs = this.u32[s * W + W_LAST_NS];
    out.durationSec = Math.max(0, out.lastSec - out.firstSec + (out.lastNs - out.firstNs) / 1e9);
    out.rateBytesPerSec = this.liveRate(s);
    out.avgBytesPerSec = this.avgRate(s);
    out.ifaceMask = this.u32[s * W + W_IF_MASK];
    const isTcp = isIp && p === IPPROTO_TCP;
    out.tcpState = isTcp ? this.tcpStateOf(s) : null;
    out.syns = isTcp ? this.u16[s * H + H_SYNS] : 0;
    const rst = this.u8[s * B + B_RST_BY];
    out.rstBy = isTcp && rst === 1 ? 'a' : isTcp && rst === 2 ? 'b' : null;
    out.isEcho = isEcho;
    out.isArp = fam === FAM_ARP;
    out.requests = isEcho || fam === FAM_ARP ? this.u32[s * W + W_C1] : 0;
    out.replies = isEcho || fam === FAM_ARP ? this.u32[s * W + W_C2] : 0;
    const n = isEcho ? this.u32[s * W + W_RTT_N] : 0;
    out.rttSamples = n;
    out.rttMinMs = n > 0 ? Math.round(this.f32[s * W + W_RTT_MIN] * 1000) / 1000 : 0;
    out.rttAvgMs = n > 0 ? Math.round(this.f32[s * W + W_RTT_MEAN] * 1000) / 1000 : 0;
    out.rttMaxMs = n > 0 ? Math.round(this.f32[s * W + W_RTT_MAX] * 1000) / 1000 : 0;
    out.hasIcmpErrors = this.errors.size > 0 && this.errors.has(s);
  }

  /** Text of side a (`'a'`) or b of flow `h` (a handle from selectFlows), as FlowRecord.a / .b. */
  flowAddress(h: number, side: 'a' | 'b'): string {
    return this.addrText(h, side === 'b');
  }

  /** Flow `h` (a handle from selectFlows) as a FlowRecord. */
  flowRecord(h: number): FlowRecord {
    return this.record(h);
  }

  /** Every current problem: from live flows, from flows that already left the table, ARP, MAC moves, evictions. */
  problems(): Problem[] {
    const out: Problem[] = [];
    for (let s = this.lruHead; s >= 0; s = this.i32[s * W + W_LNEXT]) this.flowProblems(s, out);
    out.push(...this.retired);
    out.push(...this.arp.problems());
    out.push(...this.mac.problems());
    if (this.c.evicted > 0) {
      out.push({
        kind: 'flows-evicted',
        text: `${this.c.evicted} flow(s) evicted: table full at ${this.maxFlows} flows (least recently seen dropped first); raise the cap to keep them`,
        time: null,
        flow: null,
        details: { evicted: this.c.evicted, maxFlows: this.maxFlows },
      });
    }
    if (this.c.problemsDropped > 0) {
      out.push({
        kind: 'flows-evicted',
        text: `${this.c.problemsDropped} problem(s) of removed flows not kept (log holds ${MAX_RETIRED_PROBLEMS})`,
        time: null,
        flow: null,
        details: { dropped: this.c.problemsDropped },
      });
    }
    out.sort(compareProblems);
    return out;
  }

  ifaceName(id: number): string {
    return this.ifNames[id] ?? `#${id}`;
  }

  /** Interface names seen so far, in order of first appearance. */
  interfaces(): readonly string[] {
    return this.ifNames;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Hot path

  private ifaceId(rec: PacketRecord): number {
    const name = rec.iface;
    if (name !== undefined) {
      if (name === this.lastIfStr) return this.lastIfId;
      let id = this.ifByName.get(name);
      if (id === undefined) {
        id = this.ifNames.length;
        this.ifNames.push(name);
        this.ifByName.set(name, id);
      }
      this.lastIfStr = name;
      this.lastIfId = id;
      return id;
    }
    const ix = rec.ifIndex;
    let id = ix >= 0 && ix < 65536 ? this.ifByIndex[ix] : undefined;
    if (id === undefined) {
      id = this.ifNames.length;
      this.ifNames.push(`if${ix}`);
      if (ix >= 0 && ix < 65536) {
        while (this.ifByIndex.length < ix) this.ifByIndex.push(undefined as unknown as number);
        this.ifByIndex[ix] = id;
      }
    }
    return id;
  }

  private addView(v: PacketView, len: number, ifId: number, vni: number, tsSec: number, tsNs: number): void {
    let s = this.sameIp4FlowAsLast(v, vni);
    // Fragment offset: -1 = not fragmented IPv6 (or not IP), 0 = a whole or first fragment, > 0 = a later one.
    const frag = (v.layers & L.IPV4) !== 0 ? v.ipFragOff : (v.layers & L.IPV6) !== 0 ? v.ip6FragOff : -1;
    if (s < 0) {
      // A later fragment has no ports: it counts on the flow of its datagram's first fragment, when seen.
      if (frag > 0) s = this.fragmentFlow(v, vni, false);
      if (s < 0) {
        if (!this.extractKey(v, vni)) {
          this.c.unkeyed++;
          return;
        }
        this.packKey();
        s = this.findOrCreate(tsSec, tsNs);
      }
    }
    if (frag === 0 && ((v.layers & L.IPV4) !== 0 ? v.ipMf : v.ip6FragMore)) {
      this.fragSlot = s;
      this.fragmentFlow(v, vni, true);
    }
    const d = this.dir;
    if (d === 0) {
      const n = (this.u32[s * W + W_PKT_AB] + 1) >>> 0;
      this.u32[s * W + W_PKT_AB] = n;
      if (n === 0) this.u16[s * H + H_PKT_AB_HI]++;
      this.f64[s * F + F_BYTE_AB] += len;
    } else {
      const n = (this.u32[s * W + W_PKT_BA] + 1) >>> 0;
      this.u32[s * W + W_PKT_BA] = n;
      if (n === 0) this.u16[s * H + H_PKT_BA_HI]++;
      this.f64[s * F + F_BYTE_BA] += len;
    }
    if (tsSec > this.u32[s * W + W_LAST_SEC] || (tsSec === this.u32[s * W + W_LAST_SEC] && tsNs > this.u32[s * W + W_LAST_NS])) {
      this.u32[s * W + W_LAST_SEC] = tsSec;
      this.u32[s * W + W_LAST_NS] = tsNs;
    }
    let k: number;
    if (this.rateWhole) {
      if (tsSec !== this.kSecLast) {
        this.kSecLast = tsSec;
        this.kLast = Math.floor(tsSec / this.rateIntervalSec) - this.rateBase;
      }
      k = this.kLast;
    } else {
      k = Math.floor((tsSec + tsNs / 1e9) / this.rateIntervalSec) - this.rateBase;
    }
    const rk = this.i32[s * W + W_RATE_K];
    if (k === rk) {
      this.f32[s * W + W_RATE_CUR] += len;
    } else if (k > rk) {
      this.f32[s * W + W_RATE_PREV] = k === rk + 1 ? this.f32[s * W + W_RATE_CUR] : 0;
      this.f32[s * W + W_RATE_CUR] = len;
      this.i32[s * W + W_RATE_K] = k;
      // The LRU list is kept in order of rate interval: a flow moves to the tail the first time it is seen
      // in a new interval, not on every packet (each move dirties two random neighbours' cache lines).
      this.touch(s);
    } else if (k === rk - 1) {
      this.f32[s * W + W_RATE_PREV] += len; // slightly out-of-order packet from a merged source
    }
    this.u32[s * W + W_IF_MASK] |= ifId < 31 ? 1 << ifId : 0x80000000;

    const proto = this.kProto;
    const fam = this.kFam;
    if (fam === FAM_V4 || fam === FAM_V6) {
      if (proto === IPPROTO_TCP) {
        if ((v.layers & L.TCP) !== 0) this.tcpUpdate(s, v.tcpFlags, d);
      } else if (proto === IPPROTO_ICMP && (v.layers & L.ICMP) !== 0) {
        const t = v.icmpType;
        if (t === 8) this.echoRequest(s, v.icmpSeq & 0xffff, tsSec, tsNs);
        else if (t === 0) this.echoReply(s, v.icmpSeq & 0xffff, tsSec, tsNs);
        else if ((v.layers & L.ICMP_INNER) !== 0) this.attributeIcmpError(v, vni);
      } else if (proto === IPPROTO_ICMPV6 && (v.layers & L.ICMPV6) !== 0) {
        const t = v.icmp6Type;
        if (t === 128 || t === 129) {
          const o = v.l4Off;
          const seq = o >= 0 && o + 8 <= v.base + v.caplen ? (v.buf[o + 6] << 8) | v.buf[o + 7] : 0;
          if (t === 128) this.echoRequest(s, seq, tsSec, tsNs);
          else this.echoReply(s, seq, tsSec, tsNs);
        } else if ((v.layers & L.ICMP6_INNER) !== 0) {
          this.attributeIcmp6Error(v, vni);
        }
      }
    } else if (fam === FAM_ARP) {
      if (v.arpOp === 1) this.u32[s * W + W_C1]++;
      else if (v.arpOp === 2) this.u32[s * W + W_C2]++;
    }
  }

  /**
   * The common case first: an IPv4 TCP/UDP packet of the previous packet's flow, compared straight from the
   * view against that record (no scratch key). Returns the slot (and sets dir, kFam, kProto) or -1.
   */
  private sameIp4FlowAsLast(v: PacketView, vni: number): number {
    const last = this.lastSlot;
    const layers = v.layers;
    if (last < 0 || (layers & L.IPV4) === 0 || (layers & (L.TCP | L.UDP)) === 0) return -1;
    const p = v.ipProto & 0xff;
    if (p !== IPPROTO_TCP && p !== IPPROTO_UDP) return -1;
    const u32 = this.u32;
    const w = last * W;
    const protoFam = LITTLE_ENDIAN ? p | (FAM_V4 << 16) : ((p << 16) | (FAM_V4 << 8)) >>> 0;
    if ((u32[w + 3] & PROTO_FAM_MASK) !== protoFam || u32[w + W_VNI] !== vni >>> 0) return -1;
    const src = v.ip4Src >>> 0;
    const dst = v.ip4Dst >>> 0;
    const sp = v.sport & 0xffff;
    const dp = v.dport & 0xffff;
    const ports = u32[w + 2];
    const a0 = u32[w + W_A0];
    const b0 = u32[w + W_B0];
    if (a0 === src && b0 === dst && ports === (LITTLE_ENDIAN ? (sp | (dp << 16)) >>> 0 : ((sp << 16) | dp) >>> 0)) this.dir = 0;
    else if (a0 === dst && b0 === src && ports === (LITTLE_ENDIAN ? (dp | (sp << 16)) >>> 0 : ((dp << 16) | sp) >>> 0)) this.dir = 1;
    else return -1;
    this.kFam = FAM_V4;
    this.kProto = p;
    return last;
  }

  /**
   * The fragment table: remembers (`record`) the flow of a first fragment (this.fragSlot, this.dir) under its
   * datagram's addresses, protocol, id and VNI, or finds (and returns, setting dir/kFam/kProto) the flow a
   * later fragment belongs to; -1 when unknown (the first fragment was not seen, or its flow left the table).
   */
  private fragmentFlow(v: PacketView, vni: number, record: boolean): number {
    const v4 = (v.layers & L.IPV4) !== 0;
    let src: number;
    let dst: number;
    let h: number;
    let id: number;
    if (v4) {
      src = v.ip4Src | 0;
      dst = v.ip4Dst | 0;
      id = v.ipId;
      h = Math.imul(src, 0x9e3779b1) ^ Math.imul(dst ^ 0x7f4a7c15, 0x85ebca6b);
    } else {
      const b = v.buf;
      const so = v.ip6SrcOff;
      const d = v.ip6DstOff;
      if (so < 0 || d < 0 || Math.max(so, d) + 16 > Math.min(v.base + v.caplen, b.length)) return -1;
      src = rd32(b, so) | 0;
      dst = rd32(b, d) | 0;
      id = v.ip6FragId | 0;
      h = Math.imul(src, 0x9e3779b1) ^ Math.imul(dst ^ 0x7f4a7c15, 0x85ebca6b);
      for (let i = 4; i < 16; i += 4) h = Math.imul(h ^ rd32(b, so + i) ^ Math.imul(rd32(b, d + i), 0x27d4eb2f), 0x165667b1);
    }
    const proto = v.ipProto & 0xff;
    h = fmix(h ^ Math.imul(id, 0xc2b2ae35) ^ Math.imul(proto + (v4 ? 0 : 256), 0x27d4eb2f) ^ Math.imul(vni + 2, 0x165667b1)) | 0;
    const fk = this.fragKey;
    const fs = this.fragFlow;
    const base = h & (FRAG_SLOTS - 1);
    let victim = -1;
    for (let i = 0; i < FRAG_PROBE; i++) {
      const p = (base + i) & (FRAG_SLOTS - 1);
      if (fk[4 * p] === h && fk[4 * p + 1] === id && fk[4 * p + 2] === src && fk[4 * p + 3] === dst) {
        if (record) {
          victim = p; // the first fragment again (a retransmission): refresh its entry
          break;
        }
        const slot = fs[3 * p] - 1;
        if (slot < 0 || this.i32[slot * W + W_LPREV] === FREE_SLOT || (this.u32[slot * W + W_GEN] | 0) !== fs[3 * p + 1]) return -1;
        this.dir = fs[3 * p + 2];
        this.kFam = v4 ? FAM_V4 : FAM_V6;
        this.kProto = proto;
        this.lastSlot = slot;
        return slot;
      }
    }
    if (!record) return -1;
    // A new datagram takes the first free entry of its run, else the one the run's rotor points at.
    for (let i = 0; i < FRAG_PROBE && victim < 0; i++) if (fs[3 * ((base + i) & (FRAG_SLOTS - 1))] === 0) victim = (base + i) & (FRAG_SLOTS - 1);
    if (victim < 0) victim = (base + (this.fragRotor++ & (FRAG_PROBE - 1))) & (FRAG_SLOTS - 1);
    fk[4 * victim] = h;
    fk[4 * victim + 1] = id;
    fk[4 * victim + 2] = src;
    fk[4 * victim + 3] = dst;
    fs[3 * victim] = this.fragSlot + 1;
    fs[3 * victim + 1] = this.u32[this.fragSlot * W + W_GEN] | 0;
    fs[3 * victim + 2] = this.dir;
    return this.fragSlot;
  }

  /** Reads the flow key of `v` into the k* scratch fields; false when the packet has no keyable layer. */
  private extractKey(v: PacketView, vni: number): boolean {
    const layers = v.layers;
    this.kVni = vni;
    this.kDstInit = false;
    this.kSp = 0;
    this.kDp = 0;
    if (this.kWide) {
      this.kS1 = this.kS2 = this.kS3 = 0;
      this.kD1 = this.kD2 = this.kD3 = 0;
      this.kWide = false;
    }
    if ((layers & L.IPV4) !== 0) {
      this.kFam = FAM_V4;
      this.kS0 = v.ip4Src >>> 0;
      this.kD0 = v.ip4Dst >>> 0;
      this.kProto = v.ipProto & 0xff;
    } else if ((layers & L.IPV6) !== 0) {
      const b = v.buf;
      const so = v.ip6SrcOff;
      const dOff = v.ip6DstOff;
      const end = Math.min(v.base + v.caplen, b.length);
      if (so < 0 || dOff < 0 || so + 16 > end || dOff + 16 > end) return false;
      this.ip6Key(b, so, dOff);
      this.kProto = v.ipProto & 0xff;
    } else if ((layers & L.ARP) !== 0) {
      this.kFam = FAM_ARP;
      this.kProto = 0x0806;
      this.kS0 = v.arpSpa >>> 0;
      this.kD0 = v.arpTpa >>> 0;
      this.kDstInit = v.arpOp === 2;
      return true;
    } else if ((layers & L.ETH) !== 0) {
      const b = v.buf;
      const so = v.ethSrcOff;
      const dOff = v.ethDstOff;
      const end = Math.min(v.base + v.caplen, b.length);
      if (so < 0 || dOff < 0 || so + 6 > end || dOff + 6 > end) return false;
      this.kFam = FAM_ETH;
      this.kWide = true;
      this.kProto = v.ethType & 0xffff;
      this.kS0 = (b[so] << 8) | b[so + 1];
      this.kS1 = rd32(b, so + 2);
      this.kD0 = (b[dOff] << 8) | b[dOff + 1];
      this.kD1 = rd32(b, dOff + 2);
      return true;
    } else {
      return false;
    }
    const p = this.kProto;
    if ((layers & (L.TCP | L.UDP)) !== 0 && (p === IPPROTO_TCP || p === IPPROTO_UDP)) {
      this.kSp = v.sport & 0xffff;
      this.kDp = v.dport & 0xffff;
      // A SYN-ACK's destination is the connection's initiator.
      if (p === IPPROTO_TCP && (layers & L.TCP) !== 0 && (v.tcpFlags & (TCP.SYN | TCP.ACK)) === (TCP.SYN | TCP.ACK)) this.kDstInit = true;
    } else if (p === IPPROTO_ICMP && (layers & L.ICMP) !== 0) {
      const t = v.icmpType;
      if (t === 8 || t === 0) {
        // Echo flows are keyed by identifier, like ports, so concurrent pings stay apart.
        this.kSp = this.kDp = v.icmpId & 0xffff;
        this.kDstInit = t === 0;
      }
    } else if (p === IPPROTO_ICMPV6 && (layers & L.ICMPV6) !== 0) {
      const t = v.icmp6Type;
      const o = v.l4Off;
      if ((t === 128 || t === 129) && o >= 0 && o + 8 <= v.base + v.caplen && o + 8 <= v.buf.length) {
        this.kSp = this.kDp = (v.buf[o + 4] << 8) | v.buf[o + 5];
        this.kDstInit = t === 129;
      }
    }
    return true;
  }

  /** Sets the scratch key's family and addresses to the IPv6 addresses at b[so] and b[d] (16 bytes each). */
  private ip6Key(b: Buffer, so: number, d: number): void {
    this.kFam = FAM_V6;
    this.kWide = true;
    this.kS0 = rd32(b, so);
    this.kS1 = rd32(b, so + 4);
    this.kS2 = rd32(b, so + 8);
    this.kS3 = rd32(b, so + 12);
    this.kD0 = rd32(b, d);
    this.kD1 = rd32(b, d + 4);
    this.kD2 = rd32(b, d + 8);
    this.kD3 = rd32(b, d + 12);
  }

  /** Packs the scratch key into the shapes keyMatches compares against record words. */
  private packKey(): void {
    if (LITTLE_ENDIAN) {
      this.kPortsFwd = (this.kSp | (this.kDp << 16)) >>> 0;
      this.kPortsRev = (this.kDp | (this.kSp << 16)) >>> 0;
      this.kProtoFam = this.kProto | (this.kFam << 16);
    } else {
      this.kPortsFwd = ((this.kSp << 16) | this.kDp) >>> 0;
      this.kPortsRev = ((this.kDp << 16) | this.kSp) >>> 0;
      this.kProtoFam = ((this.kProto << 16) | (this.kFam << 8)) >>> 0;
    }
    this.kVniU = this.kVni >>> 0;
  }

  private keyHash(): number {
    let hs: number;
    let hd: number;
    if (this.kFam === FAM_V4 || this.kFam === FAM_ARP) {
      hs = endpointHash(this.kS0, this.kSp);
      hd = endpointHash(this.kD0, this.kDp);
    } else {
      hs = endpointHashWide(this.kS0, this.kS1, this.kS2, this.kS3, this.kSp);
      hd = endpointHashWide(this.kD0, this.kD1, this.kD2, this.kD3, this.kDp);
    }
    return fmix(((hs + hd) | 0) ^ Math.imul(this.kProto + (this.kFam << 16), 0x27d4eb2f) ^ Math.imul(this.kVni + 2, 0x165667b1));
  }

  /** Finds the flow of the scratch key (sets this.dir); -1 when absent. */
  private find(h: number): number {
    const ix = this.ix;
    const mask = this.ixMask;
    const slotMask = this.slotMask;
    const tag = (h & ~slotMask) | 0;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = ix[i];
      if (e === 0) return -1;
      if ((e & ~slotMask) === tag) {
        const s = (e & slotMask) - 1;
        if (this.keyMatches(s)) return s;
      }
    }
  }

  /** Compares slot s with the scratch key in both orientations; sets this.dir. */
  private keyMatches(s: number): boolean {
    const w = s * W;
    const u32 = this.u32;
    // Words 3 (proto, family; TCP state masked off) and 4 (VNI), then addresses and both ports at once.
    if ((u32[w + 3] & PROTO_FAM_MASK) !== this.kProtoFam || u32[w + W_VNI] !== this.kVniU) return false;
    const a0 = u32[w + W_A0];
    const b0 = u32[w + W_B0];
    const ports = u32[w + 2];
    let fwd = a0 === this.kS0 && b0 === this.kD0 && ports === this.kPortsFwd;
    let rev = a0 === this.kD0 && b0 === this.kS0 && ports === this.kPortsRev;
    if (!fwd && !rev) return false;
    if (this.kFam === FAM_V6 || this.kFam === FAM_ETH) {
      const v = this.i32[w + W_V6];
      if (v < 0) return false;
      const o = v * 8;
      const x = this.v6w;
      fwd = fwd && x[o] === this.kS1 && x[o + 1] === this.kS2 && x[o + 2] === this.kS3 && x[o + 3] === this.kD1 && x[o + 4] === this.kD2 && x[o + 5] === this.kD3;
      rev = rev && x[o] === this.kD1 && x[o + 1] === this.kD2 && x[o + 2] === this.kD3 && x[o + 3] === this.kS1 && x[o + 4] === this.kS2 && x[o + 5] === this.kS3;
      if (!fwd && !rev) return false;
    }
    const dir = fwd ? 0 : 1;
    this.dir = dir;
    return true;
  }

  private findOrCreate(tsSec: number, tsNs: number): number {
    // Consecutive packets mostly belong to one flow (bursts, GSO trains): try the previous one first.
    const last = this.lastSlot;
    if (last >= 0 && this.keyMatches(last)) return last;
    const s = this.lookupOrInsert(tsSec, tsNs);
    this.lastSlot = s;
    return s;
  }

  private lookupOrInsert(tsSec: number, tsNs: number): number {
    const h = this.keyHash();
    const found = this.find(h);
    if (found >= 0) return found;
    const s = this.allocSlot();
    const w = s * W;
    const swap = this.kDstInit;
    this.dir = swap ? 1 : 0;
    this.u32[w + W_A0] = swap ? this.kD0 : this.kS0;
    this.u32[w + W_B0] = swap ? this.kS0 : this.kD0;
    this.u16[s * H + H_A_PORT] = swap ? this.kDp : this.kSp;
    this.u16[s * H + H_B_PORT] = swap ? this.kSp : this.kDp;
    this.u16[s * H + H_PROTO] = this.kProto;
    this.u8[s * B + B_FAM] = this.kFam;
    this.i32[w + W_VNI] = this.kVni;
    this.u32[w + W_HASH] = h;
    if (this.kFam === FAM_V6 || this.kFam === FAM_ETH) {
      const v = this.allocV6();
      const o = v * 8;
      const x = this.v6w;
      x[o] = swap ? this.kD1 : this.kS1;
      x[o + 1] = swap ? this.kD2 : this.kS2;
      x[o + 2] = swap ? this.kD3 : this.kS3;
      x[o + 3] = swap ? this.kS1 : this.kD1;
      x[o + 4] = swap ? this.kS2 : this.kD2;
      x[o + 5] = swap ? this.kS3 : this.kD3;
      this.i32[w + W_V6] = v;
    }
    this.u32[w + W_FIRST_SEC] = tsSec;
    this.u32[w + W_FIRST_NS] = tsNs;
    this.u32[w + W_LAST_SEC] = tsSec;
    this.u32[w + W_LAST_NS] = tsNs;
    const k = Math.floor((tsSec + tsNs / 1e9) / this.rateIntervalSec);
    if (this.rateBase !== this.rateBase) this.rateBase = k;
    this.i32[w + W_RATE_K] = k - this.rateBase;
    this.indexInsert(h, s);
    this.linkTail(s);
    this.c.created++;
    if (tsSec < this.lastCreatedSec || (tsSec === this.lastCreatedSec && tsNs < this.lastCreatedNs)) this.slotsInFirstOrder = false;
    this.lastCreatedSec = tsSec;
    this.lastCreatedNs = tsNs;
    return s;
  }

  private tcpUpdate(s: number, f: number, d: number): void {
    const st = this.u8[s * B + B_TST];
    if ((f & TCP.RST) !== 0) {
      // Event counters for exporters: one per connection that ends this way, not per RST packet.
      if (st !== ST_RESET) {
        if (this.u16[s * H + H_SYNS] > 0 && (this.u8[s * B + B_TFL] & TF_SYNACK) === 0) this.c.tcpFailedConnects++;
        else this.c.tcpResets++;
      }
      this.u8[s * B + B_RST_BY] = d + 1;
      this.u8[s * B + B_TST] = ST_RESET;
      return;
    }
    if ((f & TCP.SYN) !== 0) {
      if ((f & TCP.ACK) === 0) {
        if (st === ST_CLOSED || st === ST_RESET || (st !== ST_NONE && st !== ST_SYN_SENT && (this.u8[s * B + B_TFL] & TF_ESTABLISHED_EVER) !== 0)) {
          // Port reuse: a new connection on the same 4-tuple starts over (counters keep adding up).
          this.u8[s * B + B_TFL] = 0;
          this.u8[s * B + B_RST_BY] = 0;
          this.u16[s * H + H_SYNS] = 0;
        }
        if (this.u16[s * H + H_SYNS] < 0xffff) this.u16[s * H + H_SYNS]++;
        if (this.u8[s * B + B_TST] === ST_NONE || this.u8[s * B + B_TST] === ST_CLOSED || this.u8[s * B + B_TST] === ST_RESET) this.u8[s * B + B_TST] = ST_SYN_SENT;
      } else {
        this.u8[s * B + B_TFL] |= TF_SYNACK;
        if (st === ST_NONE || st === ST_SYN_SENT) this.u8[s * B + B_TST] = ST_SYN_RCVD;
      }
      if ((f & TCP.FIN) === 0) return;
    }
    if (st === ST_NONE) {
      this.u8[s * B + B_TST] = ST_ESTABLISHED;
      this.u8[s * B + B_TFL] |= TF_MIDSTREAM | TF_ESTABLISHED_EVER;
    } else if (st === ST_SYN_RCVD && (f & TCP.ACK) !== 0 && d === 0) {
      this.u8[s * B + B_TST] = ST_ESTABLISHED;
      this.u8[s * B + B_TFL] |= TF_ESTABLISHED_EVER;
    }
    if ((f & TCP.FIN) !== 0) {
      this.u8[s * B + B_TFL] |= d === 0 ? TF_FIN_A : TF_FIN_B;
      const both = (this.u8[s * B + B_TFL] & (TF_FIN_A | TF_FIN_B)) === (TF_FIN_A | TF_FIN_B);
      if (this.u8[s * B + B_TST] !== ST_RESET) this.u8[s * B + B_TST] = both ? ST_CLOSED : ST_CLOSING;
    }
  }

  private echoRequest(s: number, seq: number, tsSec: number, tsNs: number): void {
    this.u32[s * W + W_C1]++;
    const gs = ((this.u32[s * W + W_GEN] & 0xffff) << 16) | seq;
    const ek = this.epKey;
    const base = fmix(Math.imul(s, 0x9e3779b1) ^ seq) & (ECHO_PENDING - 1);
    let victim = base;
    let oldest = Infinity;
    for (let i = 0; i < ECHO_PROBE; i++) {
      const p = (base + i) & (ECHO_PENDING - 1);
      const k = ek[2 * p];
      if (k === 0) {
        if (oldest !== -Infinity) {
          victim = p;
          oldest = -Infinity;
        }
        continue;
      }
      if (k === s + 1 && ek[2 * p + 1] === gs) return; // duplicate: keep the first send
      if (oldest !== -Infinity && this.epTime[p] < oldest) {
        victim = p;
        oldest = this.epTime[p];
      }
    }
    ek[2 * victim] = s + 1;
    ek[2 * victim + 1] = gs;
    this.epTime[victim] = tsSec + tsNs / 1e9;
  }

  private echoReply(s: number, seq: number, tsSec: number, tsNs: number): void {
    this.u32[s * W + W_C2]++;
    const gs = ((this.u32[s * W + W_GEN] & 0xffff) << 16) | seq;
    const ek = this.epKey;
    const base = fmix(Math.imul(s, 0x9e3779b1) ^ seq) & (ECHO_PENDING - 1);
    for (let i = 0; i < ECHO_PROBE; i++) {
      const p = (base + i) & (ECHO_PENDING - 1);
      if (ek[2 * p] === s + 1 && ek[2 * p + 1] === gs) {
        ek[2 * p] = 0;
        // Subtract seconds first: absolute epoch times as doubles only keep ~0.2 µs.
        const ms = ((tsSec - Math.floor(this.epTime[p])) + tsNs / 1e9 - (this.epTime[p] - Math.floor(this.epTime[p]))) * 1000;
        const n = this.u32[s * W + W_RTT_N] + 1;
        if (n === 1 || ms < this.f32[s * W + W_RTT_MIN]) this.f32[s * W + W_RTT_MIN] = ms;
        if (n === 1 || ms > this.f32[s * W + W_RTT_MAX]) this.f32[s * W + W_RTT_MAX] = ms;
        this.f32[s * W + W_RTT_MEAN] += (ms - this.f32[s * W + W_RTT_MEAN]) / n;
        this.u32[s * W + W_RTT_N] = n;
        return;
      }
    }
  }

  /** An ICMP error quotes the packet that caused it: count it on that packet's flow (if we have it). */
  private attributeIcmpError(v: PacketView, vni: number): void {
    this.kFam = FAM_V4;
    this.kS0 = v.icmpInnerSrc >>> 0;
    this.kD0 = v.icmpInnerDst >>> 0;
    this.kS1 = this.kS2 = this.kS3 = this.kD1 = this.kD2 = this.kD3 = 0;
    this.kProto = v.icmpInnerProto & 0xff;
    this.kSp = v.icmpInnerSport >= 0 ? v.icmpInnerSport & 0xffff : 0;
    this.kDp = v.icmpInnerDport >= 0 ? v.icmpInnerDport & 0xffff : 0;
    const b = v.buf;
    const end = Math.min(v.base + v.caplen, b.length);
    // A quoted echo request (e.g. a ping whose TTL ran out) belongs to the echo flow keyed by its id.
    const q = v.icmpInnerL4Off;
    if (this.kProto === IPPROTO_ICMP && q >= 0 && q + 8 <= end && b[q] === 8) this.kSp = this.kDp = (b[q + 4] << 8) | b[q + 5];
    // Fragmentation needed: the next-hop MTU sits in the header's last two bytes.
    const o = v.l4Off;
    const mtu = v.icmpType === 3 && v.icmpCode === 4 && o >= 0 && o + 8 <= end ? (b[o + 6] << 8) | b[o + 7] : 0;
    this.countIcmpError(vni, v.icmpType, v.icmpCode, ip4Text(v.ip4Src >>> 0), false, mtu);
  }

  /** attributeIcmpError for ICMPv6 errors quoting an IPv6 packet. */
  private attributeIcmp6Error(v: PacketView, vni: number): void {
    const b = v.buf;
    const end = Math.min(v.base + v.caplen, b.length);
    const so = v.icmp6InnerSrcOff;
    const d = v.icmp6InnerDstOff;
    const src = v.ip6SrcOff;
    if (so < 0 || d < 0 || src < 0 || so + 16 > end || d + 16 > end || src + 16 > end) {
      this.c.icmpErrorsUnmatched++;
      return;
    }
    this.ip6Key(b, so, d);
    this.kProto = v.icmpInnerProto & 0xff;
    this.kSp = v.icmpInnerSport >= 0 ? v.icmpInnerSport & 0xffff : 0;
    this.kDp = v.icmpInnerDport >= 0 ? v.icmpInnerDport & 0xffff : 0;
    const q = v.icmpInnerL4Off;
    if (this.kProto === IPPROTO_ICMPV6 && q >= 0 && q + 8 <= end && b[q] === 128) this.kSp = this.kDp = (b[q + 4] << 8) | b[q + 5];
    // Packet too big carries the MTU of the next hop in the 32 bits after the checksum.
    const o = v.l4Off;
    const mtu = v.icmp6Type === 2 && o >= 0 && o + 8 <= end ? rd32(b, o + 4) : 0;
    const from = ip6Text(rd32(b, src), rd32(b, src + 4), rd32(b, src + 8), rd32(b, src + 12));
    this.countIcmpError(vni, v.icmp6Type, v.icmp6Code, from, true, mtu);
  }

  /** Counts an error on the flow of the quoted packet, whose key is in the scratch fields. */
  private countIcmpError(vni: number, type: number, code: number, from: string, v6: boolean, mtu: number): void {
    if (type === (v6 ? 1 : 3)) this.c.icmpUnreachables++;
    this.kVni = vni;
    this.packKey();
    const s = this.find(this.keyHash());
    if (s < 0) {
      this.c.icmpErrorsUnmatched++;
      return;
    }
    const e = this.errors.get(s);
    if (e) {
      e.count++;
      e.type = type;
      e.code = code;
      e.from = from;
      e.v6 = v6;
      e.mtu = mtu;
    } else {
      this.errors.set(s, { count: 1, type, code, from, v6, mtu });
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Slots, LRU, index, growth

  private allocSlot(): number {
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
      // Full: the least recently seen flow makes room; its problems are kept, the eviction counted.
      const victim = this.lruHead;
      this.retire(victim);
      this.remove(victim);
      this.c.evicted++;
      s = this.freeHead;
      this.freeHead = this.i32[s * W + W_LNEXT];
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

  private allocV6(): number {
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
  private remove(s: number): void {
    const w = s * W;
    const fam = this.u8[s * B + B_FAM];
    // A connect whose SYNs were never answered is known to have failed only when its flow leaves the table.
    if ((fam === FAM_V4 || fam === FAM_V6) && this.u16[s * H + H_PROTO] === IPPROTO_TCP && this.u16[s * H + H_SYNS] > 0 &&
        (this.u8[s * B + B_TFL] & TF_SYNACK) === 0 && this.u8[s * B + B_TST] !== ST_RESET) this.c.tcpFailedConnects++;
    if (this.lastSlot === s) this.lastSlot = -1;
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

  private linkTail(s: number): void {
    this.i32[s * W + W_LPREV] = this.lruTail;
    this.i32[s * W + W_LNEXT] = -1;
    if (this.lruTail >= 0) this.i32[this.lruTail * W + W_LNEXT] = s;
    else this.lruHead = s;
    this.lruTail = s;
  }

  /** Moves s to the most-recently-seen end of the LRU list. */
  private touch(s: number): void {
    if (this.lruTail === s) return;
    const pv = this.i32[s * W + W_LPREV];
    const nx = this.i32[s * W + W_LNEXT];
    if (pv >= 0) this.i32[pv * W + W_LNEXT] = nx;
    else this.lruHead = nx;
    this.i32[nx * W + W_LPREV] = pv; // nx >= 0 because s is not the tail
    this.linkTail(s);
  }

  private indexInsert(h: number, s: number): void {
    const ix = this.ix;
    const mask = this.ixMask;
    let i = h & mask;
    while (ix[i] !== 0) i = (i + 1) & mask;
    ix[i] = (h & ~this.slotMask) | (s + 1);
  }

  /** Linear-probing delete with backward shift: later entries of the run move up, so no tombstones pile up. */
  private indexDelete(h: number, s: number): void {
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
  private buildIndex(): void {
    let n = 2048;
    while (n < this.ixCap * 2) n *= 2;
    this.ix = new Int32Array(n);
    this.ixMask = n - 1;
    // Slots in memory order (the hardware prefetcher streams them), not LRU order (a miss per flow).
    for (let s = 0; s < this.hwm; s++) if (this.i32[s * W + W_LPREV] !== FREE_SLOT) this.indexInsert(this.u32[s * W + W_HASH], s);
  }

  private allocRecords(cap: number): void {
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

  // ---------------------------------------------------------------------------------------------------------
  // Output (allocates: only for flows that are shown)

  private selectSlots(sort: FlowSort | undefined, top: number, rateBy: 'live' | 'average'): Int32Array {
    const slots = new Int32Array(this.live);
    let n = 0;
    for (let s = this.lruHead; s >= 0; s = this.i32[s * W + W_LNEXT]) slots[n++] = s;
    if (sort === undefined) return top > 0 && top < n ? slots.subarray(0, top) : slots;
    const key = new Float64Array(this.hwm);
    for (let i = 0; i < n; i++) {
      const s = slots[i];
      switch (sort) {
        case 'packets':
          key[s] = -(this.packets(s, W_PKT_AB, H_PKT_AB_HI) + this.packets(s, W_PKT_BA, H_PKT_BA_HI));
          break;
        case 'bytes':
          key[s] = -(this.f64[s * F + F_BYTE_AB] + this.f64[s * F + F_BYTE_BA]);
          break;
        case 'rate':
          key[s] = -(rateBy === 'live' ? this.liveRate(s) : this.avgRate(s));
          break;
        case 'start':
          key[s] = this.u32[s * W + W_FIRST_SEC] + this.u32[s * W + W_FIRST_NS] / 1e9;
          break;
      }
    }
    // Ties keep the order of first appearance.
    const u32 = this.u32;
    const cmp = (x: number, y: number): number =>
      key[x] - key[y] || u32[x * W + W_FIRST_SEC] - u32[y * W + W_FIRST_SEC] || u32[x * W + W_FIRST_NS] - u32[y * W + W_FIRST_NS] || x - y;
    if (top <= 0 || top * 8 >= n) {
      if (sort !== 'rate' && this.sortBySlotKey(slots, n, key, sort === 'start')) return top > 0 && top < n ? slots.subarray(0, top) : slots;
      slots.sort(cmp);
      return top > 0 && top < n ? slots.subarray(0, top) : slots;
    }
    // A few of many (the dashboard's visible rows): keep the best `top` in a heap whose root is the worst kept.
    const heap = new Int32Array(top);
    let hn = 0;
    for (let i = 0; i < n; i++) {
      const s = slots[i];
      let j: number;
      if (hn < top) {
        j = hn++;
        heap[j] = s;
        while (j > 0) {
          const p = (j - 1) >> 1;
          if (cmp(heap[p], heap[j]) >= 0) break;
          const t = heap[p];
          heap[p] = heap[j];
          heap[j] = t;
          j = p;
        }
      } else if (cmp(s, heap[0]) < 0) {
        heap[0] = s;
        j = 0;
        for (;;) {
          const l = 2 * j + 1;
          if (l >= hn) break;
          const c = l + 1 < hn && cmp(heap[l + 1], heap[l]) > 0 ? l + 1 : l;
          if (cmp(heap[c], heap[j]) <= 0) break;
          const t = heap[c];
          heap[c] = heap[j];
          heap[j] = t;
          j = c;
        }
      }
    }
    return heap.subarray(0, hn).sort(cmp);
  }

  /**
   * Sorts slots by (key, slot) without a comparator when that is the full order: slots were handed out in
   * order of first packet time (never reused, packets in time order), so the tie-break by first appearance
   * is the slot number, and integer keys below 2^32 pack with the slot into one exactly representable double
   * for the typed array's native numeric sort (a comparator call per comparison costs far more).
   * `byStart`: the order is the slot order itself. False (slots untouched) when the conditions don't hold.
   */
  private sortBySlotKey(slots: Int32Array, n: number, key: Float64Array, byStart: boolean): boolean {
    if (!this.slotsInFirstOrder || this.hwm > SLOT_PACK) return false;
    if (byStart) {
      slots.sort();
      return true;
    }
    const packed = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const s = slots[i];
      const k = -key[s]; // keys are negated counts (largest first)
      if (!(k >= 0 && k < 0x100000000 && k === Math.floor(k))) return false;
      packed[i] = (0xffffffff - k) * SLOT_PACK + s;
    }
    packed.sort();
    for (let i = 0; i < n; i++) slots[i] = packed[i] % SLOT_PACK;
    return true;
  }

  private packets(s: number, lo: number, hi: number): number {
    return this.u16[s * H + hi] * 0x100000000 + this.u32[s * W + lo];
  }

  private avgRate(s: number): number {
    const bytes = this.f64[s * F + F_BYTE_AB] + this.f64[s * F + F_BYTE_BA];
    const dur = this.u32[s * W + W_LAST_SEC] - this.u32[s * W + W_FIRST_SEC] + (this.u32[s * W + W_LAST_NS] - this.u32[s * W + W_FIRST_NS]) / 1e9;
    // Shorter than one interval counts as one interval: a 2-packet flow 10 µs apart is not a 100 Mb/s flow.
    return bytes / Math.max(dur, this.rateIntervalSec);
  }

  private liveRate(s: number): number {
    const nowK = Math.floor((this.clockSec + this.clockNs / 1e9) / this.rateIntervalSec) - this.rateBase;
    const k = this.i32[s * W + W_RATE_K];
    if (nowK === k) return this.f32[s * W + W_RATE_PREV] / this.rateIntervalSec;
    if (nowK === k + 1) return this.f32[s * W + W_RATE_CUR] / this.rateIntervalSec;
    return 0;
  }

  /** Text of side a (second = false) or b of slot s. */
  private addrText(s: number, second: boolean): string {
    const fam = this.u8[s * B + B_FAM];
    const w0 = this.u32[s * W + (second ? W_B0 : W_A0)];
    const v = this.i32[s * W + W_V6];
    const o = v * 8 + (second ? 3 : 0);
    switch (fam) {
      case FAM_V6:
        return ip6Text(w0, this.v6w[o], this.v6w[o + 1], this.v6w[o + 2]);
      case FAM_ETH:
        return macText(w0, this.v6w[o]);
      default:
        return ip4Text(w0);
    }
  }

  private protoName(s: number): string {
    const fam = this.u8[s * B + B_FAM];
    const p = this.u16[s * H + H_PROTO];
    if (fam === FAM_ARP) return 'arp';
    if (fam === FAM_ETH) return `eth:0x${p.toString(16).padStart(4, '0')}`;
    return PROTO_NAMES[p] ?? `ip:${p}`;
  }

  private flowKey(s: number): string {
    const fam = this.u8[s * B + B_FAM];
    const proto = this.protoName(s);
    const hasPorts = (fam === FAM_V4 || fam === FAM_V6) && (this.u16[s * H + H_PROTO] === IPPROTO_TCP || this.u16[s * H + H_PROTO] === IPPROTO_UDP);
    const ep = (second: boolean, port: number): string => {
      const a = this.addrText(s, second);
      if (!hasPorts) return a;
      return fam === FAM_V6 ? `[${a}]:${port}` : `${a}:${port}`;
    };
    const isEcho = (this.u16[s * H + H_PROTO] === IPPROTO_ICMP || this.u16[s * H + H_PROTO] === IPPROTO_ICMPV6) && (this.u32[s * W + W_C1] > 0 || this.u32[s * W + W_C2] > 0);
    let k = `${proto} ${ep(false, this.u16[s * H + H_A_PORT])} <-> ${ep(true, this.u16[s * H + H_B_PORT])}`;
    if (isEcho) k += ` id ${this.u16[s * H + H_A_PORT]}`;
    if (this.i32[s * W + W_VNI] >= 0) k += ` vni ${this.i32[s * W + W_VNI]}`;
    return k;
  }

  private record(s: number): FlowRecord {
    const fam = this.u8[s * B + B_FAM];
    const p = this.u16[s * H + H_PROTO];
    const isIp = fam === FAM_V4 || fam === FAM_V6;
    const hasPorts = isIp && (p === IPPROTO_TCP || p === IPPROTO_UDP);
    const isIcmp = isIp && (p === IPPROTO_ICMP || p === IPPROTO_ICMPV6);
    const isEcho = isIcmp && (this.u32[s * W + W_C1] > 0 || this.u32[s * W + W_C2] > 0);
    const err = this.errors.get(s);
    const ifaces: string[] = [];
    const m = this.u32[s * W + W_IF_MASK];
    for (let i = 0; i < 31; i++) if ((m & (1 << i)) !== 0) ifaces.push(this.ifaceName(i));
    if ((m & 0x80000000) !== 0) ifaces.push('(others)');
    const pa = this.packets(s, W_PKT_AB, H_PKT_AB_HI);
    const pb = this.packets(s, W_PKT_BA, H_PKT_BA_HI);
    const ba = this.f64[s * F + F_BYTE_AB];
    const bb = this.f64[s * F + F_BYTE_BA];
    const dur = this.u32[s * W + W_LAST_SEC] - this.u32[s * W + W_FIRST_SEC] + (this.u32[s * W + W_LAST_NS] - this.u32[s * W + W_FIRST_NS]) / 1e9;
    return {
      key: this.flowKey(s),
      proto: this.protoName(s),
      family: fam === FAM_V4 ? 'ipv4' : fam === FAM_V6 ? 'ipv6' : fam === FAM_ARP ? 'arp' : 'eth',
      a: this.addrText(s, false),
      aPort: hasPorts ? this.u16[s * H + H_A_PORT] : null,
      b: this.addrText(s, true),
      bPort: hasPorts ? this.u16[s * H + H_B_PORT] : null,
      echoId: isEcho ? this.u16[s * H + H_A_PORT] : null,
      vni: this.i32[s * W + W_VNI] >= 0 ? this.i32[s * W + W_VNI] : null,
      packetsAB: pa,
      packetsBA: pb,
      bytesAB: ba,
      bytesBA: bb,
      packets: pa + pb,
      bytes: ba + bb,
      first: formatTs(this.u32[s * W + W_FIRST_SEC], this.u32[s * W + W_FIRST_NS]),
      last: formatTs(this.u32[s * W + W_LAST_SEC], this.u32[s * W + W_LAST_NS]),
      durationSec: Math.max(0, dur),
      rateBytesPerSec: this.liveRate(s),
      avgBytesPerSec: this.avgRate(s),
      ifaces,
      tcp: isIp && p === IPPROTO_TCP ? this.tcpSummary(s) : null,
      echo: isEcho ? this.echoSummary(s) : null,
      arp: fam === FAM_ARP ? { requests: this.u32[s * W + W_C1], replies: this.u32[s * W + W_C2] } : null,
      icmpErrors: err ? { count: err.count, type: err.type, code: err.code, from: err.from, text: icmpErrorText(err.type, err.code, err.v6, err.mtu) } : null,
    };
  }

  private tcpStateOf(s: number): TcpState {
    const f = this.u8[s * B + B_TFL];
    const syns = this.u16[s * H + H_SYNS];
    let state: TcpState;
    switch (this.u8[s * B + B_TST]) {
      case ST_SYN_SENT:
        state = 'syn-sent';
        break;
      case ST_SYN_RCVD:
        state = 'syn-received';
        break;
      case ST_ESTABLISHED:
        state = (f & TF_MIDSTREAM) !== 0 ? 'midstream' : 'established';
        break;
      case ST_CLOSING:
        state = 'closing';
        break;
      case ST_CLOSED:
        state = 'closed';
        break;
      case ST_RESET:
        state = syns > 0 && (f & TF_SYNACK) === 0 && this.u8[s * B + B_RST_BY] === 2 ? 'refused' : 'reset';
        break;
      default:
        state = 'midstream';
    }
    return state;
  }

  private tcpSummary(s: number): TcpSummary {
    const f = this.u8[s * B + B_TFL];
    const syns = this.u16[s * H + H_SYNS];
    return {
      state: this.tcpStateOf(s),
      syns,
      synRetransmits: Math.max(0, syns - 1),
      synAck: (f & TF_SYNACK) !== 0,
      finA: (f & TF_FIN_A) !== 0,
      finB: (f & TF_FIN_B) !== 0,
      rstBy: this.u8[s * B + B_RST_BY] === 1 ? 'a' : this.u8[s * B + B_RST_BY] === 2 ? 'b' : null,
    };
  }

  private echoSummary(s: number): EchoSummary {
    const n = this.u32[s * W + W_RTT_N];
    const r3 = (x: number): number => Math.round(x * 1000) / 1000;
    return {
      requests: this.u32[s * W + W_C1],
      replies: this.u32[s * W + W_C2],
      unanswered: Math.max(0, this.u32[s * W + W_C1] - this.u32[s * W + W_C2]),
      rttMinMs: n > 0 ? r3(this.f32[s * W + W_RTT_MIN]) : null,
      rttAvgMs: n > 0 ? r3(this.f32[s * W + W_RTT_MEAN]) : null,
      rttMaxMs: n > 0 ? r3(this.f32[s * W + W_RTT_MAX]) : null,
      rttSamples: n,
    };
  }

  /** Appends the problems of flow s (failed connect, reset, unanswered echo, ICMP errors) to out. */
  private flowProblems(s: number, out: Problem[]): void {
    const fam = this.u8[s * B + B_FAM];
    if (fam !== FAM_V4 && fam !== FAM_V6) return;
    const p = this.u16[s * H + H_PROTO];
    const hasProblem =
      (this.errors.size > 0 && this.errors.has(s)) ||
      (p === IPPROTO_TCP && (this.u8[s * B + B_RST_BY] !== 0 || (this.u16[s * H + H_SYNS] > 0 && (this.u8[s * B + B_TFL] & TF_SYNACK) === 0))) ||
      ((p === IPPROTO_ICMP || p === IPPROTO_ICMPV6) && this.u32[s * W + W_C1] > this.u32[s * W + W_C2]);
    if (!hasProblem) return;
    const key = this.flowKey(s);
    const a = this.addrText(s, false);
    const b = this.addrText(s, true);
    const time = formatTs(this.u32[s * W + W_LAST_SEC], this.u32[s * W + W_LAST_NS]);
    if (p === IPPROTO_TCP) {
      const t = this.tcpSummary(s);
      const dst = fam === FAM_V6 ? `[${b}]:${this.u16[s * H + H_B_PORT]}` : `${b}:${this.u16[s * H + H_B_PORT]}`;
      if (t.syns > 0 && !t.synAck) {
        const retr = t.synRetransmits > 0 ? ` (${t.synRetransmits} retransmitted)` : '';
        const text =
          t.rstBy === 'b'
            ? `TCP connect ${a} → ${dst} refused: RST answered ${t.syns} SYN(s)${retr}`
            : `TCP connect ${a} → ${dst} failed: ${t.syns} SYN(s)${retr}, no answer`;
        out.push({
          kind: 'tcp-failed-connect',
          text,
          time,
          flow: key,
          details: { client: a, server: b, port: this.u16[s * H + H_B_PORT], syns: t.syns, synRetransmits: t.synRetransmits, refused: t.rstBy === 'b' },
        });
      } else if (t.rstBy !== null) {
        const by = t.rstBy === 'a' ? a : b;
        out.push({
          kind: 'tcp-reset',
          text: `TCP ${key.slice(4)} reset by ${t.rstBy === 'a' ? 'client' : 'server'} ${by}`,
          time,
          flow: key,
          details: { by: t.rstBy, address: by, established: (this.u8[s * B + B_TFL] & TF_ESTABLISHED_EVER) !== 0 },
        });
      }
    }
    if ((p === IPPROTO_ICMP || p === IPPROTO_ICMPV6) && this.u32[s * W + W_C1] > this.u32[s * W + W_C2]) {
      const un = this.u32[s * W + W_C1] - this.u32[s * W + W_C2];
      out.push({
        kind: 'icmp-unanswered',
        text: `ping ${a} → ${b} (id ${this.u16[s * H + H_A_PORT]}): ${un} of ${this.u32[s * W + W_C1]} echo request(s) unanswered`,
        time,
        flow: key,
        details: { from: a, to: b, id: this.u16[s * H + H_A_PORT], requests: this.u32[s * W + W_C1], replies: this.u32[s * W + W_C2], unanswered: un },
      });
    }
    const err = this.errors.get(s);
    if (err) {
      const from = err.from;
      out.push({
        kind: 'icmp-error',
        text: `${from}: ${icmpErrorText(err.type, err.code, err.v6, err.mtu)} for ${key} (${err.count}×)`,
        time,
        flow: key,
        details: { from, type: err.type, code: err.code, count: err.count, icmpv6: err.v6, mtu: err.mtu },
      });
    }
  }

  /** Keeps the problems of a flow that is about to leave the table. */
  private retire(s: number): void {
    if (this.retired.length >= MAX_RETIRED_PROBLEMS) {
      const tmp: Problem[] = [];
      this.flowProblems(s, tmp);
      this.c.problemsDropped += tmp.length;
      return;
    }
    this.flowProblems(s, this.retired);
  }
}
