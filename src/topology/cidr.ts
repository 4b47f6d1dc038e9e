/** IPv4/IPv6 address and prefix arithmetic for validation and overlap checks (BigInt, both families). */
import { isIP } from 'net';
import { ip4ToString, ip6GroupsToString } from '../decode/addr';

export interface Cidr {
  family: 4 | 6;
  /** The address as written (host bits kept). */
  addr: bigint;
  prefixlen: number;
}

function parseV4(s: string): bigint {
  return s.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function parseV6(s: string): bigint {
  let text = s;
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const v = parseV4(quad[1]);
    text = text.slice(0, quad.index) + `${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** Parses "ADDR" (as a host prefix) or "ADDR/LEN"; undefined when either part is invalid. */
export function parseCidr(text: string, requirePrefix = true): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0 && requirePrefix) return undefined;
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const fam = isIP(addrText);
  if (fam !== 4 && fam !== 6) return undefined;
  const max = fam === 4 ? 32 : 128;
  let prefixlen = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText)) return undefined;
    prefixlen = Number(lenText);
    if (prefixlen > max) return undefined;
  }
  return { family: fam, addr: fam === 4 ? parseV4(addrText) : parseV6(addrText), prefixlen };
}

export function parseIp(text: string): Cidr | undefined {
  return parseCidr(text, false);
}

function bits(c: Cidr): number {
  return c.family === 4 ? 32 : 128;
}

/** The network part of c (host bits cleared). */
export function networkOf(c: Cidr): bigint {
  const host = BigInt(bits(c) - c.prefixlen);
  return (c.addr >> host) << host;
}

/** True when the address has host bits set beyond its prefix (ip route refuses such a destination). */
export function hasHostBits(c: Cidr): boolean {
  return networkOf(c) !== c.addr;
}

/** True when the two prefixes share at least one address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const len = Math.min(a.prefixlen, b.prefixlen);
  const shift = BigInt(bits(a) - len);
  return a.addr >> shift === b.addr >> shift;
}

/** True when `ip` lies inside prefix `net`. */
export function contains(net: Cidr, ip: Cidr): boolean {
  return overlaps({ ...net }, { ...ip, prefixlen: bits(ip) }) && net.family === ip.family;
}

/**
 * Canonical text for comparing addresses written differently (fd00::0002 vs fd00::2): RFC 5952, written by
 * the one address formatter of the project (src/decode/format.ts, what tcpdump and iproute2 print; an
 * IPv4-mapped address keeps its dotted tail, ::ffff:10.244.1.2).
 */
export function canonicalIp(text: string): string {
  const c = parseIp(text);
  if (!c) return text;
  if (c.family === 4) return ip4ToString(Number(c.addr));
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((c.addr >> BigInt(i * 16)) & 0xffffn));
  return ip6GroupsToString(groups);
}
