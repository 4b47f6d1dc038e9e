/**
 * Text (tcpdump -nn style) and JSON renderings of a decoded PacketView. The only place where packet
 * strings are built, and only for packets that are actually printed. Reads from `view.buf` only at
 * offsets the decoder has already bounds-checked (plus explicit checks for the few extra bytes read here).
 */
import { formatTs, LinkType, type PacketRecord } from '../pcap/record';
import { ETHERTYPE } from './decode';
import { IP6_EXT, L, LAYER_NAMES, M, MAX_IP6_EXT_HEADERS, MAX_VLAN_TAGS, PacketView, TCP } from './view';

// ---------------------------------------------------------------------------------------- addresses

export function ip4ToString(u32: number): string {
  return `${(u32 >>> 24) & 255}.${(u32 >>> 16) & 255}.${(u32 >>> 8) & 255}.${u32 & 255}`;
}

/** RFC 5952: lowercase, no leading zeros, the longest (first on a tie) run of ≥ 2 zero groups as "::". */
export function ip6ToString(buf: Buffer, off: number): string {
  if (off < 0 || off + 16 > buf.length) return '?';
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((buf[off + 2 * i] << 8) | buf[off + 2 * i + 1]);
  // IPv4-mapped addresses keep the dotted tail (RFC 5952 §5).
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${ip4ToString(((g[6] << 16) | g[7]) >>> 0)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return g.map((x) => x.toString(16)).join(':');
  const head = g.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const tail = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${head}::${tail}`;
}

export function macToString(buf: Buffer, off: number): string {
  if (off < 0 || off + 6 > buf.length) return '?';
  let s = '';
  for (let i = 0; i < 6; i++) {
    const b = buf[off + i];
    s += (i ? ':' : '') + (b < 16 ? '0' : '') + b.toString(16);
  }
  return s;
}

// ---------------------------------------------------------------------------------------- problems

function hex(n: number, digits: number): string {
  return n.toString(16).padStart(digits, '0');
}

function layerName(bit: number): string {
  const i = 31 - Math.clz32(bit);
  return LAYER_NAMES[i] ?? 'unknown';
}

function malformedText(v: PacketView): string {
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

/** Innermost protocol label: arp icmp tcp udp icmp6 ipv4 ipv6 vxlan other. */
export function protocolName(view: PacketView): string {
  const l = view.layers;
  if (l & L.ARP) return 'arp';
  if (l & L.ICMP) return 'icmp';
  if (l & L.ICMPV6) return 'icmp6';
  if (l & L.TCP) return 'tcp';
  if (l & L.VXLAN) return 'vxlan';
  if (l & L.UDP) return 'udp';
  if (l & L.IPV4) return 'ipv4';
  if (l & L.IPV6) return 'ipv6';
  return 'other';
}

// ---------------------------------------------------------------------------------------- text

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** HH:MM:SS.ffffff in the local time zone, like tcpdump. */
export function formatTime(sec: number, nsec: number): string {
  const d = new Date(sec * 1000);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(Math.floor(nsec / 1000)).padStart(6, '0')}`;
}

function etherTypeName(t: number): string {
  switch (t) {
    case ETHERTYPE.IPV4:
      return 'IPv4';
    case ETHERTYPE.IPV6:
      return 'IPv6';
    case ETHERTYPE.ARP:
      return 'ARP';
    case ETHERTYPE.VLAN:
      return '802.1Q';
    case ETHERTYPE.QINQ:
      return '802.1Q-QinQ';
    case ETHERTYPE.QINQ_OLD:
      return '802.1Q-9100';
    default:
      return 'Unknown';
  }
}

function etherTypeText(t: number): string {
  return `ethertype ${etherTypeName(t)} (0x${hex(t, 4)})`;
}

/** What the link header says, tcpdump -e style (ends with ": " or ", " ready for the network layer). */
function linkText(v: PacketView): string {
  const b = v.buf;
  const o = v.base;
  const end = o + v.caplen;
  switch (v.linktype) {
    case LinkType.EN10MB: {
      if (!(v.layers & L.ETH)) return '';
      const outer = (b[o + 12] << 8) | b[o + 13];
      // Values up to 1500 are an IEEE 802.3 length (LLC frames such as STP BPDUs), not an ethertype.
      const kind = outer <= 1500 ? `802.3, length ${outer}` : `${etherTypeText(outer)}, length ${v.len}`;
      let s = `${macToString(b, o + 6)} > ${macToString(b, o)}, ${kind}: `;
      s += vlanText(v, end);
      return s;
    }
    case LinkType.LINUX_SLL: {
      if (!(v.layers & L.LINK)) return '';
      const dir = sllDirection((b[o] << 8) | b[o + 1]);
      const halen = (b[o + 4] << 8) | b[o + 5];
      const addr = halen === 6 ? `${macToString(b, o + 6)} ` : '';
      const proto = (b[o + 14] << 8) | b[o + 15];
      return `${dir} ${addr}${etherTypeText(proto)}, length ${v.len}: ${vlanText(v, end)}`;
    }
    case LinkType.LINUX_SLL2: {
      if (!(v.layers & L.LINK)) return '';
      const dir = sllDirection(b[o + 10]);
      const ifindex = ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0;
      const addr = b[o + 11] === 6 ? `${macToString(b, o + 12)} ` : '';
      const proto = (b[o] << 8) | b[o + 1];
      return `${dir} ifindex ${ifindex} ${addr}${etherTypeText(proto)}, length ${v.len}: ${vlanText(v, end)}`;
    }
    case LinkType.NULL:
    case LinkType.LOOP: {
      if (!(v.layers & L.LINK)) return '';
      let family = b[o] | (b[o + 1] << 8);
      if ((b[o + 2] | b[o + 3]) !== 0) family = (b[o + 2] << 8) | b[o + 3];
      const name = v.ethType === ETHERTYPE.IPV4 ? 'IPv4' : v.ethType === ETHERTYPE.IPV6 ? 'IPv6' : 'Unknown';
      return `AF ${name} (${family}), length ${v.len}: `;
    }
    case LinkType.RAW:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return 'ip: ';
    default:
      return `linktype ${v.linktype}, length ${v.len}: `;
  }
}

function sllDirection(pkttype: number): string {
  switch (pkttype) {
    case 0:
      return 'In';
    case 1:
      return 'B';
    case 2:
      return 'M';
    case 3:
      return 'P';
    case 4:
      return 'Out';
    default:
      return `pkttype ${pkttype}`;
  }
}

function vlanText(v: PacketView, end: number): string {
  const b = v.buf;
  let s = '';
  const n = v.vlanCount < MAX_VLAN_TAGS ? v.vlanCount : MAX_VLAN_TAGS;
  for (let i = 0; i < n; i++) {
    const p = v.vlanOff + 4 * i;
    if (p + 4 > end) break;
    const tci = (b[p] << 8) | b[p + 1];
    const next = (b[p + 2] << 8) | b[p + 3];
    s += `vlan ${tci & 0xfff}, p ${tci >> 13}, ${etherTypeText(next)}, `;
  }
  return s;
}

function tcpFlagsText(f: number): string {
  let s = '';
  if (f & TCP.FIN) s += 'F';
  if (f & TCP.SYN) s += 'S';
  if (f & TCP.RST) s += 'R';
  if (f & TCP.PSH) s += 'P';
  if (f & TCP.ACK) s += '.';
  if (f & TCP.URG) s += 'U';
  if (f & TCP.ECE) s += 'E';
  if (f & TCP.CWR) s += 'W';
  return s === '' ? 'none' : s;
}

/** JSON flag letters F S R P A U E C, in that order. */
function tcpFlagsLetters(f: number): string {
  const letters = 'FSRPAUEC';
  let s = '';
  for (let i = 0; i < 8; i++) if (f & (1 << i)) s += letters[i];
  return s;
}

function u32At(b: Buffer, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

/** tcpdump-style option list ("mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7"); '' when none. */
function tcpOptionsText(v: PacketView): string {
  const b = v.buf;
  let p = v.l4Off + 20;
  const end = v.l4Off + v.tcpHdrLen;
  const out: string[] = [];
  while (p < end) {
    const kind = b[p];
    if (kind === 0) {
      out.push('eol');
      break;
    }
    if (kind === 1) {
      out.push('nop');
      p++;
      continue;
    }
    if (p + 1 >= end) {
      out.push('bad opt');
      break;
    }
    const olen = b[p + 1];
    if (olen < 2 || p + olen > end) {
      out.push('bad opt');
      break;
    }
    if (kind === 2 && olen === 4) out.push(`mss ${(b[p + 2] << 8) | b[p + 3]}`);
    else if (kind === 3 && olen === 3) out.push(`wscale ${b[p + 2]}`);
    else if (kind === 4 && olen === 2) out.push('sackOK');
    else if (kind === 5 && (olen - 2) % 8 === 0) {
      let s = `sack ${(olen - 2) / 8}`;
      for (let q = p + 2; q < p + olen; q += 8) s += ` {${u32At(b, q)}:${u32At(b, q + 4)}}`;
      out.push(s);
    } else if (kind === 8 && olen === 10) out.push(`TS val ${u32At(b, p + 2)} ecr ${u32At(b, p + 6)}`);
    else out.push(`unknown-${kind}`);
    p += olen;
  }
  return out.join(',');
}

function tcpText(v: PacketView): string {
  const f = v.tcpFlags;
  const len = v.payloadWireLen;
  let s = `Flags [${tcpFlagsText(f)}]`;
  if (len > 0 || f & (TCP.SYN | TCP.FIN | TCP.RST)) {
    s += `, seq ${v.tcpSeq}`;
    if (len > 0) s += `:${(v.tcpSeq + len) >>> 0}`;
  }
  if (f & TCP.ACK) s += `, ack ${v.tcpAck}`;
  s += `, win ${v.tcpWin}`;
  if (f & TCP.URG) s += `, urg ${(v.buf[v.l4Off + 18] << 8) | v.buf[v.l4Off + 19]}`;
  if (v.tcpHdrLen > 20) s += `, options [${tcpOptionsText(v)}]`;
  return `${s}, length ${len}`;
}

function udpText(v: PacketView, ether: boolean): string {
  if (v.layers & L.VXLAN) {
    let s = `VXLAN, flags [I] (0x${hex(v.vxlanFlags, 2)}), vni ${v.vni}`;
    const inner = v.inner;
    if (inner !== null) s += `\n${frameText(inner, ether)}`;
    return s;
  }
  return `UDP, length ${v.udpLen >= 8 ? v.udpLen - 8 : v.payloadWireLen}`;
}

function icmpUnreachText(v: PacketView): string {
  const dst = ip4ToString(v.icmpInnerDst);
  switch (v.icmpCode) {
    case 0:
      return `net ${dst} unreachable`;
    case 1:
      return `host ${dst} unreachable`;
    case 2:
      return `${dst} protocol ${v.icmpInnerProto} unreachable`;
    case 3: {
      const p = v.icmpInnerProto === 6 ? 'tcp' : v.icmpInnerProto === 17 ? 'udp' : `proto ${v.icmpInnerProto}`;
      return v.icmpInnerDport >= 0 ? `${dst} ${p} port ${v.icmpInnerDport} unreachable` : `${dst} ${p} port unreachable`;
    }
    case 4: {
      const b = v.buf;
      const mtu = (b[v.l4Off + 6] << 8) | b[v.l4Off + 7];
      return `${dst} unreachable - need to frag (mtu ${mtu})`;
    }
    case 5:
      return `${dst} unreachable - source route failed`;
    case 9:
    case 10:
    case 13:
      return `${dst} unreachable - admin prohibited${v.icmpCode === 13 ? ' filter' : ''}`;
    default:
      return `${dst} unreachable - code ${v.icmpCode}`;
  }
}

function icmpText(v: PacketView): string {
  const len = v.payloadWireLen + 8;
  const hasInner = (v.layers & L.ICMP_INNER) !== 0;
  let s: string;
  switch (v.icmpType) {
    case 0:
    case 8:
      s = `echo ${v.icmpType === 8 ? 'request' : 'reply'}, id ${v.icmpId}, seq ${v.icmpSeq}`;
      break;
    case 3:
      s = hasInner ? icmpUnreachText(v) : `destination unreachable, code ${v.icmpCode}`;
      break;
    case 4:
      s = 'source quench';
      break;
    case 5: {
      const kind = ['net', 'host', 'tos-net', 'tos-host'][v.icmpCode] ?? `code-${v.icmpCode}`;
      const gw = ip4ToString(u32At(v.buf, v.l4Off + 4));
      s = hasInner ? `redirect ${ip4ToString(v.icmpInnerDst)} to ${kind} ${gw}` : `redirect to ${kind} ${gw}`;
      break;
    }
    case 9:
      s = 'router advertisement';
      break;
    case 10:
      s = 'router solicitation';
      break;
    case 11:
      s = v.icmpCode === 1 ? 'ip reassembly time exceeded' : 'time exceeded in-transit';
      break;
    case 12:
      s = `parameter problem - octet ${v.buf[v.l4Off + 4]}`;
      break;
    case 13:
      s = 'time stamp query';
      break;
    case 14:
      s = 'time stamp reply';
      break;
    default:
      s = `type-#${v.icmpType}`;
      break;
  }
  s = `ICMP ${s}, length ${len}`;
  if (hasInner) {
    const p = v.icmpInnerProto;
    const pname = p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 1 ? 'icmp' : `ip-proto-${p}`;
    const ports = v.icmpInnerSport >= 0;
    const src = ip4ToString(v.icmpInnerSrc) + (ports ? `.${v.icmpInnerSport}` : '');
    const dst = ip4ToString(v.icmpInnerDst) + (ports ? `.${v.icmpInnerDport}` : '');
    s += `, quoted ${src} > ${dst} ${pname}`;
  }
  return s;
}

function icmp6Text(v: PacketView): string {
  const b = v.buf;
  const o = v.l4Off;
  const len = v.payloadWireLen + 8;
  let s: string;
  switch (v.icmp6Type) {
    case 1:
      s = `destination unreachable, code ${v.icmp6Code}`;
      break;
    case 2:
      s = `packet too big, mtu ${u32At(b, o + 4)}`;
      break;
    case 3:
      s = v.icmp6Code === 1 ? 'time exceeded in-reassembly' : 'time exceeded in-transit';
      break;
    case 4:
      s = `parameter problem, code ${v.icmp6Code}, pointer ${u32At(b, o + 4)}`;
      break;
    case 128:
    case 129:
      s = `echo ${v.icmp6Type === 128 ? 'request' : 'reply'}, id ${(b[o + 4] << 8) | b[o + 5]}, seq ${(b[o + 6] << 8) | b[o + 7]}`;
      break;
    case 130:
      s = 'multicast listener query';
      break;
    case 131:
      s = 'multicast listener report';
      break;
    case 132:
      s = 'multicast listener done';
      break;
    case 133:
      s = 'router solicitation';
      break;
    case 134:
      s = 'router advertisement';
      break;
    case 135:
      s = `neighbor solicitation, who has ${ip6ToString(b, v.icmp6TargetOff)}`;
      break;
    case 136:
      s = `neighbor advertisement, tgt is ${ip6ToString(b, v.icmp6TargetOff)}`;
      break;
    case 137:
      s = `redirect, ${ip6ToString(b, v.icmp6TargetOff)} to ${ip6ToString(b, v.icmp6TargetOff + 16)}`;
      break;
    case 143:
      s = 'multicast listener report v2';
      break;
    default:
      s = `unknown icmp6 type (${v.icmp6Type})`;
      break;
  }
  return `ICMP6, ${s}, length ${len}`;
}

/** The transport part after "src > dst: " (also used for the v6 fragment case). */
function l4Text(v: PacketView, ether: boolean): string {
  const l = v.layers;
  if (l & L.TCP) return tcpText(v);
  if (l & L.UDP) return udpText(v, ether);
  if (l & L.ICMP) return icmpText(v);
  if (l & L.ICMPV6) return icmp6Text(v);
  return '';
}

function ipv4Text(v: PacketView, ether: boolean): string {
  const ports = (v.layers & (L.TCP | L.UDP)) !== 0;
  const src = ip4ToString(v.ip4Src) + (ports ? `.${v.sport}` : '');
  const dst = ip4ToString(v.ip4Dst) + (ports ? `.${v.dport}` : '');
  let body: string;
  if (v.ipFragOff !== 0) {
    body = `ip-proto-${v.ipProto}, frag id ${v.ipId}, offset ${v.ipFragOff}, length ${v.payloadWireLen}${v.ipMf ? ', more fragments' : ''}`;
  } else {
    body = l4Text(v, ether);
    if (body === '' && v.truncated === 0 && v.malformed === 0) body = `ip-proto-${v.ipProto} ${v.payloadWireLen}`;
    if (v.ipMf) body += `${body ? ', ' : ''}frag id ${v.ipId}, offset 0, more fragments`;
  }
  return `${src} > ${dst}: ${body}`;
}

function ipv6Text(v: PacketView, ether: boolean): string {
  const b = v.buf;
  const ports = (v.layers & (L.TCP | L.UDP)) !== 0;
  const srcA = ip6ToString(b, v.ip6SrcOff);
  const dstA = ip6ToString(b, v.ip6DstOff);
  let rest = l4Text(v, ether);
  if (rest === '' && v.truncated === 0 && v.malformed === 0 && v.ip6FragOff <= 0) {
    rest = `ip-proto-${v.ip6Next} ${v.payloadWireLen}`;
  }
  const ext = v.ip6ExtMask;
  if (ext === 0) {
    const src = srcA + (ports ? `.${v.sport}` : '');
    const dst = dstA + (ports ? `.${v.dport}` : '');
    return `${src} > ${dst}: ${rest}`;
  }
  // tcpdump names the extension headers after the addresses, then prints the ports on their own.
  let s = `${srcA} > ${dstA}:`;
  if (ext & IP6_EXT.HOP_BY_HOP) s += ' HBH';
  if (ext & IP6_EXT.DEST_OPTS) s += ' DSTOPT';
  if (ext & IP6_EXT.ROUTING) s += ' srcrt';
  if (ext & IP6_EXT.AH) s += ' AH';
  if (ext & IP6_EXT.FRAGMENT) {
    // "frag (offset|bytes after the fragment header)"
    const fragLen = v.l4Off >= 0 ? v.payloadWireLen + (v.payloadOff - v.l4Off) : v.payloadWireLen;
    s += ` frag (${v.ip6FragOff}|${fragLen})`;
  }
  if (ports) s += ` ${v.sport} > ${v.dport}:`;
  return rest ? `${s} ${rest}` : s;
}

function arpText(v: PacketView): string {
  const len = v.len - (v.l3Off - v.base);
  const spa = ip4ToString(v.arpSpa);
  const tpa = ip4ToString(v.arpTpa);
  switch (v.arpOp) {
    case 1:
      return `Request who-has ${tpa} tell ${spa}, length ${len}`;
    case 2:
      return `Reply ${spa} is-at ${macToString(v.buf, v.arpShaOff)}, length ${len}`;
    default:
      return `opcode ${v.arpOp} ${spa} > ${tpa}, length ${len}`;
  }
}

/** An 802.3 frame (length instead of ethertype): spanning-tree BPDUs are named, other LLC frames counted. */
function llcText(v: PacketView): string {
  const b = v.buf;
  const p = v.payloadOff;
  if (p >= 0 && v.payloadLen >= 3 && b[p] === 0x42 && b[p + 1] === 0x42) return `STP, length ${v.ethType - 3}`;
  return `802.3, length ${v.ethType}`;
}

/** One frame without the timestamp; a VXLAN frame includes its inner frame after a newline. */
function frameText(v: PacketView, ether: boolean): string {
  const l = v.layers;
  let s = ether ? linkText(v) : '';
  if (l & L.IPV4) s += (ether ? '' : 'IP ') + ipv4Text(v, ether);
  else if (l & L.IPV6) s += (ether ? '' : 'IP6 ') + ipv6Text(v, ether);
  else if (l & L.ARP) s += (ether ? '' : 'ARP, ') + arpText(v);
  else if (l & L.ETH && v.vlanCount === 0 && v.ethType <= 1500) s += llcText(v);
  else if (!ether) {
    // Nothing above the link layer: say what the link layer carried.
    switch (v.ethType) {
      case ETHERTYPE.IPV4:
        s += 'IP';
        break;
      case ETHERTYPE.IPV6:
        s += 'IP6';
        break;
      case ETHERTYPE.ARP:
        s += 'ARP';
        break;
      default:
        if (l & (L.ETH | L.LINK)) s += `${etherTypeText(v.ethType)}, length ${v.len}`;
        else if (v.truncated === 0 && v.malformed === 0) s += `linktype ${v.linktype}, length ${v.len}`;
        break;
    }
  }
  if (v.truncated !== 0) s += `${s && !s.endsWith(' ') ? ' ' : ''}[|${layerName(v.truncated)}]`;
  else if (v.malformed !== 0) s += `${s && !s.endsWith(' ') ? ' ' : ''}[malformed ${malformedText(v)}]`;
  return s.endsWith(': ') ? s.slice(0, -2) : s;
}

/** A tcpdump -nn style line ("-e" with opts.ether). VXLAN packets yield two lines joined by "\n". */
export function formatLine(view: PacketView, rec: PacketRecord, opts?: { ether?: boolean }): string {
  return `${formatTime(rec.tsSec, rec.tsNsec)} ${frameText(view, opts?.ether === true)}`;
}

// ---------------------------------------------------------------------------------------- JSON

function layersJson(v: PacketView): string {
  const b = v.buf;
  const l = v.layers;
  const parts: string[] = [];
  if (l & L.ETH) {
    let eth = `"src":"${macToString(b, v.ethSrcOff)}","dst":"${macToString(b, v.ethDstOff)}","type":${v.ethType}`;
    if (v.vlanCount > 0) {
      const n = v.vlanCount < MAX_VLAN_TAGS ? v.vlanCount : MAX_VLAN_TAGS;
      const ids: number[] = [];
      for (let i = 0; i < n; i++) ids.push(v.vlanIds[i]);
      eth += `,"vlan":[${ids.join(',')}]`;
    }
    parts.push(`"eth":{${eth}}`);
  }
  if (l & L.ARP) {
    parts.push(
      `"arp":{"op":${v.arpOp},"sha":"${macToString(b, v.arpShaOff)}","spa":"${ip4ToString(v.arpSpa)}",` +
        `"tha":"${macToString(b, v.arpThaOff)}","tpa":"${ip4ToString(v.arpTpa)}"}`,
    );
  }
  if (l & L.IPV4) {
    parts.push(
      `"ipv4":{"src":"${ip4ToString(v.ip4Src)}","dst":"${ip4ToString(v.ip4Dst)}","proto":${v.ipProto},"ttl":${v.ipTtl},` +
        `"id":${v.ipId},"len":${v.ipTotalLen},"hlen":${v.ipHdrLen},"df":${v.ipDf},"mf":${v.ipMf},"frag":${v.ipFragOff}}`,
    );
  }
  if (l & L.IPV6) {
    parts.push(
      `"ipv6":{"src":"${ip6ToString(b, v.ip6SrcOff)}","dst":"${ip6ToString(b, v.ip6DstOff)}","next":${v.ip6Next},` +
        `"hlim":${v.ip6Hlim},"plen":${v.ip6Plen}}`,
    );
  }
  if (l & L.ICMP) {
    let s = `"type":${v.icmpType},"code":${v.icmpCode}`;
    if (v.icmpType === 0 || v.icmpType === 8) s += `,"id":${v.icmpId},"seq":${v.icmpSeq}`;
    if (l & L.ICMP_INNER) {
      s += `,"inner":{"src":"${ip4ToString(v.icmpInnerSrc)}","dst":"${ip4ToString(v.icmpInnerDst)}","proto":${v.icmpInnerProto}`;
      if (v.icmpInnerSport >= 0) s += `,"sport":${v.icmpInnerSport},"dport":${v.icmpInnerDport}`;
      s += '}';
    }
    parts.push(`"icmp":{${s}}`);
  }
  if (l & L.ICMPV6) {
    let s = `"type":${v.icmp6Type},"code":${v.icmp6Code}`;
    if (v.icmp6TargetOff >= 0) s += `,"target":"${ip6ToString(b, v.icmp6TargetOff)}"`;
    parts.push(`"icmpv6":{${s}}`);
  }
  if (l & L.TCP) {
    parts.push(
      `"tcp":{"sport":${v.sport},"dport":${v.dport},"seq":${v.tcpSeq},"ack":${v.tcpAck},` +
        `"flags":"${tcpFlagsLetters(v.tcpFlags)}","win":${v.tcpWin},"hlen":${v.tcpHdrLen}}`,
    );
  }
  if (l & L.UDP) parts.push(`"udp":{"sport":${v.sport},"dport":${v.dport},"len":${v.udpLen}}`);
  if (l & L.VXLAN) {
    let s = `"vni":${v.vni}`;
    if (v.inner !== null) s += `,"inner":{${layersJson(v.inner)}}`;
    parts.push(`"vxlan":{${s}}`);
  }
  if (v.truncated !== 0) parts.push(`"truncated":"${layerName(v.truncated)}"`);
  else if (v.malformed !== 0) parts.push(`"malformed":${JSON.stringify(malformedText(v))}`);
  return parts.join(',');
}

/** One JSON object (no trailing newline) in the schema of docs/json-schema.md; n is the 1-based frame number. */
export function toJson(view: PacketView, rec: PacketRecord, n: number): string {
  let s = `{"n":${n},"ts":"${formatTs(rec.tsSec, rec.tsNsec)}","caplen":${rec.caplen},"len":${rec.len}`;
  if (rec.iface !== undefined) s += `,"iface":${JSON.stringify(rec.iface)}`;
  const layers = layersJson(view);
  return layers ? `${s},${layers}}` : `${s}}`;
}
