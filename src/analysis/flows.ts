/**
 * FlowTable: bidirectional flows with per-direction counters, TCP connection state, ICMP echo matching (RTT),
 * ICMP errors attributed to the flow they quote, ARP pairs, plus MAC learning and ARP health on the side.
 *
 * Memory and speed: flows live in a struct-of-typed-arrays indexed by slot; a chained hash (bucket heads +
 * per-slot next) finds a slot from numbers read out of the PacketView, so an existing flow is updated without
 * allocating. The hash is symmetric in the two endpoints, so both directions land on one flow; the stored
 * a/b order says which side initiated. Slots are kept on an LRU list (least recently seen first): idle expiry
 * walks it from the front and, when the table is full, the front flow is evicted (and counted).
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

const MAX_RETIRED_PROBLEMS = 10_000;
const ECHO_PENDING = 1 << 16;
const ECHO_PROBE = 8;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function endpointHash(w0: number, w1: number, w2: number, w3: number, port: number): number {
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
  private heads: Int32Array;
  private bucketMask: number;
  private lruHead = -1;
  private lruTail = -1;

  // Per-slot columns.
  private hashv!: Uint32Array;
  private next!: Int32Array;
  private prev!: Int32Array;
  private lnext!: Int32Array;
  private gen!: Uint32Array;
  private used!: Uint8Array;
  private fam!: Uint8Array;
  private proto!: Uint16Array;
  private aw!: Uint32Array;
  private bw!: Uint32Array;
  private aPort!: Uint16Array;
  private bPort!: Uint16Array;
  private vniCol!: Int32Array;
  private pktAB!: Float64Array;
  private pktBA!: Float64Array;
  private byteAB!: Float64Array;
  private byteBA!: Float64Array;
  private firstSec!: Float64Array;
  private firstNs!: Uint32Array;
  private lastSec!: Float64Array;
  private lastNs!: Uint32Array;
  private rateK!: Float64Array;
  private rateCur!: Float64Array;
  private ratePrev!: Float64Array;
  private ifMask!: Uint32Array;
  private tst!: Uint8Array;
  private tfl!: Uint8Array;
  private rstBy!: Uint8Array;
  private syns!: Uint16Array;
  private c1!: Uint32Array;
  private c2!: Uint32Array;
  private rttMin!: Float32Array;
  private rttMax!: Float32Array;
  private rttSum!: Float64Array;
  private rttN!: Uint32Array;
  private errN!: Uint32Array;
  private errType!: Uint8Array;
  private errCode!: Uint8Array;
  private errFrom!: Uint32Array;

  // Echo requests waiting for a reply: (slot, generation, seq) → time. Fixed size; lookups probe ECHO_PROBE cells.
  private readonly epSlot = new Int32Array(ECHO_PENDING).fill(-1);
  private readonly epGen = new Uint32Array(ECHO_PENDING);
  private readonly epSeq = new Uint16Array(ECHO_PENDING);
  private readonly epTime = new Float64Array(ECHO_PENDING);

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
  /** True when the packet's destination is the initiator (SYN-ACK, echo reply, ARP reply). */
  private kDstInit = false;
  /** Direction of the last lookup: 0 = a→b, 1 = b→a. */
  private dir = 0;

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
  };

  constructor(opts: FlowTableOptions = {}) {
    this.idleTimeoutSec = opts.idleTimeoutSec ?? 120;
    this.maxFlows = Math.max(1, Math.floor(opts.maxFlows ?? 1_000_000));
    this.rateIntervalSec = opts.rateIntervalSec && opts.rateIntervalSec > 0 ? opts.rateIntervalSec : 1;
    this.trackInner = opts.trackInner ?? true;
    this.cap = Math.min(this.maxFlows, 1024);
    this.allocColumns(this.cap, 0);
    const buckets = this.bucketCount(this.cap);
    this.heads = new Int32Array(buckets).fill(-1);
    this.bucketMask = buckets - 1;
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
    while (this.lruHead >= 0) {
      const s = this.lruHead;
      if (this.lastSec[s] + this.lastNs[s] / 1e9 >= cutoff) break;
      this.retire(s);
      this.remove(s);
      this.c.expired++;
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
    const slots = this.selectSlots(opts.sort, opts.top ?? 0);
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

  /** Every current problem: from live flows, from flows that already left the table, ARP, MAC moves, evictions. */
  problems(): Problem[] {
    const out: Problem[] = [];
    for (let s = this.lruHead; s >= 0; s = this.lnext[s]) this.flowProblems(s, out);
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
    if (!this.extractKey(v, vni)) {
      this.c.unkeyed++;
      return;
    }
    const s = this.findOrCreate(tsSec, tsNs);
    const d = this.dir;
    if (d === 0) {
      this.pktAB[s]++;
      this.byteAB[s] += len;
    } else {
      this.pktBA[s]++;
      this.byteBA[s] += len;
    }
    if (tsSec > this.lastSec[s] || (tsSec === this.lastSec[s] && tsNs > this.lastNs[s])) {
      this.lastSec[s] = tsSec;
      this.lastNs[s] = tsNs;
    }
    const k = Math.floor((tsSec + tsNs / 1e9) / this.rateIntervalSec);
    const rk = this.rateK[s];
    if (k === rk) {
      this.rateCur[s] += len;
    } else if (k > rk) {
      this.ratePrev[s] = k === rk + 1 ? this.rateCur[s] : 0;
      this.rateCur[s] = len;
      this.rateK[s] = k;
    } else if (k === rk - 1) {
      this.ratePrev[s] += len; // slightly out-of-order packet from a merged source
    }
    this.ifMask[s] |= ifId < 31 ? 1 << ifId : 0x80000000;
    this.touch(s);

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
        }
      }
    } else if (fam === FAM_ARP) {
      if (v.arpOp === 1) this.c1[s]++;
      else if (v.arpOp === 2) this.c2[s]++;
    }
  }

  /** Reads the flow key of `v` into the k* scratch fields; false when the packet has no keyable layer. */
  private extractKey(v: PacketView, vni: number): boolean {
    const layers = v.layers;
    this.kVni = vni;
    this.kDstInit = false;
    this.kSp = 0;
    this.kDp = 0;
    this.kS1 = this.kS2 = this.kS3 = 0;
    this.kD1 = this.kD2 = this.kD3 = 0;
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
      this.kFam = FAM_V6;
      this.kS0 = rd32(b, so);
      this.kS1 = rd32(b, so + 4);
      this.kS2 = rd32(b, so + 8);
      this.kS3 = rd32(b, so + 12);
      this.kD0 = rd32(b, dOff);
      this.kD1 = rd32(b, dOff + 4);
      this.kD2 = rd32(b, dOff + 8);
      this.kD3 = rd32(b, dOff + 12);
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

  private keyHash(): number {
    const hs = endpointHash(this.kS0, this.kS1, this.kS2, this.kS3, this.kSp);
    const hd = endpointHash(this.kD0, this.kD1, this.kD2, this.kD3, this.kDp);
    return fmix(((hs + hd) | 0) ^ Math.imul(this.kProto + (this.kFam << 16), 0x27d4eb2f) ^ Math.imul(this.kVni + 2, 0x165667b1));
  }

  /** Finds the flow of the scratch key (sets this.dir); -1 when absent. */
  private find(h: number): number {
    for (let s = this.heads[h & this.bucketMask]; s >= 0; s = this.next[s]) {
      if (this.hashv[s] !== h || this.proto[s] !== this.kProto || this.fam[s] !== this.kFam || this.vniCol[s] !== this.kVni) continue;
      const o = s << 2;
      const aw = this.aw;
      const bw = this.bw;
      if (
        aw[o] === this.kS0 && bw[o] === this.kD0 && this.aPort[s] === this.kSp && this.bPort[s] === this.kDp &&
        aw[o + 1] === this.kS1 && aw[o + 2] === this.kS2 && aw[o + 3] === this.kS3 &&
        bw[o + 1] === this.kD1 && bw[o + 2] === this.kD2 && bw[o + 3] === this.kD3
      ) {
        this.dir = 0;
        return s;
      }
      if (
        aw[o] === this.kD0 && bw[o] === this.kS0 && this.aPort[s] === this.kDp && this.bPort[s] === this.kSp &&
        aw[o + 1] === this.kD1 && aw[o + 2] === this.kD2 && aw[o + 3] === this.kD3 &&
        bw[o + 1] === this.kS1 && bw[o + 2] === this.kS2 && bw[o + 3] === this.kS3
      ) {
        this.dir = 1;
        return s;
      }
    }
    return -1;
  }

  private findOrCreate(tsSec: number, tsNs: number): number {
    const h = this.keyHash();
    const found = this.find(h);
    if (found >= 0) return found;
    const s = this.allocSlot();
    const o = s << 2;
    const swap = this.kDstInit;
    this.dir = swap ? 1 : 0;
    this.aw[o] = swap ? this.kD0 : this.kS0;
    this.aw[o + 1] = swap ? this.kD1 : this.kS1;
    this.aw[o + 2] = swap ? this.kD2 : this.kS2;
    this.aw[o + 3] = swap ? this.kD3 : this.kS3;
    this.bw[o] = swap ? this.kS0 : this.kD0;
    this.bw[o + 1] = swap ? this.kS1 : this.kD1;
    this.bw[o + 2] = swap ? this.kS2 : this.kD2;
    this.bw[o + 3] = swap ? this.kS3 : this.kD3;
    this.aPort[s] = swap ? this.kDp : this.kSp;
    this.bPort[s] = swap ? this.kSp : this.kDp;
    this.fam[s] = this.kFam;
    this.proto[s] = this.kProto;
    this.vniCol[s] = this.kVni;
    this.hashv[s] = h;
    this.firstSec[s] = tsSec;
    this.firstNs[s] = tsNs;
    this.lastSec[s] = tsSec;
    this.lastNs[s] = tsNs;
    this.rateK[s] = Math.floor((tsSec + tsNs / 1e9) / this.rateIntervalSec);
    const b = h & this.bucketMask;
    this.next[s] = this.heads[b];
    this.heads[b] = s;
    this.linkTail(s);
    this.c.created++;
    return s;
  }

  private tcpUpdate(s: number, f: number, d: number): void {
    const st = this.tst[s];
    if ((f & TCP.RST) !== 0) {
      this.rstBy[s] = d + 1;
      this.tst[s] = ST_RESET;
      return;
    }
    if ((f & TCP.SYN) !== 0) {
      if ((f & TCP.ACK) === 0) {
        if (st === ST_CLOSED || st === ST_RESET || (st !== ST_NONE && st !== ST_SYN_SENT && (this.tfl[s] & TF_ESTABLISHED_EVER) !== 0)) {
          // Port reuse: a new connection on the same 4-tuple starts over (counters keep adding up).
          this.tfl[s] = 0;
          this.rstBy[s] = 0;
          this.syns[s] = 0;
        }
        if (this.syns[s] < 0xffff) this.syns[s]++;
        if (this.tst[s] === ST_NONE || this.tst[s] === ST_CLOSED || this.tst[s] === ST_RESET) this.tst[s] = ST_SYN_SENT;
      } else {
        this.tfl[s] |= TF_SYNACK;
        if (st === ST_NONE || st === ST_SYN_SENT) this.tst[s] = ST_SYN_RCVD;
      }
      if ((f & TCP.FIN) === 0) return;
    }
    if (st === ST_NONE) {
      this.tst[s] = ST_ESTABLISHED;
      this.tfl[s] |= TF_MIDSTREAM | TF_ESTABLISHED_EVER;
    } else if (st === ST_SYN_RCVD && (f & TCP.ACK) !== 0 && d === 0) {
      this.tst[s] = ST_ESTABLISHED;
      this.tfl[s] |= TF_ESTABLISHED_EVER;
    }
    if ((f & TCP.FIN) !== 0) {
      this.tfl[s] |= d === 0 ? TF_FIN_A : TF_FIN_B;
      const both = (this.tfl[s] & (TF_FIN_A | TF_FIN_B)) === (TF_FIN_A | TF_FIN_B);
      if (this.tst[s] !== ST_RESET) this.tst[s] = both ? ST_CLOSED : ST_CLOSING;
    }
  }

  private echoRequest(s: number, seq: number, tsSec: number, tsNs: number): void {
    this.c1[s]++;
    const g = this.gen[s];
    const base = fmix(Math.imul(s, 0x9e3779b1) ^ seq) & (ECHO_PENDING - 1);
    let victim = base;
    let oldest = Infinity;
    for (let i = 0; i < ECHO_PROBE; i++) {
      const p = (base + i) & (ECHO_PENDING - 1);
      if (this.epSlot[p] === s && this.epGen[p] === g && this.epSeq[p] === seq) return; // duplicate: keep the first send
      if (this.epSlot[p] < 0) {
        victim = p;
        oldest = -Infinity;
      } else if (this.epTime[p] < oldest) {
        victim = p;
        oldest = this.epTime[p];
      }
    }
    this.epSlot[victim] = s;
    this.epGen[victim] = g;
    this.epSeq[victim] = seq;
    this.epTime[victim] = tsSec + tsNs / 1e9;
  }

  private echoReply(s: number, seq: number, tsSec: number, tsNs: number): void {
    this.c2[s]++;
    const g = this.gen[s];
    const base = fmix(Math.imul(s, 0x9e3779b1) ^ seq) & (ECHO_PENDING - 1);
    for (let i = 0; i < ECHO_PROBE; i++) {
      const p = (base + i) & (ECHO_PENDING - 1);
      if (this.epSlot[p] === s && this.epGen[p] === g && this.epSeq[p] === seq) {
        this.epSlot[p] = -1;
        // Subtract seconds first: absolute epoch times as doubles only keep ~0.2 µs.
        const ms = ((tsSec - Math.floor(this.epTime[p])) + tsNs / 1e9 - (this.epTime[p] - Math.floor(this.epTime[p]))) * 1000;
        if (this.rttN[s] === 0 || ms < this.rttMin[s]) this.rttMin[s] = ms;
        if (this.rttN[s] === 0 || ms > this.rttMax[s]) this.rttMax[s] = ms;
        this.rttSum[s] += ms;
        this.rttN[s]++;
        return;
      }
    }
  }

  /** An ICMP error quotes the packet that caused it: count it on that packet's flow (if we have it). */
  private attributeIcmpError(v: PacketView, vni: number): void {
    const type = v.icmpType;
    const code = v.icmpCode;
    const from = v.ip4Src >>> 0;
    this.kFam = FAM_V4;
    this.kS0 = v.icmpInnerSrc >>> 0;
    this.kD0 = v.icmpInnerDst >>> 0;
    this.kS1 = this.kS2 = this.kS3 = this.kD1 = this.kD2 = this.kD3 = 0;
    this.kProto = v.icmpInnerProto & 0xff;
    this.kSp = v.icmpInnerSport >= 0 ? v.icmpInnerSport & 0xffff : 0;
    this.kDp = v.icmpInnerDport >= 0 ? v.icmpInnerDport & 0xffff : 0;
    if (this.kProto === IPPROTO_ICMP && v.l4Off >= 0) {
      // A quoted echo request (e.g. a ping whose TTL ran out) belongs to the echo flow keyed by its id.
      const b = v.buf;
      const q = v.l4Off + 8;
      const end = Math.min(v.base + v.caplen, b.length);
      if (q < end) {
        const e = q + ((b[q] & 0x0f) << 2);
        if (e + 8 <= end && b[e] === 8) this.kSp = this.kDp = (b[e + 4] << 8) | b[e + 5];
      }
    }
    this.kVni = vni;
    const s = this.find(this.keyHash());
    if (s < 0) {
      this.c.icmpErrorsUnmatched++;
      return;
    }
    this.errN[s]++;
    this.errType[s] = type;
    this.errCode[s] = code;
    this.errFrom[s] = from;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Slots, LRU, growth

  private allocSlot(): number {
    let s: number;
    if (this.freeHead >= 0) {
      s = this.freeHead;
      this.freeHead = this.next[s];
    } else if (this.hwm < this.cap) {
      s = this.hwm++;
    } else if (this.cap < this.maxFlows) {
      this.growTo(Math.min(this.maxFlows, this.cap * 2));
      s = this.hwm++;
    } else {
      // Full: the least recently seen flow makes room; its problems are kept, the eviction counted.
      const victim = this.lruHead;
      this.retire(victim);
      this.remove(victim);
      this.c.evicted++;
      s = this.freeHead;
      this.freeHead = this.next[s];
    }
    this.clearSlot(s);
    this.used[s] = 1;
    this.gen[s]++;
    this.live++;
    return s;
  }

  private clearSlot(s: number): void {
    this.pktAB[s] = this.pktBA[s] = this.byteAB[s] = this.byteBA[s] = 0;
    this.rateCur[s] = this.ratePrev[s] = 0;
    this.ifMask[s] = 0;
    this.tst[s] = ST_NONE;
    this.tfl[s] = 0;
    this.rstBy[s] = 0;
    this.syns[s] = 0;
    this.c1[s] = this.c2[s] = 0;
    this.rttMin[s] = this.rttMax[s] = 0;
    this.rttSum[s] = 0;
    this.rttN[s] = 0;
    this.errN[s] = 0;
    this.errType[s] = this.errCode[s] = 0;
    this.errFrom[s] = 0;
  }

  /** Unlinks slot s from its bucket and the LRU list and frees it. */
  private remove(s: number): void {
    const b = this.hashv[s] & this.bucketMask;
    if (this.heads[b] === s) {
      this.heads[b] = this.next[s];
    } else {
      let p = this.heads[b];
      while (p >= 0 && this.next[p] !== s) p = this.next[p];
      if (p >= 0) this.next[p] = this.next[s];
    }
    const pv = this.prev[s];
    const nx = this.lnext[s];
    if (pv >= 0) this.lnext[pv] = nx;
    else this.lruHead = nx;
    if (nx >= 0) this.prev[nx] = pv;
    else this.lruTail = pv;
    this.used[s] = 0;
    this.next[s] = this.freeHead;
    this.freeHead = s;
    this.live--;
  }

  private linkTail(s: number): void {
    this.prev[s] = this.lruTail;
    this.lnext[s] = -1;
    if (this.lruTail >= 0) this.lnext[this.lruTail] = s;
    else this.lruHead = s;
    this.lruTail = s;
  }

  /** Moves s to the most-recently-seen end of the LRU list. */
  private touch(s: number): void {
    if (this.lruTail === s) return;
    const pv = this.prev[s];
    const nx = this.lnext[s];
    if (pv >= 0) this.lnext[pv] = nx;
    else this.lruHead = nx;
    this.prev[nx] = pv; // nx >= 0 because s is not the tail
    this.linkTail(s);
  }

  private bucketCount(cap: number): number {
    let n = 1024;
    while (n < cap) n *= 2;
    return n;
  }

  private growTo(newCap: number): void {
    this.allocColumns(newCap, this.cap);
    this.cap = newCap;
    const buckets = this.bucketCount(newCap);
    if (buckets !== this.heads.length) {
      this.heads = new Int32Array(buckets).fill(-1);
      this.bucketMask = buckets - 1;
      for (let s = 0; s < this.hwm; s++) {
        if (this.used[s] === 0) continue;
        const b = this.hashv[s] & this.bucketMask;
        this.next[s] = this.heads[b];
        this.heads[b] = s;
      }
      // Free slots were chained through `next`, which the rehash overwrote: rebuild the free list.
      this.freeHead = -1;
      for (let s = this.hwm - 1; s >= 0; s--) {
        if (this.used[s] !== 0) continue;
        this.next[s] = this.freeHead;
        this.freeHead = s;
      }
    }
  }

  /** (Re)allocates every column at `cap` slots, copying the first `keep` slots. */
  private allocColumns(cap: number, keep: number): void {
    const u32 = (old: Uint32Array | undefined, w = 1): Uint32Array => {
      const a = new Uint32Array(cap * w);
      if (old && keep) a.set(old.subarray(0, keep * w));
      return a;
    };
    const i32 = (old: Int32Array | undefined): Int32Array => {
      const a = new Int32Array(cap);
      if (old && keep) a.set(old.subarray(0, keep));
      return a;
    };
    const u16 = (old: Uint16Array | undefined): Uint16Array => {
      const a = new Uint16Array(cap);
      if (old && keep) a.set(old.subarray(0, keep));
      return a;
    };
    const u8 = (old: Uint8Array | undefined): Uint8Array => {
      const a = new Uint8Array(cap);
      if (old && keep) a.set(old.subarray(0, keep));
      return a;
    };
    const f64 = (old: Float64Array | undefined): Float64Array => {
      const a = new Float64Array(cap);
      if (old && keep) a.set(old.subarray(0, keep));
      return a;
    };
    const f32 = (old: Float32Array | undefined): Float32Array => {
      const a = new Float32Array(cap);
      if (old && keep) a.set(old.subarray(0, keep));
      return a;
    };
    this.hashv = u32(this.hashv);
    this.next = i32(this.next);
    this.prev = i32(this.prev);
    this.lnext = i32(this.lnext);
    this.gen = u32(this.gen);
    this.used = u8(this.used);
    this.fam = u8(this.fam);
    this.proto = u16(this.proto);
    this.aw = u32(this.aw, 4);
    this.bw = u32(this.bw, 4);
    this.aPort = u16(this.aPort);
    this.bPort = u16(this.bPort);
    this.vniCol = i32(this.vniCol);
    this.pktAB = f64(this.pktAB);
    this.pktBA = f64(this.pktBA);
    this.byteAB = f64(this.byteAB);
    this.byteBA = f64(this.byteBA);
    this.firstSec = f64(this.firstSec);
    this.firstNs = u32(this.firstNs);
    this.lastSec = f64(this.lastSec);
    this.lastNs = u32(this.lastNs);
    this.rateK = f64(this.rateK);
    this.rateCur = f64(this.rateCur);
    this.ratePrev = f64(this.ratePrev);
    this.ifMask = u32(this.ifMask);
    this.tst = u8(this.tst);
    this.tfl = u8(this.tfl);
    this.rstBy = u8(this.rstBy);
    this.syns = u16(this.syns);
    this.c1 = u32(this.c1);
    this.c2 = u32(this.c2);
    this.rttMin = f32(this.rttMin);
    this.rttMax = f32(this.rttMax);
    this.rttSum = f64(this.rttSum);
    this.rttN = u32(this.rttN);
    this.errN = u32(this.errN);
    this.errType = u8(this.errType);
    this.errCode = u8(this.errCode);
    this.errFrom = u32(this.errFrom);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Output (allocates: only for flows that are shown)

  private selectSlots(sort: FlowSort | undefined, top: number): Int32Array {
    const slots = new Int32Array(this.live);
    let n = 0;
    for (let s = this.lruHead; s >= 0; s = this.lnext[s]) slots[n++] = s;
    if (sort !== undefined) {
      const key = new Float64Array(this.cap);
      for (let i = 0; i < n; i++) {
        const s = slots[i];
        switch (sort) {
          case 'packets':
            key[s] = -(this.pktAB[s] + this.pktBA[s]);
            break;
          case 'bytes':
            key[s] = -(this.byteAB[s] + this.byteBA[s]);
            break;
          case 'rate':
            key[s] = -this.avgRate(s);
            break;
          case 'start':
            key[s] = this.firstSec[s] + this.firstNs[s] / 1e9;
            break;
        }
      }
      // Ties keep the order of first appearance.
      slots.sort((x, y) => key[x] - key[y] || this.firstSec[x] - this.firstSec[y] || this.firstNs[x] - this.firstNs[y] || x - y);
    }
    return top > 0 && top < n ? slots.subarray(0, top) : slots;
  }

  private avgRate(s: number): number {
    const bytes = this.byteAB[s] + this.byteBA[s];
    const dur = this.lastSec[s] - this.firstSec[s] + (this.lastNs[s] - this.firstNs[s]) / 1e9;
    // Shorter than one interval counts as one interval: a 2-packet flow 10 µs apart is not a 100 Mb/s flow.
    return bytes / Math.max(dur, this.rateIntervalSec);
  }

  private liveRate(s: number): number {
    const nowK = Math.floor((this.clockSec + this.clockNs / 1e9) / this.rateIntervalSec);
    const k = this.rateK[s];
    if (nowK === k) return this.ratePrev[s] / this.rateIntervalSec;
    if (nowK === k + 1) return this.rateCur[s] / this.rateIntervalSec;
    return 0;
  }

  private addrText(words: Uint32Array, o: number, fam: number): string {
    switch (fam) {
      case FAM_V6:
        return ip6Text(words[o], words[o + 1], words[o + 2], words[o + 3]);
      case FAM_ETH:
        return macText(words[o], words[o + 1]);
      default:
        return ip4Text(words[o]);
    }
  }

  private protoName(s: number): string {
    const fam = this.fam[s];
    const p = this.proto[s];
    if (fam === FAM_ARP) return 'arp';
    if (fam === FAM_ETH) return `eth:0x${p.toString(16).padStart(4, '0')}`;
    return PROTO_NAMES[p] ?? `ip:${p}`;
  }

  private flowKey(s: number): string {
    const fam = this.fam[s];
    const proto = this.protoName(s);
    const o = s << 2;
    const hasPorts = (fam === FAM_V4 || fam === FAM_V6) && (this.proto[s] === IPPROTO_TCP || this.proto[s] === IPPROTO_UDP);
    const ep = (words: Uint32Array, port: number): string => {
      const a = this.addrText(words, o, fam);
      if (!hasPorts) return a;
      return fam === FAM_V6 ? `[${a}]:${port}` : `${a}:${port}`;
    };
    const isEcho = (this.proto[s] === IPPROTO_ICMP || this.proto[s] === IPPROTO_ICMPV6) && (this.c1[s] > 0 || this.c2[s] > 0);
    let k = `${proto} ${ep(this.aw, this.aPort[s])} <-> ${ep(this.bw, this.bPort[s])}`;
    if (isEcho) k += ` id ${this.aPort[s]}`;
    if (this.vniCol[s] >= 0) k += ` vni ${this.vniCol[s]}`;
    return k;
  }

  private record(s: number): FlowRecord {
    const fam = this.fam[s];
    const o = s << 2;
    const p = this.proto[s];
    const isIp = fam === FAM_V4 || fam === FAM_V6;
    const hasPorts = isIp && (p === IPPROTO_TCP || p === IPPROTO_UDP);
    const isIcmp = isIp && (p === IPPROTO_ICMP || p === IPPROTO_ICMPV6);
    const isEcho = isIcmp && (this.c1[s] > 0 || this.c2[s] > 0);
    const ifaces: string[] = [];
    const m = this.ifMask[s];
    for (let i = 0; i < 31; i++) if ((m & (1 << i)) !== 0) ifaces.push(this.ifaceName(i));
    if ((m & 0x80000000) !== 0) ifaces.push('(others)');
    const pa = this.pktAB[s];
    const pb = this.pktBA[s];
    const ba = this.byteAB[s];
    const bb = this.byteBA[s];
    const dur = this.lastSec[s] - this.firstSec[s] + (this.lastNs[s] - this.firstNs[s]) / 1e9;
    return {
      key: this.flowKey(s),
      proto: this.protoName(s),
      family: fam === FAM_V4 ? 'ipv4' : fam === FAM_V6 ? 'ipv6' : fam === FAM_ARP ? 'arp' : 'eth',
      a: this.addrText(this.aw, o, fam),
      aPort: hasPorts ? this.aPort[s] : null,
      b: this.addrText(this.bw, o, fam),
      bPort: hasPorts ? this.bPort[s] : null,
      echoId: isEcho ? this.aPort[s] : null,
      vni: this.vniCol[s] >= 0 ? this.vniCol[s] : null,
      packetsAB: pa,
      packetsBA: pb,
      bytesAB: ba,
      bytesBA: bb,
      packets: pa + pb,
      bytes: ba + bb,
      first: formatTs(this.firstSec[s], this.firstNs[s]),
      last: formatTs(this.lastSec[s], this.lastNs[s]),
      durationSec: Math.max(0, dur),
      rateBytesPerSec: this.liveRate(s),
      avgBytesPerSec: this.avgRate(s),
      ifaces,
      tcp: isIp && p === IPPROTO_TCP ? this.tcpSummary(s) : null,
      echo: isEcho ? this.echoSummary(s) : null,
      arp: fam === FAM_ARP ? { requests: this.c1[s], replies: this.c2[s] } : null,
      icmpErrors:
        this.errN[s] > 0
          ? {
              count: this.errN[s],
              type: this.errType[s],
              code: this.errCode[s],
              from: ip4Text(this.errFrom[s]),
              text: icmpErrorText(this.errType[s], this.errCode[s]),
            }
          : null,
    };
  }

  private tcpSummary(s: number): TcpSummary {
    const f = this.tfl[s];
    const syns = this.syns[s];
    let state: TcpState;
    switch (this.tst[s]) {
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
        state = syns > 0 && (f & TF_SYNACK) === 0 && this.rstBy[s] === 2 ? 'refused' : 'reset';
        break;
      default:
        state = 'midstream';
    }
    return {
      state,
      syns,
      synRetransmits: Math.max(0, syns - 1),
      synAck: (f & TF_SYNACK) !== 0,
      finA: (f & TF_FIN_A) !== 0,
      finB: (f & TF_FIN_B) !== 0,
      rstBy: this.rstBy[s] === 1 ? 'a' : this.rstBy[s] === 2 ? 'b' : null,
    };
  }

  private echoSummary(s: number): EchoSummary {
    const n = this.rttN[s];
    const r3 = (x: number): number => Math.round(x * 1000) / 1000;
    return {
      requests: this.c1[s],
      replies: this.c2[s],
      unanswered: Math.max(0, this.c1[s] - this.c2[s]),
      rttMinMs: n > 0 ? r3(this.rttMin[s]) : null,
      rttAvgMs: n > 0 ? r3(this.rttSum[s] / n) : null,
      rttMaxMs: n > 0 ? r3(this.rttMax[s]) : null,
      rttSamples: n,
    };
  }

  /** Appends the problems of flow s (failed connect, reset, unanswered echo, ICMP errors) to out. */
  private flowProblems(s: number, out: Problem[]): void {
    const fam = this.fam[s];
    if (fam !== FAM_V4 && fam !== FAM_V6) return;
    const p = this.proto[s];
    const hasProblem =
      this.errN[s] > 0 ||
      (p === IPPROTO_TCP && (this.rstBy[s] !== 0 || (this.syns[s] > 0 && (this.tfl[s] & TF_SYNACK) === 0))) ||
      ((p === IPPROTO_ICMP || p === IPPROTO_ICMPV6) && this.c1[s] > this.c2[s]);
    if (!hasProblem) return;
    const key = this.flowKey(s);
    const o = s << 2;
    const a = this.addrText(this.aw, o, fam);
    const b = this.addrText(this.bw, o, fam);
    const time = formatTs(this.lastSec[s], this.lastNs[s]);
    if (p === IPPROTO_TCP) {
      const t = this.tcpSummary(s);
      const dst = fam === FAM_V6 ? `[${b}]:${this.bPort[s]}` : `${b}:${this.bPort[s]}`;
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
          details: { client: a, server: b, port: this.bPort[s], syns: t.syns, synRetransmits: t.synRetransmits, refused: t.rstBy === 'b' },
        });
      } else if (t.rstBy !== null) {
        const by = t.rstBy === 'a' ? a : b;
        out.push({
          kind: 'tcp-reset',
          text: `TCP ${key.slice(4)} reset by ${t.rstBy === 'a' ? 'client' : 'server'} ${by}`,
          time,
          flow: key,
          details: { by: t.rstBy, address: by, established: (this.tfl[s] & TF_ESTABLISHED_EVER) !== 0 },
        });
      }
    }
    if ((p === IPPROTO_ICMP || p === IPPROTO_ICMPV6) && this.c1[s] > this.c2[s]) {
      const un = this.c1[s] - this.c2[s];
      out.push({
        kind: 'icmp-unanswered',
        text: `ping ${a} → ${b} (id ${this.aPort[s]}): ${un} of ${this.c1[s]} echo request(s) unanswered`,
        time,
        flow: key,
        details: { from: a, to: b, id: this.aPort[s], requests: this.c1[s], replies: this.c2[s], unanswered: un },
      });
    }
    if (this.errN[s] > 0) {
      const from = ip4Text(this.errFrom[s]);
      out.push({
        kind: 'icmp-error',
        text: `${from}: ${icmpErrorText(this.errType[s], this.errCode[s])} for ${key} (${this.errN[s]}×)`,
        time,
        flow: key,
        details: { from, type: this.errType[s], code: this.errCode[s], count: this.errN[s] },
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
