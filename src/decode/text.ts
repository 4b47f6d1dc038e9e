/**
 * tcpdump -nn text of a decoded PacketView (formatLine, writeLine), with tcpdump's options that change it
 * (-e, -S, -q, -t…, -x/-X). The only place where packet lines are built, and only for packets that are
 * printed. Reads from `view.buf` only at offsets the decoder has already bounds-checked (plus explicit
 * checks for the few extra bytes read here).
 */
import fs from 'fs';
import { LinkType, type PacketRecord } from '../pcap/record';
import { ip4ToString, ip6ToString, macToString } from './addr';
import { ETHERTYPE } from './decode';
import { asciiBytes, HEX2, LineBuffer } from './lineBuffer';
import { hex, layerName, malformedText } from './problems';
import type { TcpSeqTable } from './tcpSeq';
import { IP6_EXT, L, MAX_VLAN_TAGS, PacketView, TCP } from './view';

/** The constant pieces of the common lines. */
const T = {
  GT: asciiBytes(' > '),
  COLON: asciiBytes(': '),
  LENGTH: asciiBytes(', length '),
  SEQ: asciiBytes(', seq '),
  ACK: asciiBytes(', ack '),
  WIN: asciiBytes(', win '),
  OPTIONS: asciiBytes(', options ['),
  NOP: asciiBytes('nop'),
  TS_VAL: asciiBytes('TS val '),
  ECR: asciiBytes(' ecr '),
  MSS: asciiBytes('mss '),
  WSCALE: asciiBytes('wscale '),
  SACK_OK: asciiBytes('sackOK'),
  IP: asciiBytes('IP '),
  IP6: asciiBytes('IP6 '),
  ICMP: asciiBytes('ICMP '),
  UDP_LENGTH: asciiBytes('UDP, length '),
  VXLAN: asciiBytes('VXLAN, flags [I] (0x'),
  VNI: asciiBytes('), vni '),
  ARP: asciiBytes('ARP, '),
  WHO_HAS: asciiBytes('Request who-has '),
  TELL: asciiBytes(' tell '),
  REPLY: asciiBytes('Reply '),
  IS_AT: asciiBytes(' is-at '),
  NOP_NOP_TS_VAL: asciiBytes('nop,nop,TS val '),
  ECHO_REQUEST: asciiBytes('echo request, id '),
  ECHO_REPLY: asciiBytes('echo reply, id '),
};

/**
 * Relative TCP sequence numbers for the line being written (null: absolute, as tcpdump -S). Set by
 * writeLine/formatLine for the duration of one line.
 */
let seqTable: TcpSeqTable | null = null;
/** tcpdump -q: TCP as "tcp LEN", UDP without what it carries. Set like seqTable. */
let quiet = false;

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

// "HH:MM:SS." of the last second formatted: consecutive packets mostly share their second, and a Date
// with four local-time getters per packet was a quarter of the cost of a line. Keyed by the exact second,
// so local time (DST changes included) stays right. The process's time zone is assumed not to change
// while it runs (it is read from TZ at startup).
let prefixSec = NaN;
let prefix = '';
let prefixBytes: Uint8Array = new Uint8Array(0);

function secondPrefix(sec: number): string {
  if (sec !== prefixSec) {
    const d = new Date(sec * 1000);
    prefix = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.`;
    prefixBytes = asciiBytes(prefix);
    prefixSec = sec;
  }
  return prefix;
}

/** HH:MM:SS.ffffff in the local time zone, like tcpdump. */
export function formatTime(sec: number, nsec: number): string {
  return `${secondPrefix(sec)}${String(Math.floor(nsec / 1000)).padStart(6, '0')}`;
}

function emitTime(o: LineBuffer, sec: number, nsec: number): void {
  if (sec !== prefixSec) secondPrefix(sec);
  o.bytes(prefixBytes);
  const us = Math.floor(nsec / 1000);
  if (us >= 0 && us < 1000000) o.sixDigits(us);
  else o.ascii(String(us).padStart(6, '0'));
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
      return `${dir.padStart(3)} ${addr}${etherTypeText(proto)}, length ${v.len}: ${vlanText(v, end)}`;
    }
    case LinkType.LINUX_SLL2: {
      if (!(v.layers & L.LINK)) return '';
      const ifindex = ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0;
      const addr = b[o + 11] === 6 ? `${macToString(b, o + 12)} ` : '';
      const proto = (b[o] << 8) | b[o + 1];
      return `${sll2Prefix(v)}ifindex ${ifindex} ${addr}${etherTypeText(proto)}, length ${v.len}: ${vlanText(v, end)}`;
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
      // An IP datagram out of a tunnel has no link header to show (tcpdump -e prints none either).
      return v.depth > 0 ? '' : 'ip: ';
    default:
      return `linktype ${v.linktype}, length ${v.len}: `;
  }
}

/** Interface names by index on this host (tcpdump resolves SLL2's ifindex with if_indextoname). */
const ifNames = new Map<number, string>();

function ifName(index: number): string {
  let name = ifNames.get(index);
  if (name === undefined) {
    name = '?';
    try {
      for (const n of fs.readdirSync('/sys/class/net')) {
        const i = Number(fs.readFileSync(`/sys/class/net/${n}/ifindex`, 'latin1').trim());
        if (Number.isInteger(i)) ifNames.set(i, n);
      }
      name = ifNames.get(index) ?? '?';
    } catch {
      // No sysfs: the index stays unnamed, as if_indextoname fails.
    }
    ifNames.set(index, name);
  }
  return name;
}

/** tcpdump's SLL2 line start without -e: "IFNAME DIR " padded to 5 and 3 columns. */
function sll2Prefix(v: PacketView): string {
  const b = v.buf;
  const o = v.base;
  const ifindex = ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0;
  const t = b[o + 10];
  const dir = t <= 4 ? sllDirection(t) : '?';
  return `${ifName(ifindex).padEnd(5)} ${dir.padEnd(3)} `;
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

/** "Flags [S.]" for every flag byte, built once. */
const TCP_FLAGS: Uint8Array[] = [];
for (let f = 0; f < 256; f++) TCP_FLAGS.push(asciiBytes(`Flags [${tcpFlagsText(f)}]`));

/** JSON flag letters F S R P A U E C, in that order. */
export function tcpFlagsLetters(f: number): string {
  const letters = 'FSRPAUEC';
  let s = '';
  for (let i = 0; i < 8; i++) if (f & (1 << i)) s += letters[i];
  return s;
}

function u32At(b: Buffer, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

/** tcpdump-style option list ("mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7"); nothing when none. */
function emitTcpOptions(o: LineBuffer, v: PacketView, table: TcpSeqTable | null): void {
  // tcpdump prints SACK blocks relative to the base of the direction they acknowledge.
  const sackBase = table === null ? 0 : table.rev ? table.thSeq : table.thAck;
  const b = v.buf;
  let p = v.l4Off + 20;
  const end = v.l4Off + v.tcpHdrLen;
  let first = true;
  while (p < end) {
    if (first) first = false;
    else o.byte(44);
    // NOP, NOP, timestamps: what Linux puts on every segment after the handshake, in one piece.
    if (end - p >= 12 && b[p] === 1 && b[p + 1] === 1 && b[p + 2] === 8 && b[p + 3] === 10) {
      o.bytes(T.NOP_NOP_TS_VAL);
      o.num(u32At(b, p + 4));
      o.bytes(T.ECR);
      o.num(u32At(b, p + 8));
      p += 12;
      continue;
    }
    const kind = b[p];
    if (kind === 0) {
      o.ascii('eol');
      break;
    }
    if (kind === 1) {
      o.bytes(T.NOP);
      p++;
      continue;
    }
    if (p + 1 >= end) {
      o.ascii('bad opt');
      break;
    }
    const olen = b[p + 1];
    if (olen < 2 || p + olen > end) {
      o.ascii('bad opt');
      break;
    }
    if (kind === 2 && olen === 4) {
      o.bytes(T.MSS);
      o.num((b[p + 2] << 8) | b[p + 3]);
    } else if (kind === 3 && olen === 3) {
      o.bytes(T.WSCALE);
      o.num(b[p + 2]);
    } else if (kind === 4 && olen === 2) {
      o.bytes(T.SACK_OK);
    } else if (kind === 5 && (olen - 2) % 8 === 0) {
      o.ascii('sack ');
      o.num((olen - 2) / 8);
      for (let q = p + 2; q < p + olen; q += 8) {
        o.ascii(' {');
        o.num((u32At(b, q) - sackBase) >>> 0);
        o.byte(58);
        o.num((u32At(b, q + 4) - sackBase) >>> 0);
        o.byte(125);
      }
    } else if (kind === 8 && olen === 10) {
      o.bytes(T.TS_VAL);
      o.num(u32At(b, p + 2));
      o.bytes(T.ECR);
      o.num(u32At(b, p + 6));
    } else {
      o.ascii('unknown-');
      o.num(kind);
    }
    p += olen;
  }
}

function emitTcp(o: LineBuffer, v: PacketView): void {
  const f = v.tcpFlags;
  const len = v.payloadWireLen;
  if (quiet) {
    o.ascii('tcp ');
    o.num(len);
    return;
  }
  let seq = v.tcpSeq;
  let ack = v.tcpAck;
  const table = seqTable;
  if (table !== null) {
    table.relate(v);
    seq = table.seq;
    ack = table.ack;
  }
  if (f >= 0 && f < 256) o.bytes(TCP_FLAGS[f]);
  else o.ascii(`Flags [${tcpFlagsText(f)}]`);
  if (len > 0 || f & (TCP.SYN | TCP.FIN | TCP.RST)) {
    o.bytes(T.SEQ);
    o.num(seq);
    if (len > 0) {
      o.byte(58);
      o.num((seq + len) >>> 0);
    }
  }
  if (f & TCP.ACK) {
    o.bytes(T.ACK);
    o.num(ack);
  }
  o.bytes(T.WIN);
  o.num(v.tcpWin);
  if (f & TCP.URG) {
    o.ascii(', urg ');
    o.num((v.buf[v.l4Off + 18] << 8) | v.buf[v.l4Off + 19]);
  }
  if (v.tcpHdrLen > 20) {
    o.bytes(T.OPTIONS);
    emitTcpOptions(o, v, table);
    o.byte(93);
  }
  o.bytes(T.LENGTH);
  o.num(len);
  if (len > 0 && v.payloadLen > 0 && isHttpPort(v.sport, v.dport)) emitHttp(o, v);
}

/** Ports tcpdump hands to its HTTP printer (80, 8080, 3128 proxy). */
const T_HTTP = asciiBytes(': HTTP');

function isHttpPort(a: number, b: number): boolean {
  return a === 80 || b === 80 || a === 8080 || b === 8080 || a === 3128 || b === 3128;
}

/** Request methods tcpdump's HTTP printer recognises (print-http.c httpcmds). */
const HTTP_METHODS = new Set([
  'GET', 'PUT', 'COPY', 'HEAD', 'LOCK', 'MOVE', 'POLL', 'POST', 'BCOPY', 'BMOVE', 'MKCOL', 'TRACE', 'LABEL', 'MERGE',
  'DELETE', 'SEARCH', 'UNLOCK', 'REPORT', 'UPDATE', 'NOTIFY', 'BDELETE', 'CONNECT', 'OPTIONS', 'CHECKIN', 'PROPFIND',
  'CHECKOUT', 'CANCELUPLOAD', 'PATCH', 'PROPPATCH', 'VERSION-CONTROL', 'UNCHECKOUT', 'MKWORKSPACE', 'MKACTIVITY',
  'BASELINE-CONTROL', 'SUBSCRIBE', 'UNSUBSCRIBE', 'POLL', 'BPROPFIND', 'BPROPPATCH',
]);

/**
 * tcpdump -nn's HTTP marker (print-http.c via txtproto_print): ": HTTP", and ": METHOD … HTTP/1.1" / ": HTTP/1.1
 * 200 OK" when the segment starts with a request or status line.
 */
function emitHttp(o: LineBuffer, v: PacketView): void {
  o.bytes(T_HTTP);
  const b = v.buf;
  const start = v.payloadOff;
  const end = start + v.payloadLen;
  // The first token: a method or "HTTP/x.y", uppercase letters, digits, '-', '/', '.', up to 20 bytes.
  // Most segments (bodies) fail here after a byte or two: no string is made for them.
  let sp = -1;
  for (let p = start; p < end && p < start + 20; p++) {
    const c = b[p];
    if (c === 32) {
      sp = p;
      break;
    }
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 47 || c === 46)) return;
  }
  if (sp <= start) return;
  const first = b.toString('latin1', start, sp);
  const isRequest = HTTP_METHODS.has(first);
  if (!isRequest && !/^HTTP\/\d\.\d$/.test(first)) return;
  let eol = -1;
  for (let p = sp; p < end; p++) {
    const ch = b[p];
    if (ch === 10 || (ch === 13 && p + 1 < end && b[p + 1] === 10)) {
      eol = p;
      break;
    }
    if ((ch < 32 && ch !== 9) || ch > 126) return;
  }
  if (eol < 0) return;
  const line = b.toString('latin1', start, eol);
  if (!isRequest && !/^\d{3}(\s|$)/.test(line.slice(sp - start + 1))) return;
  o.bytes(T.COLON);
  o.ascii(line);
}

function emitUdp(o: LineBuffer, v: PacketView, ether: boolean): void {
  if (quiet) {
    o.bytes(T.UDP_LENGTH);
    o.num(v.udpLen >= 8 ? v.udpLen - 8 : v.payloadWireLen);
    return;
  }
  if (v.layers & L.GENEVE) {
    emitGeneve(o, v, ether);
    return;
  }
  if (v.layers & L.VXLAN) {
    const fl = v.vxlanFlags;
    o.bytes(T.VXLAN);
    o.ascii(fl >= 0 && fl < 256 ? HEX2[fl] : hex(fl, 2));
    o.bytes(T.VNI);
    o.num(v.vni);
    const inner = v.inner;
    if (inner !== null) {
      o.byte(10);
      emitFrame(o, inner, ether);
    }
    return;
  }
  o.bytes(T.UDP_LENGTH);
  o.num(v.udpLen >= 8 ? v.udpLen - 8 : v.payloadWireLen);
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
      return `${dst} unreachable - need to frag (mtu ${v.icmpMtu})`;
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

/** What an ICMP message other than echo request/reply is ("time exceeded in-transit"). */
function icmpKindText(v: PacketView, hasInner: boolean): string {
  switch (v.icmpType) {
    case 3:
      return hasInner ? icmpUnreachText(v) : `destination unreachable, code ${v.icmpCode}`;
    case 4:
      return 'source quench';
    case 5: {
      const kind = ['net', 'host', 'tos-net', 'tos-host'][v.icmpCode] ?? `code-${v.icmpCode}`;
      const gw = ip4ToString(v.icmpGateway);
      return hasInner ? `redirect ${ip4ToString(v.icmpInnerDst)} to ${kind} ${gw}` : `redirect to ${kind} ${gw}`;
    }
    case 9:
      return 'router advertisement';
    case 10:
      return 'router solicitation';
    case 11:
      return v.icmpCode === 1 ? 'ip reassembly time exceeded' : 'time exceeded in-transit';
    case 12:
      return `parameter problem - octet ${v.buf[v.l4Off + 4]}`;
    case 13:
      return 'time stamp query';
    case 14:
      return 'time stamp reply';
    default:
      return `type-#${v.icmpType}`;
  }
}

function emitIcmp(o: LineBuffer, v: PacketView): void {
  const hasInner = (v.layers & L.ICMP_INNER) !== 0;
  const t = v.icmpType;
  o.bytes(T.ICMP);
  if (t === 0 || t === 8) {
    o.bytes(t === 8 ? T.ECHO_REQUEST : T.ECHO_REPLY);
    o.num(v.icmpId);
    o.bytes(T.SEQ);
    o.num(v.icmpSeq);
  } else {
    o.ascii(icmpKindText(v, hasInner));
  }
  o.bytes(T.LENGTH);
  o.num(v.payloadWireLen + 8);
}

/** Parameter problem codes 0..3 as tcpdump names them. */
const ICMP6_PARAM_PROBLEMS = ['erroneous', 'next header', 'option', 'incomplete header chain'];

/** A destination unreachable's code and the quoted destination, as tcpdump writes them. */
function icmp6UnreachText(v: PacketView): string {
  const b = v.buf;
  const quoted = (v.layers & L.ICMP6_INNER) !== 0;
  const dst = quoted ? ` ${ip6ToString(b, v.icmp6InnerDstOff)}` : '';
  switch (v.icmp6Code) {
    case 0:
      return `unreachable route${dst}`;
    case 1:
      return ` unreachable prohibited${dst}`; // sic: tcpdump's name starts with a space
    case 2:
      return quoted ? `beyond scope${dst}, source address ${ip6ToString(b, v.icmp6InnerSrcOff)}` : 'beyond scope';
    case 3:
      return `unreachable address${dst}`;
    case 4: {
      if (!quoted) return 'unreachable port';
      const p = v.icmpInnerProto;
      const name = p === 6 ? ' tcp' : p === 17 ? ' udp' : ` protocol ${p}`;
      return v.icmpInnerDport >= 0 ? `unreachable port,${dst}${name} port ${v.icmpInnerDport}` : `unreachable port,${dst}${name}`;
    }
    default:
      return `unknown unreach code (${v.icmp6Code})`;
  }
}

function icmp6Text(v: PacketView): string {
  const b = v.buf;
  const o = v.l4Off;
  const len = v.payloadWireLen + 8;
  let s: string;
  switch (v.icmp6Type) {
    case 1:
      s = `destination unreachable, ${icmp6UnreachText(v)}`;
      break;
    case 2:
      s = `packet too big, mtu ${v.icmpMtu}`;
      break;
    case 3: {
      const code = v.icmp6Code;
      const quoted = (v.layers & L.ICMP6_INNER) !== 0;
      s = code === 0 ? (quoted ? `time exceeded in-transit for ${ip6ToString(b, v.icmp6InnerDstOff)}` : 'time exceeded in-transit') : code === 1 ? 'time exceeded in-transit (reassembly)' : `time exceeded in-transit, unknown code (${code})`;
      break;
    }
    case 4: {
      const what = ICMP6_PARAM_PROBLEMS[v.icmp6Code];
      s = what === undefined ? `parameter problem, code-#${v.icmp6Code}` : `parameter problem, ${what} - octet ${u32At(b, o + 4)}`;
      break;
    }
    case 128:
    case 129:
      s = `echo ${v.icmp6Type === 128 ? 'request' : 'reply'}, id ${v.icmp6Id}, seq ${v.icmp6Seq}`;
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
      s = `multicast listener report v2, ${(b[o + 6] << 8) | b[o + 7]} group record(s)`;
      break;
    default:
      s = `unknown icmp6 type (${v.icmp6Type})`;
      break;
  }
  return `ICMP6, ${s}, length ${len}`;
}

/** The transport part after "src > dst: " (nothing when no transport header was decoded). */
function emitL4(o: LineBuffer, v: PacketView, ether: boolean): void {
  const l = v.layers;
  if (l & L.TCP) emitTcp(o, v);
  else if (l & L.UDP) emitUdp(o, v, ether);
  else if (l & L.ICMP) emitIcmp(o, v);
  else if (l & L.ICMPV6) o.ascii(icmp6Text(v));
  else if (l & L.GRE) emitGre(o, v, ether);
  else if (l & L.IPIP) emitInner(o, v, ether);
}

/** The frame inside a tunnel, or nothing when it was not decoded (past the nesting limit). */
function emitInner(o: LineBuffer, v: PacketView, ether: boolean): void {
  const inner = v.inner;
  if (inner !== null && (inner.layers !== 0 || inner.truncated !== 0 || inner.malformed !== 0)) emitFrame(o, inner, ether);
}

/** "proto NAME (0xXXXX)" as tcpdump -e names a tunnel's payload type. */
function tunnelProtoText(t: number): string {
  const name = t === ETHERTYPE.IPV4 ? 'IPv4' : t === ETHERTYPE.IPV6 ? 'IPv6' : t === ETHERTYPE.TEB ? 'TEB' : 'unknown';
  return `, proto ${name} (0x${hex(t, 4)})`;
}

/** tcpdump's Geneve line: "Geneve, Flags [OC], vni 0x2a[, proto TEB (0x6558)][, options [8 bytes]]: INNER". */
function emitGeneve(o: LineBuffer, v: PacketView, ether: boolean): void {
  const f = v.geneveFlags;
  o.ascii('Geneve, Flags [');
  o.ascii((f & 0xc0) === 0 ? 'none' : `${f & 0x80 ? 'O' : ''}${f & 0x40 ? 'C' : ''}`);
  o.ascii('], vni 0x');
  o.ascii(v.vni.toString(16));
  const rsvd = v.buf[v.tunnelOff + 7];
  if (rsvd !== 0) o.ascii(`, rsvd 0x${rsvd.toString(16)}`);
  if (ether) o.ascii(tunnelProtoText(v.geneveProto));
  if (v.geneveOptLen > 0) o.ascii(`, options [${v.geneveOptLen} bytes]`);
  o.bytes(T.COLON);
  emitTunnelPayload(o, v, ether, 'geneve', v.geneveProto);
}

/** The inner frame, or "NAME-proto-0xXXXX" for a payload type that is not decoded. */
function emitTunnelPayload(o: LineBuffer, v: PacketView, ether: boolean, name: string, proto: number): void {
  const inner = v.inner;
  if (inner !== null && inner.layers !== 0) emitFrame(o, inner, ether);
  else if (inner !== null && (inner.truncated !== 0 || inner.malformed !== 0)) emitFrame(o, inner, ether);
  else o.ascii(`${name}-proto-0x${proto.toString(16)}`);
}

const ERSPAN_TYPES = ['', 'I', 'II', 'III'];

/**
 * tcpdump's GRE line: "GREv0[, off 0x0][, key=0x4d][, seq 5][, proto …], length N: INNER"; ERSPAN (which
 * tcpdump 4.99 shows only as "gre-proto-0x88be") as "ERSPAN type II, session 100[, vlan 5]: INNER".
 */
function emitGre(o: LineBuffer, v: PacketView, ether: boolean): void {
  const fv = v.greFlags;
  const b = v.buf;
  o.ascii('GREv0');
  if (fv & 0x8000) o.ascii(`, off 0x${(((b[v.tunnelOff + 6] << 8) | b[v.tunnelOff + 7])).toString(16)}`);
  if (fv & 0x2000) o.ascii(`, key=0x${v.greKey.toString(16)}`);
  if (fv & 0x1000) {
    o.ascii(', seq ');
    o.num(v.greSeq);
  }
  if (ether) o.ascii(tunnelProtoText(v.greProto));
  o.bytes(T.LENGTH);
  o.num(v.payloadOff >= 0 ? v.payloadOff - v.tunnelOff + v.payloadWireLen : v.greHdrLen);
  o.bytes(T.COLON);
  if (v.layers & L.ERSPAN) {
    o.ascii(`ERSPAN type ${ERSPAN_TYPES[v.erspanType]}`);
    if (v.erspanType > 1) {
      o.ascii(', session ');
      o.num(v.erspanSession);
      if (v.erspanVlan !== 0) {
        o.ascii(', vlan ');
        o.num(v.erspanVlan);
      }
    }
    o.bytes(T.COLON);
  }
  emitTunnelPayload(o, v, ether, 'gre', v.greProto);
}

/** "SRC[.SPORT] > DST[.DPORT]" as tcpdump -nn writes an IPv4 address pair. */
function emitIp4Pair(o: LineBuffer, src: number, sport: number, dst: number, dport: number, ports: boolean): void {
  o.ip4(src);
  if (ports) {
    o.byte(46);
    o.num(sport);
  }
  o.bytes(T.GT);
  o.ip4(dst);
  if (ports) {
    o.byte(46);
    o.num(dport);
  }
}

function emitIpv4(o: LineBuffer, v: PacketView, ether: boolean): void {
  const ports = (v.layers & (L.TCP | L.UDP)) !== 0;
  emitIp4Pair(o, v.ip4Src, v.sport, v.ip4Dst, v.dport, ports);
  o.bytes(T.COLON);
  if (v.ipFragOff !== 0) {
    // A later fragment has no transport header: tcpdump -nn names only the protocol.
    o.ascii('ip-proto-');
    o.num(v.ipProto);
    return;
  }
  // Positions relative to o.start: they survive the pending bytes moving to a fresh area.
  const body = o.pos - o.start;
  emitL4(o, v, ether);
  if (o.pos - o.start === body && v.truncated === 0 && v.malformed === 0) {
    if (v.ipProto === 2) emitIgmp(o, v);
    else {
      o.ascii('ip-proto-');
      o.num(v.ipProto);
      o.byte(32);
      o.num(v.payloadWireLen);
    }
  }
}

/** IGMP as tcpdump -nn prints it (print-igmp.c, not verbose). */
function emitIgmp(o: LineBuffer, v: PacketView): void {
  const b = v.buf;
  const p = v.payloadOff;
  const n = v.payloadLen;
  const len = v.payloadWireLen;
  if (p < 0 || n < 1) {
    o.ascii('[|igmp]');
    return;
  }
  const type = b[p];
  const group = (): string => (n >= 8 ? ip4ToString(u32At(b, p + 4)) : '[|igmp]');
  switch (type) {
    case 0x11: {
      o.ascii('igmp query');
      if (n < 8) return o.ascii(' [|igmp]');
      const mrc = b[p + 1];
      const gaddr = u32At(b, p + 4);
      if (len >= 12) {
        o.ascii(' v3');
        const mrt = mrc < 128 ? mrc : ((mrc & 0x0f) | 0x10) << (((mrc & 0x70) >> 4) + 3);
        if (mrc !== 100) o.ascii(mrt < 600 ? ` [max resp time ${(mrt * 0.1).toFixed(1)}s]` : ` [max resp time ${relTime(Math.floor(mrt / 10))}]`);
        if (gaddr !== 0) {
          o.ascii(` [gaddr ${ip4ToString(gaddr)}`);
          const nsrcs = n >= 12 ? (b[p + 10] << 8) | b[p + 11] : 0;
          if (nsrcs > 0) o.ascii(` ${nsrcs} source(s)`);
          o.byte(93);
        }
        return;
      }
      if (mrc !== 100) {
        o.ascii(' v2');
        if (mrc !== 0) o.ascii(` [max resp time ${mrc}]`);
      } else o.ascii(' v1');
      if (gaddr !== 0) o.ascii(` [gaddr ${ip4ToString(gaddr)}]`);
      if (len !== 8) o.ascii(` [len ${len}]`);
      return;
    }
    case 0x12:
    case 0x16:
    case 0x17:
      o.ascii(type === 0x12 ? 'igmp v1 report ' : type === 0x16 ? 'igmp v2 report ' : 'igmp leave ');
      o.ascii(group());
      if (len !== 8) o.ascii(` [len ${len}]`);
      return;
    case 0x22:
      o.ascii('igmp v3 report');
      if (n < 8) return o.ascii(' [|igmp]');
      o.ascii(`, ${(b[p + 6] << 8) | b[p + 7]} group record(s)`);
      return;
    default:
      o.ascii(`igmp-${type}`);
      return;
  }
}

/** tcpdump's unsigned_relts_print: "1h2m3s". */
function relTime(secs: number): string {
  if (secs === 0) return '0s';
  let out = '';
  const units: Array<[number, string]> = [[31536000, 'y'], [604800, 'w'], [86400, 'd'], [3600, 'h'], [60, 'm'], [1, 's']];
  for (const [u, name] of units) {
    if (secs >= u) {
      out += `${Math.floor(secs / u)}${name}`;
      secs %= u;
    }
  }
  return out;
}

function emitIpv6(o: LineBuffer, v: PacketView, ether: boolean): void {
  const b = v.buf;
  const ports = (v.layers & (L.TCP | L.UDP)) !== 0;
  const ext = v.ip6ExtMask;
  o.ascii(ip6ToString(b, v.ip6SrcOff));
  if (ext === 0) {
    if (ports) {
      o.byte(46);
      o.num(v.sport);
    }
    o.bytes(T.GT);
    o.ascii(ip6ToString(b, v.ip6DstOff));
    if (ports) {
      o.byte(46);
      o.num(v.dport);
    }
    o.bytes(T.COLON);
    emitIpv6Rest(o, v, ether);
    return;
  }
  // tcpdump names the extension headers after the addresses, then prints the ports on their own.
  o.bytes(T.GT);
  o.ascii(ip6ToString(b, v.ip6DstOff));
  o.byte(58);
  if (ext & IP6_EXT.HOP_BY_HOP) o.ascii(' HBH');
  if (ext & IP6_EXT.DEST_OPTS) o.ascii(' DSTOPT');
  if (ext & IP6_EXT.ROUTING) o.ascii(' srcrt');
  if (ext & IP6_EXT.AH) o.ascii(' AH');
  if (ext & IP6_EXT.FRAGMENT) {
    // "frag (offset|bytes after the fragment header)"
    const fragLen = v.l4Off >= 0 ? v.payloadWireLen + (v.payloadOff - v.l4Off) : v.payloadWireLen;
    o.ascii(' frag (');
    o.num(v.ip6FragOff);
    o.byte(124);
    o.num(fragLen);
    o.byte(41);
  }
  if (ports) {
    o.byte(32);
    o.num(v.sport);
    o.bytes(T.GT);
    o.num(v.dport);
    o.byte(58);
  }
  o.byte(32);
  const rest = o.pos - o.start;
  emitIpv6Rest(o, v, ether);
  if (o.pos - o.start === rest) o.pos--; // nothing after the headers: no separating space
}

/** The transport part of an IPv6 packet, or "ip-proto-N LEN" for a payload that was not decoded. */
function emitIpv6Rest(o: LineBuffer, v: PacketView, ether: boolean): void {
  const from = o.pos - o.start;
  emitL4(o, v, ether);
  if (o.pos - o.start === from && v.truncated === 0 && v.malformed === 0 && v.ip6FragOff <= 0) {
    o.ascii('ip-proto-');
    o.num(v.ip6Next);
    o.byte(32);
    o.num(v.payloadWireLen);
  }
}

function isZeroMac(b: Buffer, off: number): boolean {
  return (b[off] | b[off + 1] | b[off + 2] | b[off + 3] | b[off + 4] | b[off + 5]) === 0;
}

function emitArp(o: LineBuffer, v: PacketView): void {
  const len = v.len - (v.l3Off - v.base);
  switch (v.arpOp) {
    case 1:
      o.bytes(T.WHO_HAS);
      o.ip4(v.arpTpa);
      if (!isZeroMac(v.buf, v.arpThaOff)) {
        // tcpdump shows a target MAC the request already names (unicast ARP refreshes, probes).
        o.ascii(' (');
        o.mac(v.buf, v.arpThaOff);
        o.byte(41);
      }
      o.bytes(T.TELL);
      o.ip4(v.arpSpa);
      break;
    case 2:
      o.bytes(T.REPLY);
      o.ip4(v.arpSpa);
      o.bytes(T.IS_AT);
      o.mac(v.buf, v.arpShaOff);
      break;
    default:
      o.ascii('opcode ');
      o.num(v.arpOp);
      o.byte(32);
      o.ip4(v.arpSpa);
      o.bytes(T.GT);
      o.ip4(v.arpTpa);
      break;
  }
  o.bytes(T.LENGTH);
  o.num(len);
}

/** An 802.3 frame (length instead of ethertype): spanning-tree BPDUs are named, other LLC frames counted. */
function llcText(v: PacketView): string {
  const b = v.buf;
  const p = v.payloadOff;
  if (p >= 0 && v.payloadLen >= 3 && b[p] === 0x42 && b[p + 1] === 0x42) return `STP, length ${v.ethType - 3}`;
  return `802.3, length ${v.ethType}`;
}

/** One frame without the timestamp; a VXLAN frame includes its inner frame after a newline. */
function emitFrame(o: LineBuffer, v: PacketView, ether: boolean): void {
  const from = o.pos - o.start;
  const l = v.layers;
  if (ether) o.ascii(linkText(v));
  else if (v.linktype === LinkType.LINUX_SLL2 && l & L.LINK && v.depth === 0) o.ascii(sll2Prefix(v));
  if (l & L.IPV4) {
    if (!ether) o.bytes(T.IP);
    emitIpv4(o, v, ether);
  } else if (l & L.IPV6) {
    if (!ether) o.bytes(T.IP6);
    emitIpv6(o, v, ether);
  } else if (l & L.ARP) {
    if (!ether) o.bytes(T.ARP);
    emitArp(o, v);
  } else if (l & L.ETH && v.vlanCount === 0 && v.ethType <= 1500) {
    o.ascii(llcText(v));
  } else if (!ether) {
    // Nothing above the link layer: say what the link layer carried.
    switch (v.ethType) {
      case ETHERTYPE.IPV4:
        o.ascii('IP');
        break;
      case ETHERTYPE.IPV6:
        o.ascii('IP6');
        break;
      case ETHERTYPE.ARP:
        o.ascii('ARP');
        break;
      default:
        if (l & (L.ETH | L.LINK)) o.ascii(`${etherTypeText(v.ethType)}, length ${v.len}`);
        else if (v.truncated === 0 && v.malformed === 0) o.ascii(`linktype ${v.linktype}, length ${v.len}`);
        break;
    }
  }
  if (v.truncated !== 0 || v.malformed !== 0) {
    if (o.pos - o.start > from && o.buf[o.pos - 1] !== 32) o.byte(32);
    o.ascii(v.truncated !== 0 ? `[|${layerName(v.truncated)}]` : `[malformed ${malformedText(v)}]`);
  }
  // A frame whose last layer printed nothing after its "…: " ends there.
  if (o.pos - o.start - from >= 2 && o.buf[o.pos - 2] === 58 && o.buf[o.pos - 1] === 32) o.pos -= 2;
}

/** How writeLine prints (the tcpdump options that change the text). */
export interface LineOptions {
  /** -e: the link-layer header. */
  ether?: boolean;
  /** Relative TCP sequence numbers (tcpdump's default); absent or null = absolute (-S). */
  seq?: TcpSeqTable | null;
  /** -q: less protocol detail. */
  quiet?: boolean;
  /** Time stamps: 0 HH:MM:SS.us (default), 1 none (-t), 2 epoch (-tt), 3 delta from the previous (-ttt), 4 date and time (-tttt), 5 delta from the first (-ttttt). */
  time?: number;
  /** State of the delta formats (one per output). */
  clock?: LineClock;
}

/** Previous and first packet times, for -ttt / -ttttt. */
export class LineClock {
  prevSec = 0;
  prevNsec = 0;
  firstSec = 0;
  firstNsec = 0;
  seen = false;
}

/** " HH:MM:SS.uuuuuu" for a non-negative difference in seconds + nanoseconds (tcpdump's delta formats). */
function emitDelta(o: LineBuffer, sec: number, nsec: number, fromSec: number, fromNsec: number): void {
  let ds = sec - fromSec;
  let dn = nsec - fromNsec;
  if (dn < 0) {
    dn += 1e9;
    ds--;
  }
  // tcpdump prints a negative difference (merged captures slightly out of order) with a minus sign.
  let sign = 32;
  if (ds < 0) {
    sign = 45;
    ds = -ds;
    if (dn > 0) {
      ds--;
      dn = 1e9 - dn;
    }
  }
  o.byte(sign);
  o.ascii(`${two(Math.floor(ds / 3600))}:${two(Math.floor(ds / 60) % 60)}:${two(ds % 60)}.`);
  o.sixDigits(Math.floor(dn / 1000));
}

function emitStamp(o: LineBuffer, rec: PacketRecord, mode: number, clock: LineClock | undefined): void {
  const sec = rec.tsSec;
  const nsec = rec.tsNsec;
  switch (mode) {
    case 1:
      return;
    case 2:
      o.num(sec);
      o.byte(46);
      o.sixDigits(Math.floor(nsec / 1000));
      break;
    case 3:
    case 5: {
      const c = clock ?? new LineClock();
      if (!c.seen) {
        c.seen = true;
        c.firstSec = c.prevSec = sec;
        c.firstNsec = c.prevNsec = nsec;
      }
      if (mode === 3) emitDelta(o, sec, nsec, c.prevSec, c.prevNsec);
      else emitDelta(o, sec, nsec, c.firstSec, c.firstNsec);
      c.prevSec = sec;
      c.prevNsec = nsec;
      break;
    }
    case 4: {
      const d = new Date(sec * 1000);
      o.ascii(`${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} `);
      emitTime(o, sec, nsec);
      break;
    }
    default:
      emitTime(o, sec, nsec);
      break;
  }
  o.byte(32);
}

/** formatLine's bytes, with the newline, appended to a LineBuffer (the allocation-free form for printers). */
export function writeLine(o: LineBuffer, view: PacketView, rec: PacketRecord, opts: LineOptions): void {
  const mode = opts.time ?? 0;
  if (mode === 0) {
    emitTime(o, rec.tsSec, rec.tsNsec);
    o.byte(32);
  } else emitStamp(o, rec, mode, opts.clock);
  seqTable = opts.seq ?? null;
  quiet = opts.quiet === true;
  emitFrame(o, view, opts.ether === true);
  seqTable = null;
  quiet = false;
  o.byte(10);
}

/** Where formatLine builds its line (grows if a line ever needs more). */
const scratch = new LineBuffer(4096);

/**
 * A tcpdump -nn style line ("-e" with opts.ether). VXLAN packets yield two lines joined by "\n". TCP
 * sequence numbers are absolute unless opts.seq keeps the connections' bases (tcpdump's default).
 */
export function formatLine(view: PacketView, rec: PacketRecord, opts?: { ether?: boolean; seq?: TcpSeqTable }): string {
  const o = scratch;
  o.discard();
  emitTime(o, rec.tsSec, rec.tsNsec);
  o.byte(32);
  seqTable = opts?.seq ?? null;
  emitFrame(o, view, opts?.ether === true);
  seqTable = null;
  const line = o.buf.toString('latin1', o.start, o.pos);
  o.discard();
  return line;
}
