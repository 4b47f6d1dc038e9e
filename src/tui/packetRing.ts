/**
 * Recent packets for the flow detail view, kept as bytes (not text): formatting every packet at 100k/s would
 * cost more than capturing it, so lines are built only when the detail view draws.
 *
 * PacketRing copies the first `snap` bytes of each packet into one preallocated buffer (no allocation per
 * packet). FlowMatcher tells whether a decoded packet belongs to a flow of the snapshot (either direction,
 * ICMP errors quoting it included), with number comparisons only.
 */
import type { FlowRecord } from '../analysis/flows';
import { parseIp4, parseIp6, parseMac } from '../decode/addr';
import { L, type PacketView } from '../decode/view';
import { blankRecord, type PacketRecord } from '../pcap/record';

export class PacketRing {
  private readonly data: Buffer;
  private readonly caplen: Uint32Array;
  private readonly len: Uint32Array;
  private readonly tsSec: Float64Array;
  private readonly tsNsec: Uint32Array;
  private readonly linktype: Uint16Array;
  private readonly ifIndex: Int32Array;
  private readonly iface: Array<string | undefined>;
  private next = 0;
  private count = 0;
  private readonly scratch: PacketRecord;

  constructor(
    readonly slots: number,
    readonly snap = 256,
  ) {
    this.data = Buffer.alloc(slots * snap);
    this.caplen = new Uint32Array(slots);
    this.len = new Uint32Array(slots);
    this.tsSec = new Float64Array(slots);
    this.tsNsec = new Uint32Array(slots);
    this.linktype = new Uint16Array(slots);
    this.ifIndex = new Int32Array(slots);
    this.iface = new Array<string | undefined>(slots).fill(undefined);
    this.scratch = blankRecord(this.data);
  }

  get size(): number {
    return this.count;
  }

  push(rec: PacketRecord): void {
    const i = this.next;
    const n = rec.caplen < this.snap ? rec.caplen : this.snap;
    rec.buf.copy(this.data, i * this.snap, rec.offset, rec.offset + n);
    this.caplen[i] = n;
    this.len[i] = rec.len;
    this.tsSec[i] = rec.tsSec;
    this.tsNsec[i] = rec.tsNsec;
    this.linktype[i] = rec.linktype;
    this.ifIndex[i] = rec.ifIndex;
    this.iface[i] = rec.iface;
    this.next = i + 1 === this.slots ? 0 : i + 1;
    if (this.count < this.slots) this.count++;
  }

  clear(): void {
    this.next = 0;
    this.count = 0;
  }

  /** Calls fn for every kept packet, oldest first; the record object is reused between calls. */
  forEach(fn: (rec: PacketRecord) => void): void {
    const start = (this.next - this.count + this.slots) % this.slots;
    const r = this.scratch;
    for (let k = 0; k < this.count; k++) {
      const i = (start + k) % this.slots;
      r.offset = i * this.snap;
      r.caplen = this.caplen[i];
      r.len = this.len[i];
      r.tsSec = this.tsSec[i];
      r.tsNsec = this.tsNsec[i];
      r.linktype = this.linktype[i];
      r.ifIndex = this.ifIndex[i];
      r.iface = this.iface[i];
      fn(r);
    }
  }
}

const PROTO_NUMBERS: Record<string, number> = { icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, icmpv6: 58, ospf: 89, vrrp: 112, sctp: 132 };

function protoNumber(name: string): number {
  const known = PROTO_NUMBERS[name];
  if (known !== undefined) return known;
  const m = /^ip:(\d+)$/.exec(name);
  return m ? Number(m[1]) : -1;
}

function bytesAt(buf: Buffer, off: number, want: Uint8Array): boolean {
  if (off < 0) return false;
  for (let i = 0; i < want.length; i++) if (buf[off + i] !== want[i]) return false;
  return true;
}

/** Decides whether decoded packets belong to one flow of a FlowTable snapshot. */
export class FlowMatcher {
  private readonly fam: FlowRecord['family'];
  private readonly proto: number;
  private readonly a4: number;
  private readonly b4: number;
  private readonly a16: Uint8Array | undefined;
  private readonly b16: Uint8Array | undefined;
  private readonly aPort: number;
  private readonly bPort: number;
  private readonly echoId: number;
  private readonly vni: number;

  constructor(readonly flow: FlowRecord) {
    this.fam = flow.family;
    this.proto = protoNumber(flow.proto);
    this.a4 = parseIp4(flow.a) ?? -1;
    this.b4 = parseIp4(flow.b) ?? -1;
    this.a16 = flow.family === 'ipv6' ? parseIp6(flow.a) : flow.family === 'eth' ? parseMac(flow.a) : undefined;
    this.b16 = flow.family === 'ipv6' ? parseIp6(flow.b) : flow.family === 'eth' ? parseMac(flow.b) : undefined;
    this.aPort = flow.aPort ?? -1;
    this.bPort = flow.bPort ?? -1;
    this.echoId = flow.echoId ?? -1;
    this.vni = flow.vni ?? -1;
  }

  matches(outer: PacketView): boolean {
    let v: PacketView | null = outer;
    if (this.vni >= 0) {
      if ((outer.layers & L.VXLAN) === 0 || outer.vni !== this.vni) return false;
      v = outer.inner;
      if (v === null) return false;
    }
    const l = v.layers;
    switch (this.fam) {
      case 'arp':
        return (l & L.ARP) !== 0 && ((v.arpSpa === this.a4 && v.arpTpa === this.b4) || (v.arpSpa === this.b4 && v.arpTpa === this.a4));
      case 'eth':
        return (
          (l & L.ETH) !== 0 &&
          this.a16 !== undefined &&
          this.b16 !== undefined &&
          ((bytesAt(v.buf, v.ethSrcOff, this.a16) && bytesAt(v.buf, v.ethDstOff, this.b16)) ||
            (bytesAt(v.buf, v.ethSrcOff, this.b16) && bytesAt(v.buf, v.ethDstOff, this.a16)))
        );
      case 'ipv4': {
        if ((l & L.IPV4) === 0) return false;
        if (this.quotes(v)) return true;
        const fwd = v.ip4Src === this.a4 && v.ip4Dst === this.b4;
        const rev = v.ip4Src === this.b4 && v.ip4Dst === this.a4;
        return (fwd || rev) && this.l4Matches(v, fwd);
      }
      case 'ipv6': {
        if ((l & L.IPV6) === 0 || this.a16 === undefined || this.b16 === undefined) return false;
        const fwd = bytesAt(v.buf, v.ip6SrcOff, this.a16) && bytesAt(v.buf, v.ip6DstOff, this.b16);
        const rev = !fwd && bytesAt(v.buf, v.ip6SrcOff, this.b16) && bytesAt(v.buf, v.ip6DstOff, this.a16);
        return (fwd || rev) && this.l4Matches(v, fwd);
      }
    }
  }

  private l4Matches(v: PacketView, fwd: boolean): boolean {
    if (v.ipProto !== this.proto) return false;
    if (this.aPort >= 0) {
      if ((v.layers & (L.TCP | L.UDP)) === 0) return false;
      return fwd ? v.sport === this.aPort && v.dport === this.bPort : v.sport === this.bPort && v.dport === this.aPort;
    }
    if (this.echoId >= 0) {
      if ((v.layers & L.ICMP) !== 0) return (v.icmpType === 0 || v.icmpType === 8) && v.icmpId === this.echoId;
      if ((v.layers & L.ICMPV6) !== 0) return v.icmp6Type === 128 || v.icmp6Type === 129; // id is not in the view
    }
    return true;
  }

  /** An ICMPv4 error whose quoted header is this flow's (e.g. port unreachable for its UDP packet). */
  private quotes(v: PacketView): boolean {
    if ((v.layers & L.ICMP_INNER) === 0 || v.icmpInnerProto !== this.proto) return false;
    const fwd = v.icmpInnerSrc === this.a4 && v.icmpInnerDst === this.b4;
    const rev = v.icmpInnerSrc === this.b4 && v.icmpInnerDst === this.a4;
    if (!fwd && !rev) return false;
    if (this.aPort < 0) return true;
    return fwd ? v.icmpInnerSport === this.aPort && v.icmpInnerDport === this.bPort : v.icmpInnerSport === this.bPort && v.icmpInnerDport === this.aPort;
  }
}
