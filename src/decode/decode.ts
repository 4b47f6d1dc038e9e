/**
 * One-pass, allocation-free packet decoder: fills a reused PacketView from bytes.
 *
 * Every header is checked once against the captured end (`off + caplen`, never `buf.length`: capture
 * buffers are reused and larger than the frame) and then read with inline byte arithmetic. Nothing here
 * throws: a header cut short sets `truncated` to its layer bit, a header that makes no sense sets
 * `malformed` + reason; layers decoded before stay in `layers`. A layer's bit is set only when its header
 * was fully decoded.
 *
 * Two ends are carried through the layers: `capEnd` (bytes present in buf) and `wireEnd` (bytes the frame
 * had on the wire, from `len`). Lengths printed and reported come from the headers clamped to the wire;
 * anything read is clamped to the capture.
 *
 * GSO/GRO super-frames: an IPv4 total length of 0 (TSO frames captured before segmentation) means
 * "the rest of the frame", as tshark does; an IPv6 payload length of 0 likewise. Lengths above the MTU
 * are taken as they are — frames are never assumed to be ≤ 1514 bytes.
 */
import { LinkType, type PacketRecord } from '../pcap/record';
import { IP6_EXT, L, M, MAX_IP6_EXT_HEADERS, MAX_VLAN_TAGS, PacketView, TUNNEL, UDP_TUNNEL } from './view';

export const ETHERTYPE = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPV6: 0x86dd,
  QINQ: 0x88a8,
  QINQ_OLD: 0x9100,
  /** Transparent Ethernet Bridging: an Ethernet frame (GRE, Geneve). */
  TEB: 0x6558,
  /** ERSPAN type I/II and type III in GRE. */
  ERSPAN: 0x88be,
  ERSPAN3: 0x22eb,
} as const;

export const IPPROTO = { ICMP: 1, IPIP: 4, TCP: 6, UDP: 17, IPV6: 41, GRE: 47, ICMPV6: 58 } as const;

/** VXLAN's IANA port (8472, the kernel's default, is in view.VXLAN_PORTS too). */
export const VXLAN_PORT = 4789;

/** Decodes the frame at buf[off .. off+caplen) into `view` (which is returned). Never throws. */
export function decodePacket(
  view: PacketView,
  buf: Buffer,
  off: number,
  caplen: number,
  len: number,
  linktype: number,
): PacketView {
  // Defensive clamp: a caller passing caplen past the buffer must not make us read `undefined`.
  let cap = caplen > 0 ? caplen : 0;
  if (off < 0 || off > buf.length) cap = 0;
  else if (off + cap > buf.length) cap = buf.length - off;
  resetView(view, buf, off, cap, len, linktype);
  const capEnd = off + cap;
  const wireEnd = off + (len > cap ? len : cap);
  switch (linktype) {
    case LinkType.EN10MB:
      decodeEthernet(view, buf, off, capEnd, wireEnd);
      break;
    case LinkType.LINUX_SLL:
      decodeSll(view, buf, off, capEnd, wireEnd);
      break;
    case LinkType.LINUX_SLL2:
      decodeSll2(view, buf, off, capEnd, wireEnd);
      break;
    case LinkType.RAW:
      decodeRaw(view, buf, off, capEnd, wireEnd);
      break;
    case LinkType.IPV4:
      view.ethType = ETHERTYPE.IPV4;
      decodeL3(view, buf, off, capEnd, wireEnd, ETHERTYPE.IPV4);
      break;
    case LinkType.IPV6:
      view.ethType = ETHERTYPE.IPV6;
      decodeL3(view, buf, off, capEnd, wireEnd, ETHERTYPE.IPV6);
      break;
    case LinkType.NULL:
    case LinkType.LOOP:
      decodeNull(view, buf, off, capEnd, wireEnd);
      break;
    default:
      // Unknown link type: nothing decoded, nothing wrong with the packet as far as we can tell.
      break;
  }
  return view;
}

/** decodePacket for a record from any source. */
export function decodeRecord(view: PacketView, rec: PacketRecord): PacketView {
  return decodePacket(view, rec.buf, rec.offset, rec.caplen, rec.len, rec.linktype);
}

function resetView(v: PacketView, buf: Buffer, off: number, caplen: number, len: number, linktype: number): void {
  v.buf = buf;
  v.base = off;
  v.caplen = caplen;
  v.len = len;
  v.linktype = linktype;
  v.layers = 0;
  v.ethDstOff = -1;
  v.ethSrcOff = -1;
  v.ethType = 0;
  v.vlanCount = 0;
  v.vlanOff = -1;
  v.l3Off = -1;
  v.ipProto = 0;
  v.ip6FragOff = -1;
  v.l4Off = -1;
  v.sport = 0;
  v.dport = 0;
  v.icmp6TargetOff = -1;
  v.icmp6InnerSrcOff = -1;
  v.icmp6InnerDstOff = -1;
  v.tunnelKind = 0;
  v.tunnelId = -1;
  v.tunnelOff = -1;
  v.payloadOff = -1;
  v.payloadLen = 0;
  v.payloadWireLen = 0;
  v.truncated = 0;
  v.malformed = 0;
  v.malformedReason = 0;
  v.malformedValue = 0;
}

function setMalformed(v: PacketView, layer: number, reason: number, value: number): void {
  v.malformed = layer;
  v.malformedReason = reason;
  v.malformedValue = value;
}

function setPayload(v: PacketView, off: number, capEnd: number, wireEnd: number): void {
  v.payloadOff = off;
  v.payloadLen = capEnd > off ? capEnd - off : 0;
  v.payloadWireLen = wireEnd > off ? wireEnd - off : 0;
}

// ---------------------------------------------------------------------------------------- link layers

function decodeEthernet(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number): void {
  if (off + 14 > capEnd) {
    v.truncated = L.ETH;
    return;
  }
  v.ethDstOff = off;
  v.ethSrcOff = off + 6;
  v.layers |= L.ETH;
  decodeEtherType(v, b, off + 14, capEnd, wireEnd, (b[off + 12] << 8) | b[off + 13]);
}

/** Linux cooked v1: pkttype(2) arphrd(2) halen(2) addr(8) protocol(2). */
function decodeSll(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number): void {
  if (off + 16 > capEnd) {
    v.truncated = L.LINK;
    return;
  }
  v.layers |= L.LINK;
  decodeEtherType(v, b, off + 16, capEnd, wireEnd, (b[off + 14] << 8) | b[off + 15]);
}

/** Linux cooked v2: protocol(2) reserved(2) ifindex(4) arphrd(2) pkttype(1) halen(1) addr(8). */
function decodeSll2(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number): void {
  if (off + 20 > capEnd) {
    v.truncated = L.LINK;
    return;
  }
  v.layers |= L.LINK;
  decodeEtherType(v, b, off + 20, capEnd, wireEnd, (b[off] << 8) | b[off + 1]);
}

/** BSD loopback: a 4-byte address family in the capturing host's order (NULL) or network order (LOOP). */
function decodeNull(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number): void {
  if (off + 4 > capEnd) {
    v.truncated = L.LINK;
    return;
  }
  v.layers |= L.LINK;
  // Families are small numbers: whichever byte order leaves the high half zero is the right one.
  let family = b[off] | (b[off + 1] << 8);
  if ((b[off + 2] | b[off + 3]) !== 0) family = (b[off + 2] << 8) | b[off + 3];
  let type = 0;
  if (family === 2) type = ETHERTYPE.IPV4;
  else if (family === 10 || family === 24 || family === 28 || family === 30) type = ETHERTYPE.IPV6;
  v.ethType = type;
  if (type !== 0) decodeL3(v, b, off + 4, capEnd, wireEnd, type);
}

/** LINKTYPE_RAW: no link header, the IP version nibble decides. */
function decodeRaw(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number): void {
  if (off + 1 > capEnd) {
    v.truncated = L.LINK;
    return;
  }
  const version = b[off] >> 4;
  if (version === 4) v.ethType = ETHERTYPE.IPV4;
  else if (version === 6) v.ethType = ETHERTYPE.IPV6;
  else {
    setMalformed(v, L.LINK, M.RAW_VERSION, version);
    return;
  }
  decodeL3(v, b, off, capEnd, wireEnd, v.ethType);
}

/** VLAN tags (802.1Q, 802.1ad, old 0x9100 QinQ), then the network layer. */
function decodeEtherType(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number, type: number): void {
  while (type === ETHERTYPE.VLAN || type === ETHERTYPE.QINQ || type === ETHERTYPE.QINQ_OLD) {
    if (off + 4 > capEnd) {
      v.ethType = type;
      v.truncated = L.VLAN;
      return;
    }
    if (v.vlanCount === 0) v.vlanOff = off;
    if (v.vlanCount < MAX_VLAN_TAGS) v.vlanIds[v.vlanCount] = ((b[off] << 8) | b[off + 1]) & 0x0fff;
    v.vlanCount++;
    type = (b[off + 2] << 8) | b[off + 3];
    off += 4;
  }
  // Set only once the whole tag stack is read: a layer cut short never has its bit.
  if (v.vlanCount !== 0) v.layers |= L.VLAN;
  v.ethType = type;
  decodeL3(v, b, off, capEnd, wireEnd, type);
}

function decodeL3(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number, type: number): void {
  switch (type) {
    case ETHERTYPE.IPV4:
      v.l3Off = off;
      decodeIpv4(v, b, off, capEnd, wireEnd);
      break;
    case ETHERTYPE.IPV6:
      v.l3Off = off;
      decodeIpv6(v, b, off, capEnd, wireEnd);
      break;
    case ETHERTYPE.ARP:
      v.l3Off = off;
      decodeArp(v, b, off, capEnd);
      break;
    default:
      setPayload(v, off, capEnd, wireEnd);
      break;
  }
}

// ---------------------------------------------------------------------------------------- network layer

function decodeArp(v: PacketView, b: Buffer, off: number, capEnd: number): void {
  if (off + 8 > capEnd) {
    v.truncated = L.ARP;
    return;
  }
  const htype = (b[off] << 8) | b[off + 1];
  const ptype = (b[off + 2] << 8) | b[off + 3];
  if (htype !== 1 || ptype !== ETHERTYPE.IPV4) {
    setMalformed(v, L.ARP, M.ARP_FORMAT, htype * 65536 + ptype);
    return;
  }
  if (b[off + 4] !== 6 || b[off + 5] !== 4) {
    setMalformed(v, L.ARP, M.ARP_ADDR_LEN, (b[off + 4] << 8) | b[off + 5]);
    return;
  }
  if (off + 28 > capEnd) {
    v.truncated = L.ARP;
    return;
  }
  v.arpOp = (b[off + 6] << 8) | b[off + 7];
  v.arpShaOff = off + 8;
  v.arpSpa = ((b[off + 14] << 24) | (b[off + 15] << 16) | (b[off + 16] << 8) | b[off + 17]) >>> 0;
  v.arpThaOff = off + 18;
  v.arpTpa = ((b[off + 24] << 24) | (b[off + 25] << 16) | (b[off + 26] << 8) | b[off + 27]) >>> 0;
  v.layers |= L.ARP;
}

function decodeIpv4(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number): void {
  if (off + 20 > capEnd) {
    v.truncated = L.IPV4;
    return;
  }
  const vihl = b[off];
  if (vihl >> 4 !== 4) {
    setMalformed(v, L.IPV4, M.IP4_VERSION, vihl >> 4);
    return;
  }
  const hlen = (vihl & 0x0f) << 2;
  if (hlen < 20) {
    setMalformed(v, L.IPV4, M.IP4_HDR_LEN, hlen);
    return;
  }
  if (off + hlen > capEnd) {
    v.truncated = L.IPV4;
    return;
  }
  const total = (b[off + 2] << 8) | b[off + 3];
  if (total !== 0 && total < hlen) {
    setMalformed(v, L.IPV4, M.IP4_TOTAL_LEN, total);
    v.ipHdrLen = hlen;
    return;
  }
  const flagsFrag = (b[off + 6] << 8) | b[off + 7];
  const proto = b[off + 9];
  v.ipHdrLen = hlen;
  v.ipTotalLen = total;
  v.ipId = (b[off + 4] << 8) | b[off + 5];
  v.ipDf = (flagsFrag & 0x4000) !== 0;
  v.ipMf = (flagsFrag & 0x2000) !== 0;
  v.ipFragOff = (flagsFrag & 0x1fff) << 3;
  v.ipTtl = b[off + 8];
  v.ipProto = proto;
  v.ip4Src = ((b[off + 12] << 24) | (b[off + 13] << 16) | (b[off + 14] << 8) | b[off + 15]) >>> 0;
  v.ip4Dst = ((b[off + 16] << 24) | (b[off + 17] << 16) | (b[off + 18] << 8) | b[off + 19]) >>> 0;
  v.layers |= L.IPV4;

  // Total length 0 = TSO super-frame captured before segmentation: the datagram is the rest of the frame.
  // A total length past the frame is clamped (snaplen cut or a lying header: we only read what exists).
  let ipWireEnd = total === 0 ? wireEnd : off + total;
  if (ipWireEnd > wireEnd) ipWireEnd = wireEnd;
  const ipCapEnd = ipWireEnd < capEnd ? ipWireEnd : capEnd;
  const l4 = off + hlen;
  if (v.ipFragOff !== 0) {
    setPayload(v, l4, ipCapEnd, ipWireEnd);
    return;
  }
  decodeTransport(v, b, proto, false, l4, ipCapEnd, ipWireEnd);
}

function decodeIpv6(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number): void {
  if (off + 40 > capEnd) {
    v.truncated = L.IPV6;
    return;
  }
  if (b[off] >> 4 !== 6) {
    setMalformed(v, L.IPV6, M.IP6_VERSION, b[off] >> 4);
    return;
  }
  const plen = (b[off + 4] << 8) | b[off + 5];
  v.ip6Plen = plen;
  v.ip6Hlim = b[off + 7];
  v.ip6SrcOff = off + 8;
  v.ip6DstOff = off + 24;
  v.ip6ExtMask = 0;
  let ipWireEnd = plen === 0 ? wireEnd : off + 40 + plen;
  if (ipWireEnd > wireEnd) ipWireEnd = wireEnd;
  const ipCapEnd = ipWireEnd < capEnd ? ipWireEnd : capEnd;

  let next = b[off + 6];
  let p = off + 40;
  let count = 0;
  let l4 = true;
  chain: for (;;) {
    switch (next) {
      case 0: // hop-by-hop
      case 43: // routing
      case 60: {
        // destination options
        if (p + 8 > ipCapEnd) {
          v.truncated = L.IPV6;
          return;
        }
        const n = (b[p + 1] + 1) << 3;
        if (p + n > ipCapEnd) {
          v.truncated = L.IPV6;
          return;
        }
        v.ip6ExtMask |= next === 0 ? IP6_EXT.HOP_BY_HOP : next === 43 ? IP6_EXT.ROUTING : IP6_EXT.DEST_OPTS;
        next = b[p];
        p += n;
        break;
      }
      case 51: {
        // AH: length in 4-byte units minus 2
        if (p + 8 > ipCapEnd) {
          v.truncated = L.IPV6;
          return;
        }
        const n = (b[p + 1] + 2) << 2;
        if (p + n > ipCapEnd) {
          v.truncated = L.IPV6;
          return;
        }
        v.ip6ExtMask |= IP6_EXT.AH;
        next = b[p];
        p += n;
        break;
      }
      case 44: {
        if (p + 8 > ipCapEnd) {
          v.truncated = L.IPV6;
          return;
        }
        const fo = (b[p + 2] << 8) | b[p + 3];
        v.ip6FragOff = fo & 0xfff8;
        v.ip6FragMore = (fo & 1) !== 0;
        v.ip6FragId = ((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0;
        v.ip6ExtMask |= IP6_EXT.FRAGMENT;
        next = b[p];
        p += 8;
        if (v.ip6FragOff !== 0) {
          l4 = false;
          break chain;
        }
        break;
      }
      default:
        // Upper layer, ESP (50) or no-next-header (59): the chain ends here.
        break chain;
    }
    if (++count > MAX_IP6_EXT_HEADERS) {
      setMalformed(v, L.IPV6, M.IP6_EXT_CHAIN, count);
      return;
    }
  }
  v.ip6Next = next;
  v.ipProto = next;
  v.layers |= L.IPV6;
  if (!l4) {
    setPayload(v, p, ipCapEnd, ipWireEnd);
    return;
  }
  decodeTransport(v, b, next, true, p, ipCapEnd, ipWireEnd);
}

/** The upper layer of an IPv4/IPv6 datagram: ICMP is ICMPv4 only over IPv4, ICMPv6 only over IPv6. */
function decodeTransport(v: PacketView, b: Buffer, proto: number, v6: boolean, off: number, capEnd: number, wireEnd: number): void {
  switch (proto) {
    case IPPROTO.TCP:
      decodeTcp(v, b, off, capEnd, wireEnd);
      return;
    case IPPROTO.UDP:
      decodeUdp(v, b, off, capEnd, wireEnd);
      return;
    case IPPROTO.ICMP:
      if (!v6) {
        decodeIcmp(v, b, off, capEnd, wireEnd);
        return;
      }
      break;
    case IPPROTO.ICMPV6:
      if (v6) {
        decodeIcmp6(v, b, off, capEnd, wireEnd);
        return;
      }
      break;
    case IPPROTO.IPIP:
      decodeIpInIp(v, b, off, capEnd, wireEnd, TUNNEL.IPIP);
      return;
    case IPPROTO.IPV6:
      decodeIpInIp(v, b, off, capEnd, wireEnd, TUNNEL.IP6IP);
      return;
    case IPPROTO.GRE:
      decodeGre(v, b, off, capEnd, wireEnd);
      return;
  }
  setPayload(v, off, capEnd, wireEnd);
}

// ---------------------------------------------------------------------------------------- transport

function decodeTcp(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number): void {
  if (off + 20 > capEnd) {
    v.truncated = L.TCP;
    return;
  }
  const hlen = (b[off + 12] >> 4) << 2;
  if (hlen < 20) {
    setMalformed(v, L.TCP, M.TCP_HDR_LEN, hlen);
    return;
  }
  if (off + hlen > wireEnd) {
    setMalformed(v, L.TCP, M.TCP_HDR_PAST_SEGMENT, hlen);
    return;
  }
  if (off + hlen > capEnd) {
    v.truncated = L.TCP;
    return;
  }
  v.l4Off = off;
  v.sport = (b[off] << 8) | b[off + 1];
  v.dport = (b[off + 2] << 8) | b[off + 3];
  v.tcpSeq = ((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) >>> 0;
  v.tcpAck = ((b[off + 8] << 24) | (b[off + 9] << 16) | (b[off + 10] << 8) | b[off + 11]) >>> 0;
  v.tcpFlags = b[off + 13];
  v.tcpWin = (b[off + 14] << 8) | b[off + 15];
  v.tcpHdrLen = hlen;
  v.layers |= L.TCP;
  setPayload(v, off + hlen, capEnd, wireEnd);
}

function decodeUdp(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number): void {
  if (off + 8 > capEnd) {
    v.truncated = L.UDP;
    return;
  }
  const ulen = (b[off + 4] << 8) | b[off + 5];
  if (ulen !== 0 && ulen < 8) {
    setMalformed(v, L.UDP, M.UDP_LEN, ulen);
    return;
  }
  v.l4Off = off;
  v.sport = (b[off] << 8) | b[off + 1];
  v.dport = (b[off + 2] << 8) | b[off + 3];
  v.udpLen = ulen;
  v.layers |= L.UDP;
  // Length 0 (UDP GSO / jumbograms): the datagram is the rest of the IP payload.
  let udpWireEnd = ulen === 0 ? wireEnd : off + ulen;
  if (udpWireEnd > wireEnd) udpWireEnd = wireEnd;
  const udpCapEnd = udpWireEnd < capEnd ? udpWireEnd : capEnd;
  const p = off + 8;
  setPayload(v, p, udpCapEnd, udpWireEnd);
  const tunnel = v.tunnelPorts[v.dport];
  if (tunnel === UDP_TUNNEL.VXLAN) decodeVxlan(v, b, p, udpCapEnd, udpWireEnd);
  else if (tunnel === UDP_TUNNEL.GENEVE) decodeGeneve(v, b, p, udpCapEnd, udpWireEnd);
}

function decodeVxlan(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number): void {
  if (off + 8 > capEnd) {
    v.truncated = L.VXLAN;
    return;
  }
  const flags = b[off];
  v.vxlanFlags = flags;
  if ((flags & 0x08) === 0) {
    setMalformed(v, L.VXLAN, M.VXLAN_FLAGS, flags);
    return;
  }
  v.vni = (b[off + 4] << 16) | (b[off + 5] << 8) | b[off + 6];
  v.layers |= L.VXLAN;
  enterTunnel(v, TUNNEL.VXLAN, v.vni, off);
  decodeInner(v, b, off + 8, capEnd, wireEnd, ETHERTYPE.TEB);
}

// ---------------------------------------------------------------------------------------- tunnels

function enterTunnel(v: PacketView, kind: number, id: number, off: number): void {
  v.tunnelKind = kind;
  v.tunnelId = id;
  v.tunnelOff = off;
}

/**
 * The frame a tunnel carries, into `v.inner`: an Ethernet frame (TEB) or an IP datagram (the ethertype),
 * anything else is left as payload. The outer view's payload is the whole inner frame. Past the nesting
 * limit (no inner view left) the inner frame stays payload too.
 */
function decodeInner(v: PacketView, b: Buffer, p: number, capEnd: number, wireEnd: number, type: number): void {
  setPayload(v, p, capEnd, wireEnd);
  const inner = v.inner;
  if (inner === null) return;
  const cap = capEnd > p ? capEnd - p : 0;
  const wire = wireEnd > p ? wireEnd - p : 0;
  switch (type) {
    case ETHERTYPE.TEB:
      resetView(inner, b, p, cap, wire, LinkType.EN10MB);
      decodeEthernet(inner, b, p, p + cap, p + wire);
      break;
    case ETHERTYPE.IPV4:
    case ETHERTYPE.IPV6:
      // An IP datagram without a link header: the inner view reads like a raw-IP capture.
      resetView(inner, b, p, cap, wire, LinkType.RAW);
      inner.ethType = type;
      decodeL3(inner, b, p, p + cap, p + wire, type);
      break;
    default:
      // Not a frame we decode: the inner view stays empty (layers 0).
      resetView(inner, b, p, cap, wire, LinkType.RAW);
      break;
  }
}

/** IPv4 (protocol 4) or IPv6 (protocol 41) directly inside an IP datagram (Calico IPIP, sit, ip6tnl). */
function decodeIpInIp(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number, kind: number): void {
  if (off + 1 > capEnd) {
    v.truncated = L.IPIP;
    return;
  }
  v.layers |= L.IPIP;
  enterTunnel(v, kind, -1, off);
  decodeInner(v, b, off, capEnd, wireEnd, kind === TUNNEL.IPIP ? ETHERTYPE.IPV4 : ETHERTYPE.IPV6);
}

/** Geneve (RFC 8926): 8 bytes, then options (length checked, skipped), then a frame of `proto`. */
function decodeGeneve(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number): void {
  if (off + 8 > capEnd) {
    v.truncated = L.GENEVE;
    return;
  }
  const version = b[off] >> 6;
  if (version !== 0) {
    setMalformed(v, L.GENEVE, M.GENEVE_VERSION, version);
    return;
  }
  const optLen = (b[off] & 0x3f) << 2;
  const end = off + 8 + optLen;
  if (end > wireEnd) {
    setMalformed(v, L.GENEVE, M.GENEVE_OPT_LEN, optLen);
    return;
  }
  if (end > capEnd) {
    v.truncated = L.GENEVE;
    return;
  }
  // Each option: class(2) type(1) flags/length(1, length in 4-byte words) + data; all inside the option area.
  for (let p = off + 8; p < end; ) {
    const next = p + 4 + ((b[p + 3] & 0x1f) << 2);
    if (p + 4 > end || next > end) {
      setMalformed(v, L.GENEVE, M.GENEVE_OPT_LEN, optLen);
      return;
    }
    p = next;
  }
  v.geneveFlags = b[off + 1];
  v.geneveProto = (b[off + 2] << 8) | b[off + 3];
  v.geneveOptLen = optLen;
  v.vni = (b[off + 4] << 16) | (b[off + 5] << 8) | b[off + 6];
  v.layers |= L.GENEVE;
  enterTunnel(v, TUNNEL.GENEVE, v.vni, off);
  decodeInner(v, b, end, capEnd, wireEnd, v.geneveProto);
}

/**
 * GRE (RFC 2784 with RFC 2890 key and sequence number): version 0 only, no source routing. The payload is
 * decoded by its protocol type: IPv4, IPv6, Ethernet (TEB), ERSPAN I/II (0x88be) and III (0x22eb).
 */
function decodeGre(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number): void {
  if (off + 4 > capEnd) {
    v.truncated = L.GRE;
    return;
  }
  const fv = (b[off] << 8) | b[off + 1];
  if ((fv & 0x4007) !== 0) {
    setMalformed(v, L.GRE, M.GRE_VERSION, fv);
    return;
  }
  const hlen = 4 + ((fv & 0x8000) !== 0 ? 4 : 0) + ((fv & 0x2000) !== 0 ? 4 : 0) + ((fv & 0x1000) !== 0 ? 4 : 0);
  if (off + hlen > capEnd) {
    v.truncated = L.GRE;
    return;
  }
  let p = off + 4;
  v.greFlags = fv;
  v.greProto = (b[off + 2] << 8) | b[off + 3];
  v.greHdrLen = hlen;
  if ((fv & 0x8000) !== 0) {
    v.greChecksum = (b[p] << 8) | b[p + 1];
    p += 4;
  }
  let id = -1;
  if ((fv & 0x2000) !== 0) {
    v.greKey = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
    id = v.greKey;
    p += 4;
  }
  if ((fv & 0x1000) !== 0) {
    v.greSeq = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
    p += 4;
  }
  v.layers |= L.GRE;
  switch (v.greProto) {
    case ETHERTYPE.ERSPAN:
      // Type I has no header of its own and no sequence number; type II sets S.
      if ((fv & 0x1000) === 0) {
        v.erspanType = 1;
        v.layers |= L.ERSPAN;
        enterTunnel(v, TUNNEL.ERSPAN, -1, off);
        decodeInner(v, b, p, capEnd, wireEnd, ETHERTYPE.TEB);
      } else decodeErspan(v, b, off, p, capEnd, wireEnd, 2);
      return;
    case ETHERTYPE.ERSPAN3:
      decodeErspan(v, b, off, p, capEnd, wireEnd, 3);
      return;
  }
  enterTunnel(v, TUNNEL.GRE, id, off);
  decodeInner(v, b, p, capEnd, wireEnd, v.greProto);
}

/** ERSPAN type II (8 bytes, version field 1) or III (12 bytes, version 2, + 8 with the O flag). */
function decodeErspan(v: PacketView, b: Buffer, greOff: number, off: number, capEnd: number, wireEnd: number, type: number): void {
  const base = type === 2 ? 8 : 12;
  if (off + base > capEnd) {
    v.truncated = L.ERSPAN;
    return;
  }
  const version = b[off] >> 4;
  if (version !== type - 1) {
    setMalformed(v, L.ERSPAN, M.ERSPAN_VERSION, version);
    return;
  }
  let hlen = base;
  if (type === 3 && (b[off + 11] & 1) !== 0) hlen += 8;
  if (off + hlen > capEnd) {
    v.truncated = L.ERSPAN;
    return;
  }
  v.erspanType = type;
  v.erspanFrameType = 0;
  v.erspanVlan = ((b[off] << 8) | b[off + 1]) & 0x0fff;
  v.erspanCos = b[off + 2] >> 5;
  v.erspanEn = (b[off + 2] >> 3) & 3;
  v.erspanTruncated = (b[off + 2] & 4) !== 0;
  v.erspanSession = ((b[off + 2] & 3) << 8) | b[off + 3];
  if (type === 2) {
    v.erspanIndex = ((b[off + 5] & 0x0f) << 16) | (b[off + 6] << 8) | b[off + 7];
  } else {
    v.erspanTimestamp = ((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) >>> 0;
    v.erspanSgt = (b[off + 8] << 8) | b[off + 9];
    const last = (b[off + 10] << 8) | b[off + 11];
    v.erspanHwId = (last >> 4) & 0x3f;
    v.erspanDirection = (last >> 3) & 1;
    v.erspanGranularity = (last >> 1) & 3;
    v.erspanPlatform = (last & 1) !== 0;
    v.erspanFrameType = (last >> 10) & 0x1f;
  }
  v.layers |= L.ERSPAN;
  enterTunnel(v, TUNNEL.ERSPAN, v.erspanSession, greOff);
  // Type III frame type 0 is Ethernet; others (2 = IP) are left as payload.
  decodeInner(v, b, off + hlen, capEnd, wireEnd, type === 2 || v.erspanFrameType === 0 ? ETHERTYPE.TEB : 0);
}

function decodeIcmp(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number): void {
  if (off + 8 > capEnd) {
    v.truncated = L.ICMP;
    return;
  }
  const type = b[off];
  v.icmpType = type;
  v.icmpCode = b[off + 1];
  v.l4Off = off;
  v.layers |= L.ICMP;
  if (type === 0 || type === 8) {
    v.icmpId = (b[off + 4] << 8) | b[off + 5];
    v.icmpSeq = (b[off + 6] << 8) | b[off + 7];
  } else if (type === 3) {
    v.icmpMtu = v.icmpCode === 4 ? (b[off + 6] << 8) | b[off + 7] : 0;
  } else if (type === 5) {
    v.icmpGateway = ((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) >>> 0;
  }
  setPayload(v, off + 8, capEnd, wireEnd);
  // Errors quote the original datagram: its IPv4 header and at least its first 8 bytes.
  if (type === 3 || type === 4 || type === 5 || type === 11 || type === 12) {
    decodeIcmpQuote(v, b, off + 8, capEnd);
  }
}

function decodeIcmpQuote(v: PacketView, b: Buffer, off: number, capEnd: number): void {
  if (off + 20 > capEnd) {
    v.truncated = L.ICMP_INNER;
    return;
  }
  const vihl = b[off];
  const hlen = (vihl & 0x0f) << 2;
  // A quote that is not an IPv4 header is left undecoded (not our packet's fault to report).
  if (vihl >> 4 !== 4 || hlen < 20) return;
  if (off + hlen > capEnd) {
    v.truncated = L.ICMP_INNER;
    return;
  }
  const proto = b[off + 9];
  v.icmpInnerProto = proto;
  v.icmpInnerSrc = ((b[off + 12] << 24) | (b[off + 13] << 16) | (b[off + 14] << 8) | b[off + 15]) >>> 0;
  v.icmpInnerDst = ((b[off + 16] << 24) | (b[off + 17] << 16) | (b[off + 18] << 8) | b[off + 19]) >>> 0;
  v.icmpInnerSport = -1;
  v.icmpInnerDport = -1;
  v.icmpInnerL4Off = off + hlen < capEnd ? off + hlen : -1;
  const fragOff = ((b[off + 6] << 8) | b[off + 7]) & 0x1fff;
  if ((proto === IPPROTO.TCP || proto === IPPROTO.UDP) && fragOff === 0) {
    const p = off + hlen;
    if (p + 4 > capEnd) {
      v.truncated = L.ICMP_INNER;
      return;
    }
    v.icmpInnerSport = (b[p] << 8) | b[p + 1];
    v.icmpInnerDport = (b[p + 2] << 8) | b[p + 3];
  }
  v.layers |= L.ICMP_INNER;
}

function decodeIcmp6(v: PacketView, b: Buffer, off: number, capEnd: number, wireEnd: number): void {
  if (off + 8 > capEnd) {
    v.truncated = L.ICMPV6;
    return;
  }
  const type = b[off];
  // NS/NA carry a target at +8; a redirect a target and a destination (+8, +24).
  let need = 8;
  if (type === 135 || type === 136) need = 24;
  else if (type === 137) need = 40;
  if (off + need > capEnd) {
    v.truncated = L.ICMPV6;
    return;
  }
  v.icmp6Type = type;
  v.icmp6Code = b[off + 1];
  v.icmp6TargetOff = need > 8 ? off + 8 : -1;
  if (type === 128 || type === 129) {
    v.icmp6Id = (b[off + 4] << 8) | b[off + 5];
    v.icmp6Seq = (b[off + 6] << 8) | b[off + 7];
  } else if (type === 2) {
    v.icmpMtu = ((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) >>> 0;
  }
  v.l4Off = off;
  v.layers |= L.ICMPV6;
  setPayload(v, off + 8, capEnd, wireEnd);
  // Errors (unreachable, packet too big, time exceeded, parameter problem) quote the original packet.
  if (type >= 1 && type <= 4) decodeIcmp6Quote(v, b, off + 8, capEnd);
}

/**
 * The IPv6 packet an ICMPv6 error quotes: addresses, then the extension headers the kernel put before the
 * transport header, to the protocol and ports. A quote that is not IPv6 is left undecoded; one cut short by
 * the capture marks ICMP6_INNER truncated once its addresses are known.
 */
function decodeIcmp6Quote(v: PacketView, b: Buffer, off: number, capEnd: number): void {
  if (off + 40 > capEnd) {
    v.truncated = L.ICMP6_INNER;
    return;
  }
  if (b[off] >> 4 !== 6) return;
  v.icmp6InnerSrcOff = off + 8;
  v.icmp6InnerDstOff = off + 24;
  v.icmpInnerSport = -1;
  v.icmpInnerDport = -1;
  v.icmpInnerL4Off = -1;
  let next = b[off + 6];
  let p = off + 40;
  let ports = true;
  for (let count = 0; count <= MAX_IP6_EXT_HEADERS; count++) {
    if (next === 0 || next === 43 || next === 60 || next === 51 || next === 44) {
      if (p + 8 > capEnd) {
        v.icmpInnerProto = next;
        v.truncated = L.ICMP6_INNER;
        v.layers |= L.ICMP6_INNER;
        return;
      }
      const n = next;
      next = b[p];
      if (n === 44) {
        // A fragment: only the first one carries the transport header.
        if ((((b[p + 2] << 8) | b[p + 3]) & 0xfff8) !== 0) ports = false;
        p += 8;
      } else p += n === 51 ? (b[p + 1] + 2) << 2 : (b[p + 1] + 1) << 3;
      continue;
    }
    break;
  }
  v.icmpInnerProto = next;
  v.icmpInnerL4Off = ports && p < capEnd ? p : -1;
  v.layers |= L.ICMP6_INNER;
  if (ports && (next === IPPROTO.TCP || next === IPPROTO.UDP)) {
    if (p + 4 > capEnd) {
      v.truncated = L.ICMP6_INNER;
      return;
    }
    v.icmpInnerSport = (b[p] << 8) | b[p + 1];
    v.icmpInnerDport = (b[p + 2] << 8) | b[p + 3];
  }
}
