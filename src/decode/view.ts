/**
 * PacketView: the decoder's reusable result. One instance per decoder, overwritten for every packet;
 * all fields are numbers (addresses as uint32 or as offsets into `buf`), initialised in the constructor in
 * a fixed order so V8 keeps one hidden class. Valid until the next decode: copy out what you keep.
 *
 * Layers present are bits in `layers`. Absent layers leave their fields at stale values: test the bit.
 */

/** Layer bits (also used as the "layer" in truncated/malformed reports). */
export const L = {
  ETH: 1 << 0,
  VLAN: 1 << 1,
  ARP: 1 << 2,
  IPV4: 1 << 3,
  IPV6: 1 << 4,
  ICMP: 1 << 5,
  ICMPV6: 1 << 6,
  TCP: 1 << 7,
  UDP: 1 << 8,
  VXLAN: 1 << 9,
  /** ICMP error quoting an original IPv4 header (icmpInner* fields valid). */
  ICMP_INNER: 1 << 10,
  /** Linux cooked header (SLL/SLL2) or NULL/LOOP header decoded instead of Ethernet. */
  LINK: 1 << 11,
  /**
   * ICMPv6 error (destination unreachable, packet too big, time exceeded, parameter problem) quoting an
   * original IPv6 header: icmp6InnerSrcOff/DstOff and icmpInnerProto/Sport/Dport valid.
   */
  ICMP6_INNER: 1 << 12,
  /** Geneve header (UDP 6081): vni, geneve* fields valid; the inner frame is in `inner`. */
  GENEVE: 1 << 13,
  /** GRE header: gre* fields valid; a payload it names (IPv4, IPv6, Ethernet, ERSPAN) is in `inner`. */
  GRE: 1 << 14,
  /** ERSPAN type I/II/III header inside GRE: erspan* fields valid; the mirrored Ethernet frame is in `inner`. */
  ERSPAN: 1 << 15,
  /** IPv4/IPv6 carried directly in IPv4/IPv6 (IP protocols 4 and 41): the inner datagram is in `inner`. */
  IPIP: 1 << 16,
} as const;

/**
 * What kind of tunnel `inner` came out of (PacketView.tunnelKind); TUNNEL_NAMES gives the text.
 * IPIP = IPv4 inside IPv4/IPv6 (protocol 4), IP6IP = IPv6 inside IPv4/IPv6 (protocol 41).
 */
export const TUNNEL = { NONE: 0, VXLAN: 1, GENEVE: 2, IPIP: 3, IP6IP: 4, GRE: 5, ERSPAN: 6 } as const;

/** Names of TUNNEL kinds, index = kind. */
export const TUNNEL_NAMES = ['', 'vxlan', 'geneve', 'ipip', 'ip6ip', 'gre', 'erspan'] as const;

/** UDP destination ports that carry a tunnel, as values of a 64 Ki-entry table (see PacketView.tunnelPorts). */
export const UDP_TUNNEL = { NONE: 0, VXLAN: 1, GENEVE: 2 } as const;

/** VXLAN's IANA port and the Linux kernel's (and flannel's) default; Geneve's port. */
export const VXLAN_PORTS: readonly number[] = [4789, 8472];
export const GENEVE_PORT = 6081;

/** Tunnels entered one inside the other before the decoder stops (a guard against crafted nesting). */
export const MAX_TUNNEL_DEPTH = 2;

/** A port table for PacketView.setTunnelPorts: the default ports plus `vxlanPorts` as VXLAN. */
export function tunnelPortTable(vxlanPorts: readonly number[] = []): Uint8Array {
  const t = new Uint8Array(65536);
  for (const p of VXLAN_PORTS) t[p] = UDP_TUNNEL.VXLAN;
  t[GENEVE_PORT] = UDP_TUNNEL.GENEVE;
  for (const p of vxlanPorts) if (Number.isInteger(p) && p > 0 && p < 65536) t[p] = UDP_TUNNEL.VXLAN;
  return t;
}

const DEFAULT_TUNNEL_PORTS = tunnelPortTable();

/** Names of layers for reports ("truncated":"tcp"). Index = bit position. */
export const LAYER_NAMES = ['eth', 'vlan', 'arp', 'ipv4', 'ipv6', 'icmp', 'icmpv6', 'tcp', 'udp', 'vxlan', 'icmp', 'link', 'icmpv6', 'geneve', 'gre', 'erspan', 'ipip'];

/** TCP flag bits as in the header's low byte + ECE/CWR (F S R P A U E C). */
export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

export const MAX_VLAN_TAGS = 4;

/**
 * Why a header was rejected (`malformedReason`); `malformedValue` carries the offending number.
 * describeProblem() in format.ts turns these into text. A malformed layer's bit is never set in `layers`.
 */
export const M = {
  NONE: 0,
  /** IPv4 header version nibble is not 4 (value: version). */
  IP4_VERSION: 1,
  /** IPv4 IHL × 4 below 20 (value: header length in bytes). */
  IP4_HDR_LEN: 2,
  /** IPv4 total length (non-zero) below the header length (value: total length). */
  IP4_TOTAL_LEN: 3,
  /** IPv6 version nibble is not 6 (value: version). */
  IP6_VERSION: 4,
  /** More extension headers than MAX_IP6_EXT_HEADERS (value: count). */
  IP6_EXT_CHAIN: 5,
  /** TCP data offset × 4 below 20 (value: header length). */
  TCP_HDR_LEN: 6,
  /** TCP header longer than the segment the IP header announces (value: header length). */
  TCP_HDR_PAST_SEGMENT: 7,
  /** UDP length field 1..7 (value: length). */
  UDP_LEN: 8,
  /** ARP that is not Ethernet/IPv4 (value: hardware type << 16 | protocol type). */
  ARP_FORMAT: 9,
  /** ARP Ethernet/IPv4 with address lengths other than 6/4 (value: hlen << 8 | plen). */
  ARP_ADDR_LEN: 10,
  /** VXLAN header without the I (valid VNI) flag (value: flags byte). */
  VXLAN_FLAGS: 11,
  /** Raw-IP link type whose first nibble is neither 4 nor 6 (value: nibble). */
  RAW_VERSION: 12,
  /** Geneve version other than 0 (value: version). */
  GENEVE_VERSION: 13,
  /** GRE version other than 0, or the routing bit set (value: flags-and-version word). */
  GRE_VERSION: 14,
  /** ERSPAN header version not the one the GRE protocol type announces (value: version field). */
  ERSPAN_VERSION: 15,
  /** Geneve options longer than the datagram, or an option running past the option area (value: bytes). */
  GENEVE_OPT_LEN: 16,
} as const;

/** Bits of PacketView.ip6ExtMask. */
export const IP6_EXT = { HOP_BY_HOP: 1, ROUTING: 2, FRAGMENT: 4, DEST_OPTS: 8, AH: 16 } as const;

/** Extension headers followed before giving up (a loop guard against crafted chains). */
export const MAX_IP6_EXT_HEADERS = 16;

export class PacketView {
  /** Buffer and frame bounds of the decoded packet (never read past base + caplen). */
  buf: Buffer = Buffer.alloc(0);
  base = 0;
  caplen = 0;
  len = 0;
  linktype = 0;
  layers = 0;

  // Ethernet (MACs are offsets into buf: dst at ethDstOff, src at ethSrcOff, 6 bytes each).
  ethDstOff = -1;
  ethSrcOff = -1;
  /** Ethertype after any VLAN tags (or the protocol from SLL/NULL headers). */
  ethType = 0;
  vlanCount = 0;
  /** VLAN ids, outermost first; vlanCount entries valid (extra tags beyond MAX_VLAN_TAGS are counted, not stored). */
  vlanIds: Uint16Array = new Uint16Array(MAX_VLAN_TAGS);
  /** Offset of the outermost VLAN tag's TCI (tag i's TCI at vlanOff + 4*i, its TPID 2 bytes before), -1 when untagged. */
  vlanOff = -1;
  /** Offset of the network-layer header (after link header and tags), -1 when none was reached. */
  l3Off = -1;

  // ARP (Ethernet/IPv4 only): hardware addresses are offsets, protocol addresses uint32.
  arpOp = 0;
  arpShaOff = -1;
  arpSpa = 0;
  arpThaOff = -1;
  arpTpa = 0;

  // IPv4 (addresses as uint32, host order of the numeric value: 10.0.0.1 === 0x0a000001).
  ip4Src = 0;
  ip4Dst = 0;
  ipProto = 0;
  ipTtl = 0;
  ipId = 0;
  ipTotalLen = 0;
  ipHdrLen = 0;
  ipDf = false;
  ipMf = false;
  /** Fragment offset in bytes (the header's 13-bit field × 8). */
  ipFragOff = 0;

  // IPv6: addresses are 16-byte runs at ip6SrcOff / ip6DstOff.
  ip6SrcOff = -1;
  ip6DstOff = -1;
  /** Upper-layer protocol after the extension-header chain (also copied to ipProto). */
  ip6Next = 0;
  ip6Hlim = 0;
  ip6Plen = 0;
  /** Fragment header: offset in bytes (-1 = no fragment header), more-fragments flag, identification. */
  ip6FragOff = -1;
  ip6FragMore = false;
  ip6FragId = 0;
  /** Extension headers seen in the chain (IP6_EXT bits), for display. */
  ip6ExtMask = 0;

  /** Offset of the L4 header (TCP/UDP/ICMP/ICMPv6), -1 when none. */
  l4Off = -1;
  sport = 0;
  dport = 0;

  // ICMP (v4)
  icmpType = 0;
  icmpCode = 0;
  /** Echo identifier/sequence: valid for echo request/reply (types 8/0) only. */
  icmpId = 0;
  icmpSeq = 0;
  /**
   * The quoted original datagram of an ICMP error (L.ICMP_INNER; proto and ports also for L.ICMP6_INNER,
   * after the quoted IPv6 extension headers). Ports are -1 when not present.
   */
  icmpInnerSrc = 0;
  icmpInnerDst = 0;
  icmpInnerProto = 0;
  icmpInnerSport = -1;
  icmpInnerDport = -1;
  /** Offset of the quoted transport header (L.ICMP_INNER / L.ICMP6_INNER), -1 when the quote ends before it. */
  icmpInnerL4Off = -1;
  /**
   * MTU an error announces: ICMP "fragmentation needed" (type 3 code 4: the next-hop MTU, header bytes 6-7),
   * ICMPv6 "packet too big" (type 2: bytes 4-7). Valid for those messages only. Read here once, for the text
   * and the flow engine alike.
   */
  icmpMtu = 0;
  /** ICMP redirect (type 5): the gateway address (uint32). */
  icmpGateway = 0;

  // ICMPv6
  icmp6Type = 0;
  icmp6Code = 0;
  /** Echo request/reply (128/129) identifier and sequence number: valid for those types only. */
  icmp6Id = 0;
  icmp6Seq = 0;
  /** NDP target address (NS/NA/redirect): offset of 16 bytes, -1 when none. */
  icmp6TargetOff = -1;
  /** Quoted source/destination addresses of an ICMPv6 error (L.ICMP6_INNER): offsets of 16 bytes. */
  icmp6InnerSrcOff = -1;
  icmp6InnerDstOff = -1;

  // TCP
  tcpSeq = 0;
  tcpAck = 0;
  tcpFlags = 0;
  tcpWin = 0;
  tcpHdrLen = 0;

  // UDP
  udpLen = 0;

  // VXLAN / Geneve
  /** VXLAN or Geneve network identifier. */
  vni = 0;
  vxlanFlags = 0;

  // Any tunnel: the generic description flows use (same for every kind).
  /** TUNNEL kind `inner` was decoded from (TUNNEL.NONE when no tunnel was entered). */
  tunnelKind = 0;
  /** The tunnel's id: VXLAN/Geneve VNI, GRE key, ERSPAN session id; -1 when the tunnel carries none. */
  tunnelId = -1;
  /** Offset of the tunnel header (VXLAN/Geneve/GRE header; the inner IP header for IP-in-IP), -1 when none. */
  tunnelOff = -1;

  // Geneve
  /** Second header byte: O (0x80, control) and C (0x40, critical options) flags. */
  geneveFlags = 0;
  /** Ethertype of the Geneve payload (0x6558 = Ethernet). */
  geneveProto = 0;
  /** Length of the options in bytes (checked against the captured bytes). */
  geneveOptLen = 0;

  // GRE (RFC 2784/2890)
  /** Flags-and-version word: C 0x8000, K 0x2000, S 0x1000, version in the low 3 bits. */
  greFlags = 0;
  /** Ethertype of the GRE payload. */
  greProto = 0;
  /** Checksum field (valid with the C flag). */
  greChecksum = 0;
  /** Key (valid with the K flag) and sequence number (valid with the S flag). */
  greKey = 0;
  greSeq = 0;
  /** GRE header length in bytes (4 + 4 per optional field). */
  greHdrLen = 0;

  // ERSPAN (draft-foschiano-erspan): type I has no header of its own.
  /** ERSPAN type: 1 (I), 2 (II), 3 (III). */
  erspanType = 0;
  erspanSession = 0;
  erspanVlan = 0;
  erspanCos = 0;
  /** Type II encapsulation type / type III BSO (2 bits), truncated flag. */
  erspanEn = 0;
  erspanTruncated = false;
  /** Type II port index. */
  erspanIndex = 0;
  /** Type III: timestamp, security group tag, hardware id, direction (1 = egress), granularity, O flag. */
  erspanTimestamp = 0;
  erspanSgt = 0;
  erspanHwId = 0;
  erspanDirection = 0;
  erspanGranularity = 0;
  erspanPlatform = false;
  /** Type III frame type: 0 = Ethernet (decoded), others left as payload. */
  erspanFrameType = 0;

  /** Application payload (after the innermost decoded L4 header), -1 offset when none. */
  payloadOff = -1;
  /** Payload bytes actually captured (buf[payloadOff .. payloadOff + payloadLen) is always readable). */
  payloadLen = 0;
  /** Payload length on the wire per the headers (what tcpdump prints as "length N"); ≥ payloadLen. */
  payloadWireLen = 0;

  /** Layer bit where the packet was cut short (0 = not truncated). */
  truncated = 0;
  /** Layer bit of a malformed header (0 = none), with a reason code and a number for the message. */
  malformed = 0;
  malformedReason = 0;
  malformedValue = 0;

  /** How many tunnels this view is inside (0 for the outer packet). */
  readonly depth: number;

  /** Which UDP destination ports carry VXLAN/Geneve (UDP_TUNNEL values); shared with the inner views. */
  tunnelPorts: Uint8Array = DEFAULT_TUNNEL_PORTS;

  /**
   * The frame a tunnel carries (tunnelKind says which), decoded into a view of its own that is reused like
   * this one; nested tunnels go MAX_TUNNEL_DEPTH deep, the innermost view's `inner` is null.
   */
  inner: PacketView | null;

  /** `levels`: tunnels entered below this view (true = MAX_TUNNEL_DEPTH, false = none). */
  constructor(levels: number | boolean = MAX_TUNNEL_DEPTH, depth = 0) {
    const n = levels === true ? MAX_TUNNEL_DEPTH : levels === false ? 0 : levels;
    this.depth = depth;
    this.inner = n > 0 ? new PacketView(n - 1, depth + 1) : null;
  }

  /** Uses `table` (from tunnelPortTable) for this view and the views inside it. */
  setTunnelPorts(table: Uint8Array): void {
    for (let v: PacketView | null = this; v !== null; v = v.inner) v.tunnelPorts = table;
  }
}
