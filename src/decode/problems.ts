/**
 * What went wrong with a decoded packet, in words ("truncated tcp", "malformed ipv4: …"), and the protocol
 * label of a packet: shared by the text lines, the JSON and the summary.
 */
import { L, LAYER_NAMES, M, MAX_IP6_EXT_HEADERS, PacketView } from './view';

export function hex(n: number, digits: number): string {
  return n.toString(16).padStart(digits, '0');
}

export function layerName(bit: number): string {
  const i = 31 - Math.clz32(bit);
  return LAYER_NAMES[i] ?? 'unknown';
}

export function malformedText(v: PacketView): string {
  const x = v.malformedValue;
  switch (v.malformedReason) {
    case M.IP4_VERSION:
      return `ipv4: version ${x} != 4`;
    case M.IP4_HDR_LEN:
      return `ipv4: header length ${x} < 20`;
    case M.IP4_TOTAL_LEN:
      return `ipv4: total length ${x} < header length ${v.ipHdrLen}`;
    case M.IP6_VERSION:
      return `ipv6: version ${x} != 6`;
    case M.IP6_EXT_CHAIN:
      return `ipv6: more than ${MAX_IP6_EXT_HEADERS} extension headers`;
    case M.TCP_HDR_LEN:
      return `tcp: header length ${x} < 20`;
    case M.TCP_HDR_PAST_SEGMENT:
      return `tcp: header length ${x} exceeds the segment`;
    case M.UDP_LEN:
      return `udp: length ${x} < 8`;
    case M.ARP_FORMAT:
      return `arp: not Ethernet/IPv4 (hardware type ${Math.floor(x / 65536)}, protocol 0x${hex(x & 0xffff, 4)})`;
    case M.ARP_ADDR_LEN:
      return `arp: address lengths ${x >> 8}/${x & 255}, expected 6/4`;
    case M.VXLAN_FLAGS:
      return `vxlan: I flag not set (flags 0x${hex(x, 2)})`;
    case M.RAW_VERSION:
      return `link: IP version ${x} is neither 4 nor 6`;
    case M.GENEVE_VERSION:
      return `geneve: version ${x} != 0`;
    case M.GENEVE_OPT_LEN:
      return `geneve: options (${x} bytes) run past the datagram`;
    case M.GRE_VERSION:
      return (x & 7) !== 0 ? `gre: version ${x & 7} != 0` : 'gre: source routing not supported';
    case M.ERSPAN_VERSION:
      return `erspan: version field ${x} does not match the GRE protocol type`;
    default:
      return `${layerName(v.malformed)}: reason ${v.malformedReason}`;
  }
}

/** "truncated tcp", "malformed ipv4: header length 12 < 20", or undefined for a clean packet. */
export function describeProblem(view: PacketView): string | undefined {
  if (view.truncated !== 0) return `truncated ${layerName(view.truncated)}`;
  if (view.malformed !== 0) return `malformed ${malformedText(view)}`;
  return undefined;
}

/** Innermost protocol label of the outer packet: arp icmp icmp6 tcp vxlan geneve erspan gre ipip udp ipv4 ipv6 other. */
export function protocolName(view: PacketView): string {
  const l = view.layers;
  if (l & L.ARP) return 'arp';
  if (l & L.ICMP) return 'icmp';
  if (l & L.ICMPV6) return 'icmp6';
  if (l & L.TCP) return 'tcp';
  if (l & L.VXLAN) return 'vxlan';
  if (l & L.GENEVE) return 'geneve';
  if (l & L.ERSPAN) return 'erspan';
  if (l & L.GRE) return 'gre';
  if (l & L.IPIP) return 'ipip';
  if (l & L.UDP) return 'udp';
  if (l & L.IPV4) return 'ipv4';
  if (l & L.IPV6) return 'ipv6';
  return 'other';
}
