/**
 * FlowTable: bidirectional flows with per-direction counters, TCP connection state, ICMP echo matching (RTT),
 * ICMP errors attributed to the flow they quote, ARP pairs, plus MAC learning and ARP health on the side.
 *
 * This file is the per-packet update; the parts it is built from each have their own file: the key of a
 * packet (flowKey.ts: numbers read from the PacketView, a symmetric hash, both-orientation compare), the slot
 * store (flowStore.ts: 128-byte records in one ArrayBuffer, the index, LRU and free lists) and the readout
 * (flowReadout.ts: sorted selections, FlowRecord/FlowFacts, problems). Updating an existing flow allocates
 * nothing and touches two or three cache lines. Slots sit on an LRU list ordered by the rate interval (1 s by
 * default) in which they were last seen: idle expiry walks it from the front and, when the table is full,
 * the front flow (least recently seen, to interval precision) is evicted and counted.
 * Flows that leave the table with a problem (failed connect, reset, …) keep that problem in a bounded log.
 */
import { L, PacketView, TCP, TUNNEL } from '../decode/view';
import { PacketRecord, formatTs } from '../pcap/record';
import { ip4Text, ip6Text } from './addr';
import { ArpTracker } from './arp';
import { FlowKey, fmix, rd32 } from './flowKey';
import { FlowReadout } from './flowReadout';
import { HopLatency, Sightings } from './sightings';
import {
  B, B_FAM, B_RST_BY, B_TFL, B_TST, F, F_BYTE_AB, F_BYTE_BA, FAM_ARP, FAM_ETH, FAM_V4, FAM_V6, FlowStore,
  FREE_SLOT, H, H_A_PORT, H_B_PORT, H_PKT_AB_HI, H_PKT_BA_HI, H_PROTO, H_SYNS, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP,
  ST_CLOSED, ST_CLOSING, ST_ESTABLISHED, ST_NONE, ST_RESET, ST_SYN_RCVD, ST_SYN_SENT, TF_ESTABLISHED_EVER,
  TF_FIN_A, TF_FIN_B, TF_MIDSTREAM, TF_SYNACK, W, W_A0, W_B0, W_C1, W_C2, W_FIRST_NS, W_FIRST_SEC, W_GEN, W_HASH, W_IF_MASK, W_LAST_NS,
  W_LAST_SEC, W_LNEXT, W_LPREV, W_PKT_AB, W_PKT_BA, W_RATE_CUR, W_RATE_K, W_RATE_PREV, W_RTT_MAX, W_RTT_MEAN, W_RTT_MIN, W_RTT_N, W_V6, W_VNI,
} from './flowStore';
import { FlowCounters, FlowFacts, FlowRecord, FlowSnapshot, FlowTableOptions, SnapshotOptions } from './flowTypes';
import { MacLearner } from './mac';
import { KIND_INDEX, ProblemDigest, ProblemDigestBuilder, ProblemList, ProblemSink } from './problemDigest';
import { PROBLEM_ORDER, Problem, ProblemKind, compareProblems } from './problems';

export * from './flowTypes';

const MAX_RETIRED_PROBLEMS = 10_000;
/** Problem references (offerProblems): a live flow's slot, or one of these bases plus an index. */
const REF_RETIRED = 2 ** 32;
const REF_ARP = 2 * 2 ** 32;
const REF_OTHER = 3 * 2 ** 32;
const ECHO_PENDING = 1 << 16;
const ECHO_PROBE = 8;
/** Datagrams whose first fragment is remembered until their later fragments arrive (probe runs of FRAG_PROBE). */
const FRAG_SLOTS = 4096;
const FRAG_PROBE = 4;

export class FlowTable {
  readonly idleTimeoutSec: number;
  readonly maxFlows: number;
  readonly rateIntervalSec: number;
  readonly trackInner: boolean;

  private readonly st: FlowStore;
  private readonly k = new FlowKey();
  private readonly ro: FlowReadout;
  // The store's record views, which never change after it is made (read here on every packet).
  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly f32: Float32Array;
  private readonly f64: Float64Array;

  // Echo requests waiting for a reply: (slot, generation, seq) → time. Fixed size; lookups probe ECHO_PROBE cells.
  // Entry p: epKey[2p] = slot + 1 (0 = free), epKey[2p+1] = (generation & 0xffff) << 16 | seq; adjacent
  // entries are adjacent in memory, so one probe run costs a cache line or two.
  private readonly epKey = new Int32Array(2 * ECHO_PENDING);
  private readonly epTime = new Float64Array(ECHO_PENDING);
  /** Interface the request was (first) seen on: RTT pairs a request and a reply seen on the same interface. */
  private readonly epIf = new Int32Array(ECHO_PENDING);
  /** Packets already seen on another interface (multi-point captures). */
  private readonly sight = new Sightings();

  // First fragments by datagram (fragmentFlow): key [hash, id, src word 0, dst word 0], flow [slot + 1, its
  // generation, direction].
  private readonly fragKey = new Int32Array(4 * FRAG_SLOTS);
  private readonly fragFlow = new Int32Array(3 * FRAG_SLOTS);
  private fragRotor = 0;
  /** The flow a first fragment was counted on, for fragmentFlow(…, true). */
  private fragSlot = -1;

  /** Rate interval of the last packet's second (valid when the interval is a whole number of seconds). */
  private kSecLast = -1;
  private kLast = 0;
  private readonly rateWhole: boolean;
  /** Slot of the previous packet's flow (-1 after it was removed). */
  private lastSlot = -1;
  private lastCreatedSec = 0;
  private lastCreatedNs = 0;

  // Interfaces: names interned to small ids (flow masks hold the first 31; bit 31 = "others").
  private readonly ifNames: string[] = [];
  private readonly ifByName = new Map<string, number>();
  private readonly ifByIndex: number[] = [];
  private lastIfStr: string | undefined = undefined;
  private lastIfId = -1;

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
    repeats: 0,
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
    this.st = new FlowStore(this.maxFlows, this.rateIntervalSec);
    this.u8 = this.st.u8;
    this.u16 = this.st.u16;
    this.u32 = this.st.u32;
    this.i32 = this.st.i32;
    this.f32 = this.st.f32;
    this.f64 = this.st.f64;
    this.ro = new FlowReadout(this.st, (id) => this.ifaceName(id));
    this.arp = new ArpTracker();
    this.mac = new MacLearner((id) => this.ifaceName(id));
  }

  get size(): number {
    return this.st.live;
  }

  /** Adds one decoded packet (call after decodeRecord(view, rec)). */
  add(view: PacketView, rec: PacketRecord): void {
    this.c.packets++;
    this.c.bytes += rec.len;
    const tsSec = rec.tsSec;
    const tsNs = rec.tsNsec;
    if (tsSec > this.st.clockSec || (tsSec === this.st.clockSec && tsNs > this.st.clockNs)) {
      this.st.clockSec = tsSec;
      this.st.clockNs = tsNs;
    }
    const ifId = this.ifaceId(rec);
    // A packet already seen on another interface of this capture (a multi-point capture) is one packet: it
    // only marks where else its flow was seen (and pairs echo replies per interface), and no MAC "moves".
    if (this.sight.see(view, ifId, tsSec, tsNs)) {
      this.c.repeats++;
      this.addRepeat(view, ifId, tsSec, tsNs);
      return;
    }
    this.mac.observe(view, ifId, -1, tsSec, tsNs);
    if ((view.layers & L.ARP) !== 0) this.arp.observe(view, tsSec, tsNs);
    this.addView(view, rec.len, ifId, -1, tsSec, tsNs);
    const inner = view.inner;
    // Flows inside any tunnel the decoder entered (VXLAN, Geneve, IP-in-IP, GRE, ERSPAN); tagged with the
    // VNI where the tunnel has one (VXLAN, Geneve).
    if (this.trackInner && view.tunnelKind !== TUNNEL.NONE && inner !== null && inner.layers !== 0) {
      this.c.innerPackets++;
      const innerLen = inner.len > 0 ? inner.len : rec.len - (inner.base - view.base);
      const vni = view.tunnelKind === TUNNEL.VXLAN || view.tunnelKind === TUNNEL.GENEVE ? view.vni : -1;
      this.mac.observe(inner, ifId, vni, tsSec, tsNs);
      this.addView(inner, innerLen, ifId, vni, tsSec, tsNs);
    }
  }

  /** Removes flows idle for longer than idleTimeoutSec at capture time `nowSec` (and advances the clock). */
  expire(nowSec: number): void {
    if (nowSec > this.st.clockSec + this.st.clockNs / 1e9) {
      this.st.clockSec = Math.floor(nowSec);
      this.st.clockNs = Math.round((nowSec - this.st.clockSec) * 1e9) % 1_000_000_000;
    }
    if (!Number.isFinite(this.idleTimeoutSec)) return;
    const cutoff = nowSec - this.idleTimeoutSec;
    // The list is ordered by rate interval of the last move: flows of the cutoff's own interval may sit in any
    // order, so look through that interval instead of stopping at its first still-active flow.
    const cutoffK = Math.floor(cutoff / this.rateIntervalSec) - this.st.rateBase;
    let s = this.st.lruHead;
    while (s >= 0) {
      const next = this.i32[s * W + W_LNEXT];
      if (this.u32[s * W + W_LAST_SEC] + this.u32[s * W + W_LAST_NS] / 1e9 < cutoff) {
        this.retire(s);
        this.removeSlot(s);
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
      flows: this.st.live,
      macs: this.mac.size,
      macsUntracked: this.mac.untracked,
      arp: { ...this.arp.counters },
    };
  }

  /** A copy for a view: flows (optionally sorted and cut to top N), problems, counters, MACs, ARP targets. */
  snapshot(opts: SnapshotOptions = {}): FlowSnapshot {
    const slots = this.ro.select(opts.sort, opts.top ?? 0, opts.rateBy ?? 'live');
    const flows: FlowRecord[] = [];
    for (let i = 0; i < slots.length; i++) flows.push(this.ro.record(slots[i]));
    return {
      now: formatTs(this.st.clockSec, this.st.clockNs),
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
    return this.ro.select(opts.sort, opts.top ?? 0, opts.rateBy ?? 'live');
  }

  /** Fills `out` with flow `h` (a handle from selectFlows) without allocating. */
  readFlow(h: number, out: FlowFacts): void {
    this.ro.readFlow(h, out);
  }

  /** Text of side a (`'a'`) or b of flow `h` (a handle from selectFlows), as FlowRecord.a / .b. */
  flowAddress(h: number, side: 'a' | 'b'): string {
    return this.ro.addrText(h, side === 'b');
  }

  /** FlowRecord.key of flow `h` (a handle from selectFlows). */
  flowKeyText(h: number): string {
    return this.ro.flowKey(h);
  }

  /** Flow `h` (a handle from selectFlows) as a FlowRecord. */
  flowRecord(h: number): FlowRecord {
    return this.ro.record(h);
  }

  /** Every current problem: from live flows, from flows that already left the table, ARP, MAC moves, evictions. */
  problems(): Problem[] {
    const out: Problem[] = [];
    this.forEachProblem((p) => out.push(p));
    out.sort(compareProblems);
    return out;
  }

  /**
   * Problems grouped by kind with counts and packets affected, and per kind the `perKind` most significant
   * (most packets affected, then first seen): what a person reads. Only the kept few become objects.
   */
  problemDigest(perKind = 5): ProblemDigest {
    const b = new ProblemDigestBuilder(perKind);
    const others = this.offerProblems(b);
    return b.build((ref, kind) => this.problemOf(ref, kind, others));
  }

  /**
   * Calls `fn` with every problem, kind by kind (PROBLEM_ORDER), first seen first within a kind, building one
   * object at a time: a writer can stream 100k problems without holding them.
   */
  forEachProblem(fn: (p: Problem) => void): void {
    for (const p of this.eachProblem()) fn(p);
  }

  /** forEachProblem as an iterator: a writer can pause between problems (to let its output drain). */
  *eachProblem(): Generator<Problem> {
    const list = new ProblemList();
    const others = this.offerProblems(list);
    for (let k = 0; k < PROBLEM_ORDER.length; k++) {
      const refs = list.sorted(k);
      for (let i = 0; i < refs.length; i++) {
        const p = this.problemOf(refs[i], PROBLEM_ORDER[k], others);
        if (p !== undefined) yield p;
      }
    }
  }

  /** Offers every problem to `sink` as numbers; returns the few problems that exist only as objects (MAC moves, evictions). */
  private offerProblems(sink: ProblemSink): Problem[] {
    for (let s = this.st.lruHead; s >= 0; s = this.i32[s * W + W_LNEXT]) this.ro.offerProblems(s, sink, s);
    for (let i = 0; i < this.retired.length; i++) {
      const p = this.retired[i];
      sink.offer(KIND_INDEX[p.kind], p.packets, p.time === null ? 0 : Number(p.time), REF_RETIRED + i);
    }
    this.arp.offerProblems(sink, REF_ARP);
    const others = this.mac.problems();
    if (this.c.evicted > 0) {
      others.push({
        kind: 'flows-evicted',
        text: `${this.c.evicted} flow(s) evicted: table full at ${this.maxFlows} flows (least recently seen dropped first); raise the cap to keep them`,
        time: null,
        flow: null,
        packets: this.c.evicted,
        details: { evicted: this.c.evicted, maxFlows: this.maxFlows },
      });
    }
    if (this.c.problemsDropped > 0) {
      others.push({
        kind: 'flows-evicted',
        text: `${this.c.problemsDropped} problem(s) of removed flows not kept (log holds ${MAX_RETIRED_PROBLEMS})`,
        time: null,
        flow: null,
        packets: this.c.problemsDropped,
        details: { dropped: this.c.problemsDropped },
      });
    }
    for (let i = 0; i < others.length; i++) {
      const p = others[i];
      sink.offer(KIND_INDEX[p.kind], p.packets, p.time === null ? 0 : Number(p.time), REF_OTHER + i);
    }
    return others;
  }

  /** The problem of `kind` that offerProblems referred to as `ref`. */
  private problemOf(ref: number, kind: ProblemKind, others: Problem[]): Problem | undefined {
    if (ref < REF_RETIRED) {
      const out: Problem[] = [];
      this.ro.flowProblems(ref, out);
      return out.find((p) => p.kind === kind);
    }
    if (ref < REF_ARP) return this.retired[ref - REF_RETIRED];
    if (ref < REF_OTHER) return this.arp.problemAt(ref - REF_ARP, kind);
    return others[ref - REF_OTHER];
  }

  /** Multi-point captures: delay from a packet's first sighting to each later one, per interface pair. */
  hopLatency(): HopLatency[] {
    return this.sight.hops((id) => this.ifaceName(id));
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
        if (id === 1) this.sight.startMulti();
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
      if (id === 1) this.sight.startMulti();
      if (ix >= 0 && ix < 65536) {
        while (this.ifByIndex.length < ix) this.ifByIndex.push(undefined as unknown as number);
        this.ifByIndex[ix] = id;
      }
    }
    return id;
  }

  private addView(v: PacketView, len: number, ifId: number, vni: number, tsSec: number, tsNs: number): void {
    let s = this.k.sameIp4AsLast(this.u32, this.lastSlot, v, vni);
    // Fragment offset: -1 = not fragmented IPv6 (or not IP), 0 = a whole or first fragment, > 0 = a later one.
    const frag = (v.layers & L.IPV4) !== 0 ? v.ipFragOff : (v.layers & L.IPV6) !== 0 ? v.ip6FragOff : -1;
    if (s < 0) {
      // A later fragment has no ports: it counts on the flow of its datagram's first fragment, when seen.
      if (frag > 0) s = this.fragmentFlow(v, vni, false);
      if (s < 0) {
        if (!this.k.extract(v, vni)) {
          this.c.unkeyed++;
          return;
        }
        this.k.pack();
        s = this.findOrCreate(tsSec, tsNs);
      }
    }
    if (frag === 0 && ((v.layers & L.IPV4) !== 0 ? v.ipMf : v.ip6FragMore)) {
      this.fragSlot = s;
      this.fragmentFlow(v, vni, true);
    }
    const d = this.k.dir;
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
        this.kLast = Math.floor(tsSec / this.rateIntervalSec) - this.st.rateBase;
      }
      k = this.kLast;
    } else {
      k = Math.floor((tsSec + tsNs / 1e9) / this.rateIntervalSec) - this.st.rateBase;
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
      this.st.touch(s);
    } else if (k === rk - 1) {
      this.f32[s * W + W_RATE_PREV] += len; // slightly out-of-order packet from a merged source
    }
    this.u32[s * W + W_IF_MASK] |= ifId < 31 ? 1 << ifId : 0x80000000;

    const proto = this.k.kProto;
    const fam = this.k.kFam;
    if (fam === FAM_V4 || fam === FAM_V6) {
      if (proto === IPPROTO_TCP) {
        if ((v.layers & L.TCP) !== 0) this.tcpUpdate(s, v.tcpFlags, d);
      } else if (proto === IPPROTO_ICMP && (v.layers & L.ICMP) !== 0) {
        const t = v.icmpType;
        if (t === 8) this.echoRequest(s, v.icmpSeq & 0xffff, tsSec, tsNs, ifId);
        else if (t === 0) this.echoReply(s, v.icmpSeq & 0xffff, tsSec, tsNs, ifId, true);
        else if ((v.layers & L.ICMP_INNER) !== 0) this.attributeIcmpError(v, vni);
      } else if (proto === IPPROTO_ICMPV6 && (v.layers & L.ICMPV6) !== 0) {
        const t = v.icmp6Type;
        if (t === 128 || t === 129) {
          const o = v.l4Off;
          const seq = o >= 0 && o + 8 <= v.base + v.caplen ? (v.buf[o + 6] << 8) | v.buf[o + 7] : 0;
          if (t === 128) this.echoRequest(s, seq, tsSec, tsNs, ifId);
          else this.echoReply(s, seq, tsSec, tsNs, ifId, true);
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
   * The fragment table: remembers (`record`) the flow of a first fragment (this.fragSlot, this.k.dir) under its
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
        this.k.dir = fs[3 * p + 2];
        this.k.kFam = v4 ? FAM_V4 : FAM_V6;
        this.k.kProto = proto;
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
    fs[3 * victim + 2] = this.k.dir;
    return this.fragSlot;
  }

  private findOrCreate(tsSec: number, tsNs: number): number {
    // Consecutive packets mostly belong to one flow (bursts, GSO trains): try the previous one first.
    const last = this.lastSlot;
    if (last >= 0 && this.k.matches(this.st, last)) return last;
    const s = this.lookupOrInsert(tsSec, tsNs);
    this.lastSlot = s;
    return s;
  }

  private lookupOrInsert(tsSec: number, tsNs: number): number {
    const h = this.k.hash();
    const found = this.k.find(this.st, h);
    if (found >= 0) return found;
    const s = this.allocSlot();
    const w = s * W;
    const swap = this.k.kDstInit;
    this.k.dir = swap ? 1 : 0;
    this.u32[w + W_A0] = swap ? this.k.kD0 : this.k.kS0;
    this.u32[w + W_B0] = swap ? this.k.kS0 : this.k.kD0;
    this.u16[s * H + H_A_PORT] = swap ? this.k.kDp : this.k.kSp;
    this.u16[s * H + H_B_PORT] = swap ? this.k.kSp : this.k.kDp;
    this.u16[s * H + H_PROTO] = this.k.kProto;
    this.u8[s * B + B_FAM] = this.k.kFam;
    this.i32[w + W_VNI] = this.k.kVni;
    this.u32[w + W_HASH] = h;
    if (this.k.kFam === FAM_V6 || this.k.kFam === FAM_ETH) {
      const v = this.st.allocV6();
      const o = v * 8;
      const x = this.st.v6w;
      x[o] = swap ? this.k.kD1 : this.k.kS1;
      x[o + 1] = swap ? this.k.kD2 : this.k.kS2;
      x[o + 2] = swap ? this.k.kD3 : this.k.kS3;
      x[o + 3] = swap ? this.k.kS1 : this.k.kD1;
      x[o + 4] = swap ? this.k.kS2 : this.k.kD2;
      x[o + 5] = swap ? this.k.kS3 : this.k.kD3;
      this.i32[w + W_V6] = v;
    }
    this.u32[w + W_FIRST_SEC] = tsSec;
    this.u32[w + W_FIRST_NS] = tsNs;
    this.u32[w + W_LAST_SEC] = tsSec;
    this.u32[w + W_LAST_NS] = tsNs;
    const k = Math.floor((tsSec + tsNs / 1e9) / this.rateIntervalSec);
    if (this.st.rateBase !== this.st.rateBase) this.st.rateBase = k;
    this.i32[w + W_RATE_K] = k - this.st.rateBase;
    this.st.indexInsert(h, s);
    this.st.linkTail(s);
    this.c.created++;
    if (tsSec < this.lastCreatedSec || (tsSec === this.lastCreatedSec && tsNs < this.lastCreatedNs)) this.st.slotsInFirstOrder = false;
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

  /** A packet seen before on another interface: its flow was seen here too; an echo reply may close an RTT here. */
  private addRepeat(v: PacketView, ifId: number, tsSec: number, tsNs: number): void {
    if (!this.k.extract(v, -1)) return;
    this.k.pack();
    const last = this.lastSlot;
    const s = last >= 0 && this.k.matches(this.st, last) ? last : this.k.find(this.st, this.k.hash());
    if (s < 0) return;
    this.u32[s * W + W_IF_MASK] |= ifId < 31 ? 1 << ifId : 0x80000000;
    const fam = this.k.kFam;
    if (fam !== FAM_V4 && fam !== FAM_V6) return;
    if (this.k.kProto === IPPROTO_ICMP && (v.layers & L.ICMP) !== 0 && v.icmpType === 0) {
      this.echoReply(s, v.icmpSeq & 0xffff, tsSec, tsNs, ifId, false);
    } else if (this.k.kProto === IPPROTO_ICMPV6 && (v.layers & L.ICMPV6) !== 0 && v.icmp6Type === 129) {
      const o = v.l4Off;
      if (o >= 0 && o + 8 <= v.base + v.caplen) this.echoReply(s, (v.buf[o + 6] << 8) | v.buf[o + 7], tsSec, tsNs, ifId, false);
    }
  }

  private echoRequest(s: number, seq: number, tsSec: number, tsNs: number, ifId: number): void {
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
    this.epIf[victim] = ifId;
  }

  /** `counted`: the reply's first sighting (counted on the flow); RTT only pairs it with a request seen on the same interface. */
  private echoReply(s: number, seq: number, tsSec: number, tsNs: number, ifId: number, counted: boolean): void {
    if (counted) this.u32[s * W + W_C2]++;
    const gs = ((this.u32[s * W + W_GEN] & 0xffff) << 16) | seq;
    const ek = this.epKey;
    const base = fmix(Math.imul(s, 0x9e3779b1) ^ seq) & (ECHO_PENDING - 1);
    for (let i = 0; i < ECHO_PROBE; i++) {
      const p = (base + i) & (ECHO_PENDING - 1);
      if (ek[2 * p] === s + 1 && ek[2 * p + 1] === gs && this.epIf[p] === ifId) {
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
    this.k.kFam = FAM_V4;
    this.k.kS0 = v.icmpInnerSrc >>> 0;
    this.k.kD0 = v.icmpInnerDst >>> 0;
    this.k.kS1 = this.k.kS2 = this.k.kS3 = this.k.kD1 = this.k.kD2 = this.k.kD3 = 0;
    this.k.kProto = v.icmpInnerProto & 0xff;
    this.k.kSp = v.icmpInnerSport >= 0 ? v.icmpInnerSport & 0xffff : 0;
    this.k.kDp = v.icmpInnerDport >= 0 ? v.icmpInnerDport & 0xffff : 0;
    const b = v.buf;
    const end = Math.min(v.base + v.caplen, b.length);
    // A quoted echo request (e.g. a ping whose TTL ran out) belongs to the echo flow keyed by its id.
    const q = v.icmpInnerL4Off;
    if (this.k.kProto === IPPROTO_ICMP && q >= 0 && q + 8 <= end && b[q] === 8) this.k.kSp = this.k.kDp = (b[q + 4] << 8) | b[q + 5];
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
    this.k.ip6(b, so, d);
    this.k.kProto = v.icmpInnerProto & 0xff;
    this.k.kSp = v.icmpInnerSport >= 0 ? v.icmpInnerSport & 0xffff : 0;
    this.k.kDp = v.icmpInnerDport >= 0 ? v.icmpInnerDport & 0xffff : 0;
    const q = v.icmpInnerL4Off;
    if (this.k.kProto === IPPROTO_ICMPV6 && q >= 0 && q + 8 <= end && b[q] === 128) this.k.kSp = this.k.kDp = (b[q + 4] << 8) | b[q + 5];
    // Packet too big carries the MTU of the next hop in the 32 bits after the checksum.
    const o = v.l4Off;
    const mtu = v.icmp6Type === 2 && o >= 0 && o + 8 <= end ? rd32(b, o + 4) : 0;
    const from = ip6Text(rd32(b, src), rd32(b, src + 4), rd32(b, src + 8), rd32(b, src + 12));
    this.countIcmpError(vni, v.icmp6Type, v.icmp6Code, from, true, mtu);
  }

  /** Counts an error on the flow of the quoted packet, whose key is in the scratch fields. */
  private countIcmpError(vni: number, type: number, code: number, from: string, v6: boolean, mtu: number): void {
    if (type === (v6 ? 1 : 3)) this.c.icmpUnreachables++;
    this.k.kVni = vni;
    this.k.pack();
    const s = this.k.find(this.st, this.k.hash());
    if (s < 0) {
      this.c.icmpErrorsUnmatched++;
      return;
    }
    const e = this.st.errors.get(s);
    if (e) {
      e.count++;
      e.type = type;
      e.code = code;
      e.from = from;
      e.v6 = v6;
      e.mtu = mtu;
    } else {
      this.st.errors.set(s, { count: 1, type, code, from, v6, mtu });
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Slots

  /** A fresh slot; when the table is full the least recently seen flow makes room (its problems are kept). */
  private allocSlot(): number {
    const s = this.st.allocSlot();
    if (s >= 0) return s;
    const victim = this.st.lruHead;
    this.retire(victim);
    this.removeSlot(victim);
    this.c.evicted++;
    return this.st.allocSlot();
  }

  private removeSlot(s: number): void {
    // A connect whose SYNs were never answered is known to have failed only when its flow leaves the table.
    const fam = this.u8[s * B + B_FAM];
    if ((fam === FAM_V4 || fam === FAM_V6) && this.u16[s * H + H_PROTO] === IPPROTO_TCP && this.u16[s * H + H_SYNS] > 0 &&
        (this.u8[s * B + B_TFL] & TF_SYNACK) === 0 && this.u8[s * B + B_TST] !== ST_RESET) this.c.tcpFailedConnects++;
    if (this.lastSlot === s) this.lastSlot = -1;
    this.st.remove(s);
  }

  /** Keeps the problems of a flow that is about to leave the table. */
  private retire(s: number): void {
    if (this.retired.length >= MAX_RETIRED_PROBLEMS) {
      const tmp: Problem[] = [];
      this.ro.flowProblems(s, tmp);
      this.c.problemsDropped += tmp.length;
      return;
    }
    this.ro.flowProblems(s, this.retired);
  }
}
