/**
 * Key extraction for the flow engine: reads a packet's flow key (family, protocol, addresses, ports or echo
 * id, VNI) as numbers straight from the PacketView into scratch fields, hashes it symmetrically (both
 * directions of a flow hash alike) and finds its record in a FlowStore, comparing both orientations.
 * Nothing here allocates.
 */
import { L, PacketView, TCP } from '../decode/view';
import {
  FAM_ARP, FAM_ETH, FAM_V4, FAM_V6, FlowStore, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, LITTLE_ENDIAN, PROTO_FAM_MASK, W, W_A0, W_B0, W_V6, W_VNI,
} from './flowStore';

export function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Per-endpoint mix; the two endpoints' values are added (symmetric) and the sum finalised once. */
export function endpointHash(w0: number, port: number): number {
  const h = Math.imul(w0 ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(port + 0x7f4a7c15, 0xc2b2ae35);
  return h ^ (h >>> 15);
}

export function endpointHashWide(w0: number, w1: number, w2: number, w3: number, port: number): number {
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

export function rd32(b: Buffer, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** The scratch key of one packet and the lookups that use it. */
export class FlowKey {
  // The key of the packet being looked up (scratch, numbers only).
  kFam = 0;
  kProto = 0;
  kS0 = 0;
  kS1 = 0;
  kS2 = 0;
  kS3 = 0;
  kD0 = 0;
  kD1 = 0;
  kD2 = 0;
  kD3 = 0;
  kSp = 0;
  kDp = 0;
  kVni = -1;
  /** True when kS1..kD3 may be non-zero (IPv6 or MAC key last time). */
  kWide = false;
  /** The key's fields as they sit in a record's words 2 and 3 (ports both ways; proto+family), for one compare. */
  kPortsFwd = 0;
  kPortsRev = 0;
  kProtoFam = 0;
  kVniU = 0;
  /** True when the packet's destination is the initiator (SYN-ACK, echo reply, ARP reply). */
  kDstInit = false;
  /** Direction of the last match: 0 = a→b (the key's source is side a), 1 = b→a. */
  dir = 0;

  /** Reads the flow key of `v` into the k* scratch fields; false when the packet has no keyable layer. */
  extract(v: PacketView, vni: number): boolean {
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
      this.ip6(b, so, dOff);
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
  ip6(b: Buffer, so: number, d: number): void {
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
  pack(): void {
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

  hash(): number {
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
  find(st: FlowStore, h: number): number {
    const ix = st.ix;
    const mask = st.ixMask;
    const slotMask = st.slotMask;
    const tag = (h & ~slotMask) | 0;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = ix[i];
      if (e === 0) return -1;
      if ((e & ~slotMask) === tag) {
        const s = (e & slotMask) - 1;
        if (this.matches(st, s)) return s;
      }
    }
  }

  /** Compares slot s with the scratch key in both orientations; sets this.dir. */
  matches(st: FlowStore, s: number): boolean {
    const w = s * W;
    const u32 = st.u32;
    // Words 3 (proto, family; TCP state masked off) and 4 (VNI), then addresses and both ports at once.
    if ((u32[w + 3] & PROTO_FAM_MASK) !== this.kProtoFam || u32[w + W_VNI] !== this.kVniU) return false;
    const a0 = u32[w + W_A0];
    const b0 = u32[w + W_B0];
    const ports = u32[w + 2];
    let fwd = a0 === this.kS0 && b0 === this.kD0 && ports === this.kPortsFwd;
    let rev = a0 === this.kD0 && b0 === this.kS0 && ports === this.kPortsRev;
    if (!fwd && !rev) return false;
    if (this.kFam === FAM_V6 || this.kFam === FAM_ETH) {
      const v = st.i32[w + W_V6];
      if (v < 0) return false;
      const o = v * 8;
      const x = st.v6w;
      fwd = fwd && x[o] === this.kS1 && x[o + 1] === this.kS2 && x[o + 2] === this.kS3 && x[o + 3] === this.kD1 && x[o + 4] === this.kD2 && x[o + 5] === this.kD3;
      rev = rev && x[o] === this.kD1 && x[o + 1] === this.kD2 && x[o + 2] === this.kD3 && x[o + 3] === this.kS1 && x[o + 4] === this.kS2 && x[o + 5] === this.kS3;
      if (!fwd && !rev) return false;
    }
    const dir = fwd ? 0 : 1;
    this.dir = dir;
    return true;
  }

  /**
   * The common case first: an IPv4 TCP/UDP packet of the previous packet's flow, compared straight from the
   * view against that record (no scratch key). Returns the slot (and sets dir, kFam, kProto) or -1.
   */
  sameIp4AsLast(u32: Uint32Array, last: number, v: PacketView, vni: number): number {
    const layers = v.layers;
    if (last < 0 || (layers & L.IPV4) === 0 || (layers & (L.TCP | L.UDP)) === 0) return -1;
    const p = v.ipProto & 0xff;
    if (p !== IPPROTO_TCP && p !== IPPROTO_UDP) return -1;
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
}
