/**
 * Readout of the flow engine: turns records of a FlowStore into data for views — the order of flows
 * (sorted, or the top N), a flow as numbers (FlowFacts, reused) or as a FlowRecord, its key text, TCP/echo
 * summaries and the problems it carries. Allocates only for flows that are shown.
 */
import { formatTs } from '../pcap/record';
import { ip4Text, ip6Text, macText } from './addr';
import {
  B, B_FAM, B_RST_BY, B_TFL, B_TST, F, F_BYTE_AB, F_BYTE_BA, FAM_ARP, FAM_ETH, FAM_V4, FAM_V6, FlowStore, H, H_A_PORT, H_B_PORT, H_PKT_AB_HI,
  H_PKT_BA_HI, H_PROTO, H_SYNS, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, SLOT_PACK, ST_CLOSED, ST_CLOSING,
  ST_ESTABLISHED, ST_RESET, ST_SYN_RCVD, ST_SYN_SENT, TF_ESTABLISHED_EVER, TF_FIN_A, TF_FIN_B, TF_MIDSTREAM, TF_SYNACK, W, W_A0, W_B0, W_C1,
  W_C2, W_FIRST_NS, W_FIRST_SEC, W_IF_MASK, W_LAST_NS, W_LAST_SEC, W_LNEXT, W_PKT_AB, W_PKT_BA, W_RATE_CUR, W_RATE_K, W_RATE_PREV,
  W_RTT_MAX, W_RTT_MEAN, W_RTT_MIN, W_RTT_N, W_V6, W_VNI,
} from './flowStore';
import { EchoSummary, FlowFacts, FlowRecord, FlowSort, TcpState, TcpSummary } from './flowTypes';
import { KIND_INDEX, ProblemSink } from './problemDigest';
import { Problem, icmpErrorText } from './problems';

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 2: 'igmp', 6: 'tcp', 17: 'udp', 47: 'gre', 50: 'esp', 58: 'icmpv6', 89: 'ospf', 112: 'vrrp', 132: 'sctp' };

export class FlowReadout {
  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly f32: Float32Array;
  private readonly f64: Float64Array;

  constructor(
    private readonly st: FlowStore,
    private readonly ifaceName: (id: number) => string,
  ) {
    // The record views never change after the store is made (records are reserved once).
    this.u8 = st.u8;
    this.u16 = st.u16;
    this.u32 = st.u32;
    this.i32 = st.i32;
    this.f32 = st.f32;
    this.f64 = st.f64;
  }

  /** Slots of the live flows in the order a snapshot shows them (all, or the first `top`). */
  select(sort: FlowSort | undefined, top: number, rateBy: 'live' | 'average'): Int32Array {
    const slots = new Int32Array(this.st.live);
    let n = 0;
    for (let s = this.st.lruHead; s >= 0; s = this.i32[s * W + W_LNEXT]) slots[n++] = s;
    if (sort === undefined) return top > 0 && top < n ? slots.subarray(0, top) : slots;
    const key = new Float64Array(this.st.hwm);
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
  sortBySlotKey(slots: Int32Array, n: number, key: Float64Array, byStart: boolean): boolean {
    if (!this.st.slotsInFirstOrder || this.st.hwm > SLOT_PACK) return false;
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

  packets(s: number, lo: number, hi: number): number {
    return this.u16[s * H + hi] * 0x100000000 + this.u32[s * W + lo];
  }

  avgRate(s: number): number {
    const bytes = this.f64[s * F + F_BYTE_AB] + this.f64[s * F + F_BYTE_BA];
    const dur = this.u32[s * W + W_LAST_SEC] - this.u32[s * W + W_FIRST_SEC] + (this.u32[s * W + W_LAST_NS] - this.u32[s * W + W_FIRST_NS]) / 1e9;
    // Shorter than one interval counts as one interval: a 2-packet flow 10 µs apart is not a 100 Mb/s flow.
    return bytes / Math.max(dur, this.st.rateIntervalSec);
  }

  liveRate(s: number): number {
    const nowK = Math.floor((this.st.clockSec + this.st.clockNs / 1e9) / this.st.rateIntervalSec) - this.st.rateBase;
    const k = this.i32[s * W + W_RATE_K];
    if (nowK === k) return this.f32[s * W + W_RATE_PREV] / this.st.rateIntervalSec;
    if (nowK === k + 1) return this.f32[s * W + W_RATE_CUR] / this.st.rateIntervalSec;
    return 0;
  }

  /** Text of side a (second = false) or b of slot s. */
  addrText(s: number, second: boolean): string {
    const fam = this.u8[s * B + B_FAM];
    const w0 = this.u32[s * W + (second ? W_B0 : W_A0)];
    const v = this.i32[s * W + W_V6];
    const o = v * 8 + (second ? 3 : 0);
    switch (fam) {
      case FAM_V6:
        return ip6Text(w0, this.st.v6w[o], this.st.v6w[o + 1], this.st.v6w[o + 2]);
      case FAM_ETH:
        return macText(w0, this.st.v6w[o]);
      default:
        return ip4Text(w0);
    }
  }

  protoName(s: number): string {
    const fam = this.u8[s * B + B_FAM];
    const p = this.u16[s * H + H_PROTO];
    if (fam === FAM_ARP) return 'arp';
    if (fam === FAM_ETH) return `eth:0x${p.toString(16).padStart(4, '0')}`;
    return PROTO_NAMES[p] ?? `ip:${p}`;
  }

  flowKey(s: number): string {
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

  record(s: number): FlowRecord {
    const fam = this.u8[s * B + B_FAM];
    const p = this.u16[s * H + H_PROTO];
    const isIp = fam === FAM_V4 || fam === FAM_V6;
    const hasPorts = isIp && (p === IPPROTO_TCP || p === IPPROTO_UDP);
    const isIcmp = isIp && (p === IPPROTO_ICMP || p === IPPROTO_ICMPV6);
    const isEcho = isIcmp && (this.u32[s * W + W_C1] > 0 || this.u32[s * W + W_C2] > 0);
    const err = this.st.errors.get(s);
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

  /** Fills `out` with flow `h` (a handle from selectFlows) without allocating. */
  readFlow(s: number, out: FlowFacts): void {
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
    const tfl = isTcp ? this.u8[s * B + B_TFL] : 0;
    out.synAck = (tfl & TF_SYNACK) !== 0;
    out.finA = (tfl & TF_FIN_A) !== 0;
    out.finB = (tfl & TF_FIN_B) !== 0;
    out.isEcho = isEcho;
    out.isArp = fam === FAM_ARP;
    out.requests = isEcho || fam === FAM_ARP ? this.u32[s * W + W_C1] : 0;
    out.replies = isEcho || fam === FAM_ARP ? this.u32[s * W + W_C2] : 0;
    const n = isEcho ? this.u32[s * W + W_RTT_N] : 0;
    out.rttSamples = n;
    out.rttMinMs = n > 0 ? Math.round(this.f32[s * W + W_RTT_MIN] * 1000) / 1000 : 0;
    out.rttAvgMs = n > 0 ? Math.round(this.f32[s * W + W_RTT_MEAN] * 1000) / 1000 : 0;
    out.rttMaxMs = n > 0 ? Math.round(this.f32[s * W + W_RTT_MAX] * 1000) / 1000 : 0;
    out.hasIcmpErrors = this.st.errors.size > 0 && this.st.errors.has(s);
  }

  tcpStateOf(s: number): TcpState {
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

  tcpSummary(s: number): TcpSummary {
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

  echoSummary(s: number): EchoSummary {
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

  /**
   * Offers the problems of flow s to a digest (the numbers flowProblems would report, no strings): `ref` is
   * what problemOf(ref, kind) later turns into the Problem.
   */
  offerProblems(s: number, b: ProblemSink, ref: number): void {
    const fam = this.u8[s * B + B_FAM];
    if (fam !== FAM_V4 && fam !== FAM_V6) return;
    const p = this.u16[s * H + H_PROTO];
    const first = this.u32[s * W + W_FIRST_SEC] + this.u32[s * W + W_FIRST_NS] / 1e9;
    if (p === IPPROTO_TCP) {
      const failed = this.u16[s * H + H_SYNS] > 0 && (this.u8[s * B + B_TFL] & TF_SYNACK) === 0;
      if (failed || this.u8[s * B + B_RST_BY] !== 0) {
        const pkts = this.packets(s, W_PKT_AB, H_PKT_AB_HI) + this.packets(s, W_PKT_BA, H_PKT_BA_HI);
        b.offer(failed ? KIND_INDEX['tcp-failed-connect'] : KIND_INDEX['tcp-reset'], pkts, first, ref);
      }
    } else if ((p === IPPROTO_ICMP || p === IPPROTO_ICMPV6) && this.u32[s * W + W_C1] > this.u32[s * W + W_C2]) {
      b.offer(KIND_INDEX['icmp-unanswered'], this.u32[s * W + W_C1] - this.u32[s * W + W_C2], first, ref);
    }
    if (this.st.errors.size > 0) {
      const err = this.st.errors.get(s);
      if (err !== undefined) b.offer(KIND_INDEX['icmp-error'], err.count, first, ref);
    }
  }

  /** Appends the problems of flow s (failed connect, reset, unanswered echo, ICMP errors) to out. */
  flowProblems(s: number, out: Problem[]): void {
    const fam = this.u8[s * B + B_FAM];
    if (fam !== FAM_V4 && fam !== FAM_V6) return;
    const p = this.u16[s * H + H_PROTO];
    const hasProblem =
      (this.st.errors.size > 0 && this.st.errors.has(s)) ||
      (p === IPPROTO_TCP && (this.u8[s * B + B_RST_BY] !== 0 || (this.u16[s * H + H_SYNS] > 0 && (this.u8[s * B + B_TFL] & TF_SYNACK) === 0))) ||
      ((p === IPPROTO_ICMP || p === IPPROTO_ICMPV6) && this.u32[s * W + W_C1] > this.u32[s * W + W_C2]);
    if (!hasProblem) return;
    const key = this.flowKey(s);
    const a = this.addrText(s, false);
    const b = this.addrText(s, true);
    const time = formatTs(this.u32[s * W + W_LAST_SEC], this.u32[s * W + W_LAST_NS]);
    const pkts = this.packets(s, W_PKT_AB, H_PKT_AB_HI) + this.packets(s, W_PKT_BA, H_PKT_BA_HI);
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
          packets: pkts,
          details: { client: a, server: b, port: this.u16[s * H + H_B_PORT], syns: t.syns, synRetransmits: t.synRetransmits, refused: t.rstBy === 'b' },
        });
      } else if (t.rstBy !== null) {
        const by = t.rstBy === 'a' ? a : b;
        out.push({
          kind: 'tcp-reset',
          text: `TCP ${key.slice(4)} reset by ${t.rstBy === 'a' ? 'client' : 'server'} ${by}`,
          time,
          flow: key,
          packets: pkts,
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
        packets: un,
        details: { from: a, to: b, id: this.u16[s * H + H_A_PORT], requests: this.u32[s * W + W_C1], replies: this.u32[s * W + W_C2], unanswered: un },
      });
    }
    const err = this.st.errors.get(s);
    if (err) {
      const from = err.from;
      out.push({
        kind: 'icmp-error',
        text: `${from}: ${icmpErrorText(err.type, err.code, err.v6, err.mtu)} for ${key} (${err.count}×)`,
        time,
        flow: key,
        packets: err.count,
        details: { from, type: err.type, code: err.code, count: err.count, icmpv6: err.v6, mtu: err.mtu },
      });
    }
  }
}
