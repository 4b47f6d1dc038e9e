/**
 * Parser for the pcap-filter(7) subset netscope evaluates on decoded packets. Mirrors pcap-filter where it
 * matters: `and`/`or` have EQUAL precedence and associate left to right, `not` binds tightest; an
 * identifier without a keyword reuses the previous primitive's qualifiers ("port 80 or 443");
 * `vlan` shifts every primitive parsed after it one tag inwards, and `vxlan` moves them into the
 * encapsulated frame (libpcap's geneve/vxlan rule), so the parser records that context on each primitive.
 */
import { parseIp4, parseIp6, parseMac } from '../decode/addr';

export class FilterSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterSyntaxError';
  }
}

export type Dir = 'src' | 'dst' | 'either' | 'both';

/** Where a primitive looks: how many VLAN tags in, and whether inside the VXLAN-encapsulated frame. */
export interface Ctx {
  vlanDepth: number;
  inner: boolean;
}

export type Prim =
  | { kind: 'proto'; proto: 'arp' | 'ip' | 'ip6' | 'tcp' | 'udp' | 'icmp' | 'icmp6' }
  | { kind: 'vlan'; id: number | undefined }
  | { kind: 'vxlan'; vni: number | undefined }
  | { kind: 'host4'; proto: 'ip' | 'arp' | undefined; dir: Dir; addr: number }
  | { kind: 'host6'; dir: Dir; addr: Uint8Array }
  | { kind: 'net4'; proto: 'ip' | 'arp' | undefined; dir: Dir; addr: number; bits: number }
  | { kind: 'net6'; dir: Dir; addr: Uint8Array; bits: number }
  | { kind: 'port'; proto: 'tcp' | 'udp' | undefined; dir: Dir; port: number }
  | { kind: 'portrange'; proto: 'tcp' | 'udp' | undefined; dir: Dir; lo: number; hi: number }
  /** `ip proto N` / `ip6 proto N` / `proto N` (either). */
  | { kind: 'ipproto'; v4: boolean; v6: boolean; proto: number }
  /** `less N` (wire length ≤ N) / `greater N` (≥ N). */
  | { kind: 'len'; op: 'less' | 'greater'; n: number }
  | { kind: 'ether'; dir: Dir; mac: Uint8Array };

export type Node =
  | { op: 'and' | 'or'; a: Node; b: Node }
  | { op: 'not'; a: Node }
  | { op: 'prim'; prim: Prim; ctx: Ctx; text: string };

/** pcap-filter words netscope knows but does not evaluate: a clear message instead of "unexpected". */
const UNSUPPORTED = new Set([
  'broadcast',
  'multicast',
  'gateway',
  'inbound',
  'outbound',
  'ifname',
  'on',
  'mpls',
  'pppoed',
  'pppoes',
  'geneve',
  'sctp',
  'rarp',
  'igmp',
  'len',
  'llc',
  'ah',
  'esp',
]);

const MAX_TOKENS = 2000;

const PROTOS = ['ether', 'ip', 'ip6', 'arp', 'tcp', 'udp', 'icmp', 'icmp6'] as const;
type ProtoQual = (typeof PROTOS)[number];
const KEYWORDS = new Set<string>([
  ...PROTOS,
  'src',
  'dst',
  'host',
  'net',
  'port',
  'portrange',
  'proto',
  'less',
  'greater',
  'vlan',
  'vxlan',
  'and',
  'or',
  'not',
  '&&',
  '||',
  '!',
  '(',
  ')',
]);

interface Qual {
  proto: ProtoQual | undefined;
  dir: Dir | undefined;
  type: 'host' | 'net' | 'port' | 'portrange' | undefined;
}

function tokenize(expr: string): string[] {
  const out: string[] = [];
  const re = /\s*(&&|\|\||[()!]|[^\s()!&|]+|[&|])/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = re.exec(expr)) !== null) {
    out.push(m[1]);
    pos = re.lastIndex;
  }
  if (expr.slice(pos).trim() !== '') throw new FilterSyntaxError(`filter: cannot read "${expr.slice(pos).trim()}"`);
  return out;
}

class Parser {
  private i = 0;
  private ctx: Ctx = { vlanDepth: 0, inner: false };
  private last: Qual | undefined;

  constructor(private readonly toks: string[]) {}

  parse(): Node | undefined {
    if (this.toks.length === 0) return undefined;
    // Compiled closures nest as deep as the expression: keep that far from the call-stack limit.
    if (this.toks.length > MAX_TOKENS) {
      throw new FilterSyntaxError(`filter: expression too long (${this.toks.length} tokens, at most ${MAX_TOKENS}) near "${this.toks[MAX_TOKENS]}"`);
    }
    const n = this.expr();
    if (this.i < this.toks.length) this.fail(this.toks[this.i], 'expected "and", "or" or the end');
    return n;
  }

  private peek(k = 0): string | undefined {
    return this.toks[this.i + k];
  }

  private next(): string {
    const t = this.toks[this.i++];
    if (t === undefined) {
      const prev = this.toks[this.toks.length - 1];
      throw new FilterSyntaxError(`filter: expression ends after "${prev}"`);
    }
    return t;
  }

  private fail(tok: string, why: string): never {
    throw new FilterSyntaxError(`filter: unexpected "${tok}": ${why}`);
  }

  private expr(): Node {
    let left = this.term();
    for (;;) {
      const t = this.peek();
      let op: 'and' | 'or';
      if (t === 'and' || t === '&&') op = 'and';
      else if (t === 'or' || t === '||') op = 'or';
      else return left;
      this.i++;
      left = { op, a: left, b: this.term() };
    }
  }

  private term(): Node {
    const t = this.next();
    if (t === 'not' || t === '!') return { op: 'not', a: this.term() };
    if (t === '(') {
      if (this.peek() === ')') this.fail(')', 'empty parentheses');
      const n = this.expr();
      const close = this.peek();
      if (close !== ')') {
        if (close === undefined) throw new FilterSyntaxError('filter: missing ")" at the end');
        this.fail(close, 'expected ")"');
      }
      this.i++;
      return n;
    }
    if (t === ')') this.fail(t, 'no matching "("');
    return this.primitive(t);
  }

  private prim(prim: Prim, text: string): Node {
    return { op: 'prim', prim, ctx: { ...this.ctx }, text };
  }

  private numberArg(): number | undefined {
    const t = this.peek();
    if (t !== undefined && /^(0x[0-9a-fA-F]+|\d+)$/.test(t)) {
      this.i++;
      return Number(t);
    }
    return undefined;
  }

  private primitive(first: string): Node {
    if (first.includes('[')) this.fail(first, 'packet-data accessors (proto[offset]) are not supported by netscope filters');
    if (UNSUPPORTED.has(first)) this.fail(first, 'this pcap-filter keyword is not supported by netscope filters');
    if (first === 'less' || first === 'greater') {
      const n = this.numberArg();
      if (n === undefined) this.fail(this.peek() ?? first, `"${first}" needs a length in bytes`);
      return this.prim({ kind: 'len', op: first, n }, `${first} ${n}`);
    }
    if (first === 'proto' || ((first === 'ip' || first === 'ip6') && this.peek() === 'proto')) {
      if (first !== 'proto') this.i++;
      const n = this.numberArg();
      if (n === undefined || n > 255) this.fail(this.peek() ?? 'proto', 'protocol must be a number 0..255');
      const v4 = first !== 'ip6';
      const v6 = first !== 'ip';
      return this.prim({ kind: 'ipproto', v4, v6, proto: n }, `${first === 'proto' ? '' : `${first} `}proto ${n}`);
    }
    if (first === 'vlan') {
      const id = this.numberArg();
      if (id !== undefined && id > 4095) this.fail(String(id), 'VLAN id must be 0..4095');
      const n = this.prim({ kind: 'vlan', id }, id === undefined ? 'vlan' : `vlan ${id}`);
      this.ctx.vlanDepth++;
      return n;
    }
    if (first === 'vxlan') {
      if (this.ctx.inner) this.fail(first, 'nested vxlan is not supported');
      const vni = this.numberArg();
      if (vni !== undefined && vni > 0xffffff) this.fail(String(vni), 'VNI must be 0..16777215');
      const n = this.prim({ kind: 'vxlan', vni }, vni === undefined ? 'vxlan' : `vxlan ${vni}`);
      this.ctx = { vlanDepth: 0, inner: true };
      return n;
    }

    const q: Qual = { proto: undefined, dir: undefined, type: undefined };
    let t: string = first;
    let explicit = false;
    if ((PROTOS as readonly string[]).includes(t)) {
      q.proto = t as ProtoQual;
      explicit = true;
      const nx = this.peek();
      if (nx === undefined || !['src', 'dst', 'host', 'net', 'port', 'portrange'].includes(nx)) {
        if (q.proto === 'ether') this.fail(nx ?? 'ether', '"ether" needs "host", "src" or "dst" and a MAC address');
        return this.prim({ kind: 'proto', proto: q.proto }, q.proto);
      }
      t = this.next();
    }
    if (t === 'src' || t === 'dst') {
      explicit = true;
      q.dir = t;
      // "src or dst port 53" / "src and dst host h"
      const nx = this.peek();
      const other = t === 'src' ? 'dst' : 'src';
      if ((nx === 'or' || nx === 'and') && this.peek(1) === other) {
        q.dir = nx === 'or' ? 'either' : 'both';
        this.i += 2;
      }
      t = this.next();
    }
    if (t === 'host' || t === 'net' || t === 'port' || t === 'portrange') {
      explicit = true;
      q.type = t;
      t = this.next();
    }
    if (!explicit) {
      // A bare identifier: pcap-filter reuses the previous primitive's qualifiers.
      if (KEYWORDS.has(t)) this.fail(t, 'expected a primitive (host, net, port, ether host, tcp, udp, icmp, arp, ip, ip6, vlan, vxlan)');
      if (this.last === undefined) this.fail(t, 'an address or number needs a keyword such as host, net or port before it');
      Object.assign(q, this.last);
    }
    if (KEYWORDS.has(t)) this.fail(t, 'expected an address or number');
    this.last = { ...q };
    return this.qualified(q, t);
  }

  private qualified(q: Qual, id: string): Node {
    const dir: Dir = q.dir ?? 'either';
    const dirText = q.dir === undefined ? '' : q.dir === 'either' ? 'src or dst ' : q.dir === 'both' ? 'src and dst ' : `${q.dir} `;
    const type = q.type ?? (q.proto === 'tcp' || q.proto === 'udp' ? undefined : 'host');
    if (q.proto === 'ether') {
      if (type !== 'host') this.fail(id, `"ether ${type ?? ''}" is not supported; use "ether host MAC"`);
      const mac = parseMac(id);
      if (!mac) this.fail(id, 'not a MAC address (aa:bb:cc:dd:ee:ff)');
      return this.prim({ kind: 'ether', dir, mac }, `ether ${dirText}host ${id}`);
    }
    if (type === undefined) this.fail(id, `"${q.proto}" needs "port" before a number`);
    if (q.proto === 'icmp' || q.proto === 'icmp6') this.fail(q.proto, `"${q.proto}" cannot qualify ${type}`);
    const protoText = q.proto ? `${q.proto} ` : '';
    if (type === 'portrange') {
      if (q.proto !== undefined && q.proto !== 'tcp' && q.proto !== 'udp') this.fail(q.proto, '"portrange" takes tcp or udp as protocol');
      const m = /^(\d{1,5})-(\d{1,5})$/.exec(id);
      if (!m || Number(m[1]) > 65535 || Number(m[2]) > 65535) this.fail(id, 'not a port range such as 30000-32767');
      const a = Number(m[1]);
      const b = Number(m[2]);
      const lo = Math.min(a, b);
      const hi = Math.max(a, b);
      return this.prim({ kind: 'portrange', proto: q.proto, dir, lo, hi }, `${protoText}${dirText}portrange ${lo}-${hi}`);
    }
    if (type === 'port') {
      if (q.proto !== undefined && q.proto !== 'tcp' && q.proto !== 'udp') this.fail(q.proto, '"port" takes tcp or udp as protocol');
      if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(id) || Number(id) > 65535) this.fail(id, 'not a port number 0..65535');
      return this.prim({ kind: 'port', proto: q.proto, dir, port: Number(id) }, `${protoText}${dirText}port ${Number(id)}`);
    }
    if (q.proto === 'tcp' || q.proto === 'udp') this.fail(q.proto, `"${q.proto}" cannot qualify ${type}`);
    if (parseMac(id)) this.fail(id, 'ethernet address used in non-ether expression; use "ether host"');
    if (type === 'host') {
      const v4 = parseIp4(id);
      if (v4 !== undefined) {
        if (q.proto === 'ip6') this.fail(id, '"ip6 host" needs an IPv6 address');
        return this.prim({ kind: 'host4', proto: q.proto as 'ip' | 'arp' | undefined, dir, addr: v4 }, `${protoText}${dirText}host ${id}`);
      }
      const v6 = parseIp6(id);
      if (v6) {
        if (q.proto === 'ip' || q.proto === 'arp') this.fail(id, `"${q.proto} host" needs an IPv4 address`);
        return this.prim({ kind: 'host6', dir, addr: v6 }, `${protoText}${dirText}host ${id}`);
      }
      this.fail(id, 'not an IPv4 or IPv6 address (host names are not resolved)');
    }
    // net: a.b.c.d/len, IPv6/len, or a dotted prefix "10.244" (= 10.244.0.0/16) as pcap-filter allows.
    const [addrText, lenText, ...extra] = id.split('/');
    if (extra.length) this.fail(id, 'not a network');
    if (lenText !== undefined && !/^\d{1,3}$/.test(lenText)) this.fail(id, 'bad prefix length');
    let v4: number | undefined;
    let bits: number;
    if (lenText === undefined && /^\d{1,3}(\.\d{1,3}){0,2}$/.test(addrText)) {
      const parts = addrText.split('.');
      v4 = parseIp4([...parts, ...new Array<string>(4 - parts.length).fill('0')].join('.'));
      bits = 8 * parts.length;
    } else {
      v4 = parseIp4(addrText);
      bits = lenText === undefined ? 32 : Number(lenText);
    }
    if (v4 !== undefined) {
      if (bits > 32) this.fail(id, 'IPv4 prefix length above 32');
      if (q.proto === 'ip6') this.fail(id, '"ip6 net" needs an IPv6 network');
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      if (((v4 & ~mask) >>> 0) !== 0) this.fail(id, 'non-network bits set in the address');
      return this.prim({ kind: 'net4', proto: q.proto as 'ip' | 'arp' | undefined, dir, addr: v4, bits }, `${protoText}${dirText}net ${id}`);
    }
    const v6 = parseIp6(addrText);
    if (v6) {
      const b6 = lenText === undefined ? 128 : Number(lenText);
      if (b6 > 128) this.fail(id, 'IPv6 prefix length above 128');
      if (q.proto === 'ip' || q.proto === 'arp') this.fail(id, `"${q.proto} net" needs an IPv4 network`);
      for (let i = 0; i < 16; i++) {
        const keep = Math.max(0, Math.min(8, b6 - 8 * i));
        const m = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
        if ((v6[i] & ~m & 0xff) !== 0) this.fail(id, 'non-network bits set in the address');
      }
      return this.prim({ kind: 'net6', dir, addr: v6, bits: b6 }, `${protoText}${dirText}net ${id}`);
    }
    this.fail(id, 'not a network (CIDR such as 10.244.0.0/16 or fd00::/64)');
  }
}

/** Parses a filter expression; undefined for an empty expression (matches everything). */
export function parseFilter(expr: string): Node | undefined {
  return new Parser(tokenize(expr)).parse();
}
