/**
 * Builders for crafted frames: the fixtures of the decoder/filter tests and the inputs of the decode
 * benchmark (and of anybody else's tests that need a VLAN or VXLAN frame this kernel cannot produce).
 * Not a hot path: plain Buffers, checksums computed so tshark/tcpdump see well-formed packets.
 */
import { parseIp4, parseIp6, parseMac } from './addr';

function mac(s: string): Buffer {
  const m = parseMac(s);
  if (!m) throw new Error(`craft: bad MAC ${s}`);
  return Buffer.from(m);
}

function ip4(s: string): Buffer {
  const v = parseIp4(s);
  if (v === undefined) throw new Error(`craft: bad IPv4 ${s}`);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v, 0);
  return b;
}

function ip6(s: string): Buffer {
  const v = parseIp6(s);
  if (!v) throw new Error(`craft: bad IPv6 ${s}`);
  return Buffer.from(v);
}

/** Internet checksum (RFC 1071) over the concatenation of parts. */
export function inetChecksum(...parts: Buffer[]): number {
  const all = Buffer.concat(parts);
  let sum = 0;
  for (let i = 0; i + 1 < all.length; i += 2) sum += (all[i] << 8) | all[i + 1];
  if (all.length & 1) sum += all[all.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface VlanTag {
  id: number;
  pcp?: number;
  /** 0x8100 (default) or 0x88a8 for the outer tag of QinQ. */
  tpid?: number;
}

export function ether(dst: string, src: string, type: number, payload: Buffer, vlans: VlanTag[] = []): Buffer {
  const parts = [mac(dst), mac(src)];
  for (const t of vlans) {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(t.tpid ?? 0x8100, 0);
    h.writeUInt16BE((((t.pcp ?? 0) & 7) << 13) | (t.id & 0xfff), 2);
    parts.push(h);
  }
  const et = Buffer.alloc(2);
  et.writeUInt16BE(type, 0);
  parts.push(et, payload);
  return Buffer.concat(parts);
}

export interface Ip4Opts {
  src: string;
  dst: string;
  proto: number;
  ttl?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in bytes (multiple of 8). */
  fragOff?: number;
  /** Raw option bytes (padded to a multiple of 4). */
  options?: Buffer;
  /** Override the total length field (e.g. 0 for a TSO frame). */
  totalLen?: number;
}

export function ipv4(o: Ip4Opts, payload: Buffer): Buffer {
  let opts = o.options ?? Buffer.alloc(0);
  if (opts.length % 4) opts = Buffer.concat([opts, Buffer.alloc(4 - (opts.length % 4))]);
  const h = Buffer.alloc(20 + opts.length);
  h[0] = 0x40 | ((20 + opts.length) >> 2);
  h.writeUInt16BE(o.totalLen ?? h.length + payload.length, 2);
  h.writeUInt16BE(o.id ?? 1, 4);
  h.writeUInt16BE((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOff ?? 0) >> 3), 6);
  h[8] = o.ttl ?? 64;
  h[9] = o.proto;
  ip4(o.src).copy(h, 12);
  ip4(o.dst).copy(h, 16);
  opts.copy(h, 20);
  h.writeUInt16BE(inetChecksum(h), 10);
  return Buffer.concat([h, payload]);
}

export interface Ip6Opts {
  src: string;
  dst: string;
  next: number;
  hlim?: number;
  /** Override the payload length field (e.g. 0). */
  plen?: number;
}

export function ipv6(o: Ip6Opts, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(o.plen ?? payload.length, 4);
  h[6] = o.next;
  h[7] = o.hlim ?? 64;
  ip6(o.src).copy(h, 8);
  ip6(o.dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

/** A generic IPv6 extension header (hop-by-hop 0, routing 43, destination 60): 8·n bytes, padded. */
export function ip6Ext(next: number, body: Buffer = Buffer.alloc(6)): Buffer {
  const total = Math.ceil((body.length + 2) / 8) * 8;
  const h = Buffer.alloc(total);
  h[0] = next;
  h[1] = total / 8 - 1;
  body.copy(h, 2);
  return h;
}

export function ip6Frag(next: number, offBytes: number, more: boolean, id: number): Buffer {
  const h = Buffer.alloc(8);
  h[0] = next;
  h.writeUInt16BE((offBytes & 0xfff8) | (more ? 1 : 0), 2);
  h.writeUInt32BE(id >>> 0, 4);
  return h;
}

/** Authentication header with `icvWords` 4-byte words of ICV (length field = 1 + icvWords). */
export function ip6Ah(next: number, icvWords = 3): Buffer {
  const h = Buffer.alloc(12 + 4 * icvWords);
  h[0] = next;
  h[1] = h.length / 4 - 2;
  return h;
}

export interface TcpOpts {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  /** Flag letters F S R P A U E C. */
  flags?: string;
  win?: number;
  options?: Buffer;
}

export function tcp(o: TcpOpts, payload: Buffer = Buffer.alloc(0)): Buffer {
  let opts = o.options ?? Buffer.alloc(0);
  if (opts.length % 4) opts = Buffer.concat([opts, Buffer.alloc(4 - (opts.length % 4), 1)]);
  const h = Buffer.alloc(20 + opts.length);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt32BE((o.seq ?? 0) >>> 0, 4);
  h.writeUInt32BE((o.ack ?? 0) >>> 0, 8);
  h[12] = (h.length >> 2) << 4;
  let f = 0;
  for (const c of o.flags ?? '') f |= 1 << 'FSRPAUEC'.indexOf(c);
  h[13] = f;
  h.writeUInt16BE(o.win ?? 64240, 14);
  opts.copy(h, 20);
  return Buffer.concat([h, payload]);
}

export function udp(sport: number, dport: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

export function icmpEcho(type: 0 | 8, id: number, seq: number, data: Buffer = Buffer.alloc(56, 0x61)): Buffer {
  const h = Buffer.alloc(8);
  h[0] = type;
  h.writeUInt16BE(id, 4);
  h.writeUInt16BE(seq, 6);
  h.writeUInt16BE(inetChecksum(h, data), 2);
  return Buffer.concat([h, data]);
}

/** An ICMP error (3, 5, 11, …) quoting `quoted` (the original IPv4 header + 8 bytes); `rest` = bytes 4..7. */
export function icmpError(type: number, code: number, quoted: Buffer, rest = 0): Buffer {
  const h = Buffer.alloc(8);
  h[0] = type;
  h[1] = code;
  h.writeUInt32BE(rest >>> 0, 4);
  h.writeUInt16BE(inetChecksum(h, quoted), 2);
  return Buffer.concat([h, quoted]);
}

/** ICMPv6 message; checksum over the pseudo-header of src/dst. */
export function icmp6(src: string, dst: string, type: number, code: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h[1] = code;
  const len = Buffer.alloc(8);
  len.writeUInt32BE(4 + body.length, 0);
  len[7] = 58;
  h.writeUInt16BE(inetChecksum(ip6(src), ip6(dst), len, h, body), 2);
  return Buffer.concat([h, body]);
}

/** Neighbor solicitation (135) / advertisement (136) body: reserved/flags + target (+ options). */
export function ndpBody(target: string, flags = 0, options: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32BE(flags >>> 0, 0);
  ip6(target).copy(b, 4);
  return Buffer.concat([b, options]);
}

export function arp(op: number, sha: string, spa: string, tha: string, tpa: string): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0);
  b.writeUInt16BE(0x0800, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(op, 6);
  mac(sha).copy(b, 8);
  ip4(spa).copy(b, 14);
  mac(tha).copy(b, 18);
  ip4(tpa).copy(b, 24);
  return b;
}

export function vxlan(vni: number, inner: Buffer, flags = 0x08): Buffer {
  const h = Buffer.alloc(8);
  h[0] = flags;
  h.writeUIntBE(vni, 4, 3);
  return Buffer.concat([h, inner]);
}

export interface GeneveOpts {
  vni: number;
  /** Ethertype of the payload (default 0x6558, Transparent Ethernet Bridging). */
  proto?: number;
  /** Option bytes (a multiple of 4; the length field counts 4-byte words). */
  options?: Buffer;
  /** O (control) and C (critical options) flags. */
  oam?: boolean;
  critical?: boolean;
  version?: number;
  /** Override the option-length field (in 4-byte words). */
  optWords?: number;
}

/** A Geneve header (RFC 8926) in front of `inner`. */
export function geneve(o: GeneveOpts, inner: Buffer): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(8);
  h[0] = ((o.version ?? 0) << 6) | ((o.optWords ?? opts.length >> 2) & 0x3f);
  h[1] = (o.oam ? 0x80 : 0) | (o.critical ? 0x40 : 0);
  h.writeUInt16BE(o.proto ?? 0x6558, 2);
  h.writeUIntBE(o.vni, 4, 3);
  return Buffer.concat([h, opts, inner]);
}

/** One Geneve option TLV: class, type, data (padded to 4 bytes). */
export function geneveOption(cls: number, type: number, data: Buffer): Buffer {
  const pad = (4 - (data.length % 4)) % 4;
  const h = Buffer.alloc(4);
  h.writeUInt16BE(cls, 0);
  h[2] = type;
  h[3] = (data.length + pad) >> 2;
  return Buffer.concat([h, data, Buffer.alloc(pad)]);
}

export interface GreOpts {
  /** Ethertype of the payload. */
  proto: number;
  /** Adds the checksum field (computed over header and payload). */
  checksum?: boolean;
  key?: number;
  seq?: number;
  version?: number;
}

/** A GRE header (RFC 2784/2890) in front of `inner`. */
export function gre(o: GreOpts, inner: Buffer): Buffer {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(4);
  h.writeUInt16BE((o.checksum ? 0x8000 : 0) | (o.key !== undefined ? 0x2000 : 0) | (o.seq !== undefined ? 0x1000 : 0) | ((o.version ?? 0) & 7), 0);
  h.writeUInt16BE(o.proto, 2);
  parts.push(h);
  const ck = Buffer.alloc(o.checksum ? 4 : 0);
  parts.push(ck);
  if (o.key !== undefined) {
    const k = Buffer.alloc(4);
    k.writeUInt32BE(o.key >>> 0, 0);
    parts.push(k);
  }
  if (o.seq !== undefined) {
    const q = Buffer.alloc(4);
    q.writeUInt32BE(o.seq >>> 0, 0);
    parts.push(q);
  }
  parts.push(inner);
  const out = Buffer.concat(parts);
  if (o.checksum) out.writeUInt16BE(inetChecksum(out), 4);
  return out;
}

export interface ErspanOpts {
  /** 1 = type II, 2 = type III. */
  version: 1 | 2;
  session: number;
  vlan?: number;
  cos?: number;
  /** Type II: encapsulation type (2 bits); type III: BSO (2 bits). */
  en?: number;
  truncated?: boolean;
  /** Type II: port index (20 bits). */
  index?: number;
  /** Type III: timestamp, security group tag, hardware id, direction, granularity. */
  timestamp?: number;
  sgt?: number;
  hwid?: number;
  direction?: 0 | 1;
  granularity?: number;
  frameType?: number;
  /** Type III: adds the 8-byte platform-specific subheader (O flag). */
  platform?: Buffer;
}

/** An ERSPAN type II (8 bytes) or type III (12 bytes, + 8 with the O flag) header in front of `inner`. */
export function erspan(o: ErspanOpts, inner: Buffer): Buffer {
  const w0 = ((o.version & 0xf) << 28) | (((o.vlan ?? 0) & 0xfff) << 16) | (((o.cos ?? 0) & 7) << 13) | (((o.en ?? 0) & 3) << 11) | ((o.truncated ? 1 : 0) << 10) | (o.session & 0x3ff);
  if (o.version === 1) {
    const h = Buffer.alloc(8);
    h.writeUInt32BE(w0 >>> 0, 0);
    h.writeUInt32BE((o.index ?? 0) & 0xfffff, 4);
    return Buffer.concat([h, inner]);
  }
  const h = Buffer.alloc(12);
  h.writeUInt32BE(w0 >>> 0, 0);
  h.writeUInt32BE((o.timestamp ?? 0) >>> 0, 4);
  h.writeUInt16BE((o.sgt ?? 0) & 0xffff, 8);
  const last = (((o.frameType ?? 0) & 0x1f) << 10) | (((o.hwid ?? 0) & 0x3f) << 4) | (((o.direction ?? 0) & 1) << 3) | (((o.granularity ?? 0) & 3) << 1) | (o.platform ? 1 : 0);
  h.writeUInt16BE(last, 10);
  return Buffer.concat(o.platform ? [h, o.platform, inner] : [h, inner]);
}

/** Linux cooked v1 header (LINKTYPE_LINUX_SLL) in front of `payload`. */
export function sll(protocol: number, payload: Buffer, srcMac = '02:00:00:00:00:01', pkttype = 0): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(pkttype, 0);
  h.writeUInt16BE(1, 2);
  h.writeUInt16BE(6, 4);
  mac(srcMac).copy(h, 6);
  h.writeUInt16BE(protocol, 14);
  return Buffer.concat([h, payload]);
}

/** Linux cooked v2 header (LINKTYPE_LINUX_SLL2) in front of `payload`. */
export function sll2(protocol: number, payload: Buffer, ifindex = 2, srcMac = '02:00:00:00:00:01'): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(protocol, 0);
  h.writeUInt32BE(ifindex, 4);
  h.writeUInt16BE(1, 8);
  h[10] = 0;
  h[11] = 6;
  mac(srcMac).copy(h, 12);
  return Buffer.concat([h, payload]);
}

/** BSD loopback header; NULL uses host (here little-endian) order, LOOP network order. */
export function nullHdr(family: number, payload: Buffer, networkOrder = false): Buffer {
  const h = Buffer.alloc(4);
  if (networkOrder) h.writeUInt32BE(family, 0);
  else h.writeUInt32LE(family, 0);
  return Buffer.concat([h, payload]);
}

export interface CraftedRecord {
  frame: Buffer;
  tsSec?: number;
  tsUsec?: number;
  /** Wire length when the frame is a snaplen-cut prefix. */
  len?: number;
}

/** A classic little-endian microsecond pcap file of the given frames (for tcpdump/tshark cross-checks). */
export function pcapFile(linktype: number, records: CraftedRecord[]): Buffer {
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(262144, 16);
  gh.writeUInt32LE(linktype, 20);
  const parts: Buffer[] = [gh];
  records.forEach((r, i) => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(r.tsSec ?? 1795848999 + i, 0);
    h.writeUInt32LE(r.tsUsec ?? 566651, 4);
    h.writeUInt32LE(r.frame.length, 8);
    h.writeUInt32LE(r.len ?? r.frame.length, 12);
    parts.push(h, r.frame);
  });
  return Buffer.concat(parts);
}
