/**
 * compileFilter: a pcap-filter subset compiled once into nested closures over PacketView. Evaluation
 * reads numbers and compares bytes in place: no allocation per packet.
 *
 * Semantics follow libpcap on the same bytes:
 *  - `ip`/`ip6`/`arp` test the ethertype (at the current VLAN depth), `tcp`/`udp`/`icmp`/`icmp6` the IP
 *    protocol (IPv4 protocol field; IPv6 next header after the extension chain), so non-first fragments
 *    match `tcp` but never `port`.
 *  - `host A` (IPv4) matches IPv4 source/destination and ARP sender/target addresses; an IPv6 address
 *    matches IPv6 packets only.
 *  - `vlan [id]` matches when a tag is present at the current depth; primitives after it look one tag in
 *    (so `icmp` alone does not match a tagged frame, `vlan and icmp` does — as in libpcap on a file).
 *  - `vxlan [vni]` matches UDP to port 4789 carrying a VXLAN header with the I flag; primitives after
 *    it test the encapsulated frame.
 */
import { ETHERTYPE, IPPROTO } from '../decode/decode';
import { L, MAX_VLAN_TAGS, PacketView } from '../decode/view';
import { type Ctx, type Dir, FilterSyntaxError, type Node, parseFilter, type Prim } from './parse';

export { FilterSyntaxError };

export type PacketPredicate = (view: PacketView) => boolean;

const matchAll: PacketPredicate = () => true;

/** Compiles `expr` ('' matches everything); throws FilterSyntaxError quoting the offending token. */
export function compileFilter(expr: string): PacketPredicate {
  const ast = parseFilter(expr);
  return ast === undefined ? matchAll : compileNode(ast);
}

function compileNode(n: Node): PacketPredicate {
  switch (n.op) {
    case 'and': {
      const a = compileNode(n.a);
      const b = compileNode(n.b);
      return (v) => a(v) && b(v);
    }
    case 'or': {
      const a = compileNode(n.a);
      const b = compileNode(n.b);
      return (v) => a(v) || b(v);
    }
    case 'not': {
      const a = compileNode(n.a);
      return (v) => !a(v);
    }
    case 'prim':
      return withContext(compilePrim(n.prim, n.ctx.vlanDepth), n.ctx);
  }
}

function withContext(p: PacketPredicate, ctx: Ctx): PacketPredicate {
  if (!ctx.inner) return p;
  return (v) => v.inner !== null && (v.layers & L.VXLAN) !== 0 && p(v.inner);
}

function eqBytes(buf: Buffer, off: number, want: Uint8Array, n: number): boolean {
  if (off < 0) return false;
  for (let i = 0; i < n; i++) if (buf[off + i] !== want[i]) return false;
  return true;
}

/** Prefix match of `bits` bits at buf[off..] against want. */
function prefixBytes(buf: Buffer, off: number, want: Uint8Array, bits: number): boolean {
  if (off < 0) return false;
  const full = bits >> 3;
  for (let i = 0; i < full; i++) if (buf[off + i] !== want[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const m = (0xff << (8 - rest)) & 0xff;
  return (buf[off + full] & m) === (want[full] & m);
}

function byDir(dir: Dir, src: PacketPredicate, dst: PacketPredicate): PacketPredicate {
  switch (dir) {
    case 'src':
      return src;
    case 'dst':
      return dst;
    case 'both':
      return (v) => src(v) && dst(v);
    case 'either':
      return (v) => src(v) || dst(v);
  }
}

function compilePrim(p: Prim, depth: number): PacketPredicate {
  // The network layer is "at this depth" only when exactly `depth` tags precede it.
  const at = (v: PacketView): boolean => v.vlanCount === depth;
  switch (p.kind) {
    case 'proto':
      switch (p.proto) {
        case 'ip':
          return (v) => at(v) && v.ethType === ETHERTYPE.IPV4;
        case 'ip6':
          return (v) => at(v) && v.ethType === ETHERTYPE.IPV6;
        case 'arp':
          return (v) => at(v) && v.ethType === ETHERTYPE.ARP;
        case 'tcp':
          return ipProto(IPPROTO.TCP, depth, true, true);
        case 'udp':
          return ipProto(IPPROTO.UDP, depth, true, true);
        case 'icmp':
          return ipProto(IPPROTO.ICMP, depth, true, false);
        case 'icmp6':
          return ipProto(IPPROTO.ICMPV6, depth, false, true);
      }
      break;
    case 'vlan': {
      const id = p.id;
      if (id === undefined) return (v) => v.vlanCount > depth;
      if (depth >= MAX_VLAN_TAGS) return () => false;
      return (v) => v.vlanCount > depth && v.vlanIds[depth] === id;
    }
    case 'vxlan': {
      const vni = p.vni;
      if (vni === undefined) return (v) => at(v) && (v.layers & L.VXLAN) !== 0;
      return (v) => at(v) && (v.layers & L.VXLAN) !== 0 && v.vni === vni;
    }
    case 'host4': {
      const a = p.addr;
      const ip = byDir(
        p.dir,
        (v) => v.ip4Src === a,
        (v) => v.ip4Dst === a,
      );
      const arp = byDir(
        p.dir,
        (v) => v.arpSpa === a,
        (v) => v.arpTpa === a,
      );
      return ip4OrArp(p.proto, depth, ip, arp);
    }
    case 'net4': {
      const a = p.addr;
      const mask = p.bits === 0 ? 0 : (0xffffffff << (32 - p.bits)) >>> 0;
      const ip = byDir(
        p.dir,
        (v) => (v.ip4Src & mask) >>> 0 === a,
        (v) => (v.ip4Dst & mask) >>> 0 === a,
      );
      const arp = byDir(
        p.dir,
        (v) => (v.arpSpa & mask) >>> 0 === a,
        (v) => (v.arpTpa & mask) >>> 0 === a,
      );
      return ip4OrArp(p.proto, depth, ip, arp);
    }
    case 'host6': {
      const a = p.addr;
      const m = byDir(
        p.dir,
        (v) => eqBytes(v.buf, v.ip6SrcOff, a, 16),
        (v) => eqBytes(v.buf, v.ip6DstOff, a, 16),
      );
      return (v) => at(v) && (v.layers & L.IPV6) !== 0 && m(v);
    }
    case 'net6': {
      const a = p.addr;
      const bits = p.bits;
      const m = byDir(
        p.dir,
        (v) => prefixBytes(v.buf, v.ip6SrcOff, a, bits),
        (v) => prefixBytes(v.buf, v.ip6DstOff, a, bits),
      );
      return (v) => at(v) && (v.layers & L.IPV6) !== 0 && m(v);
    }
    case 'port': {
      const port = p.port;
      const layers = p.proto === 'tcp' ? L.TCP : p.proto === 'udp' ? L.UDP : L.TCP | L.UDP;
      const m = byDir(
        p.dir,
        (v) => v.sport === port,
        (v) => v.dport === port,
      );
      return (v) => at(v) && (v.layers & layers) !== 0 && m(v);
    }
    case 'portrange': {
      const lo = p.lo;
      const hi = p.hi;
      const layers = p.proto === 'tcp' ? L.TCP : p.proto === 'udp' ? L.UDP : L.TCP | L.UDP;
      const m = byDir(
        p.dir,
        (v) => v.sport >= lo && v.sport <= hi,
        (v) => v.dport >= lo && v.dport <= hi,
      );
      return (v) => at(v) && (v.layers & layers) !== 0 && m(v);
    }
    case 'ipproto':
      return ipProto(p.proto, depth, p.v4, p.v6);
    case 'len': {
      const n = p.n;
      return p.op === 'less' ? (v) => v.len <= n : (v) => v.len >= n;
    }
    case 'ether': {
      const mac = p.mac;
      const m = byDir(
        p.dir,
        (v) => eqBytes(v.buf, v.ethSrcOff, mac, 6),
        (v) => eqBytes(v.buf, v.ethDstOff, mac, 6),
      );
      return (v) => (v.layers & L.ETH) !== 0 && m(v);
    }
  }
  return () => false;
}

function ipProto(proto: number, depth: number, v4: boolean, v6: boolean): PacketPredicate {
  const l = (v4 ? L.IPV4 : 0) | (v6 ? L.IPV6 : 0);
  return (v) => v.vlanCount === depth && (v.layers & l) !== 0 && v.ipProto === proto;
}

function ip4OrArp(
  proto: 'ip' | 'arp' | undefined,
  depth: number,
  ip: PacketPredicate,
  arp: PacketPredicate,
): PacketPredicate {
  const ipOk = (v: PacketView): boolean => v.vlanCount === depth && (v.layers & L.IPV4) !== 0 && ip(v);
  const arpOk = (v: PacketView): boolean => v.vlanCount === depth && (v.layers & L.ARP) !== 0 && arp(v);
  if (proto === 'ip') return ipOk;
  if (proto === 'arp') return arpOk;
  return (v) => ipOk(v) || arpOk(v);
}

/**
 * An expression for libpcap (live capture BPF) that accepts at least every packet `expr` accepts:
 * identical to `expr` (normalised) when it uses nothing libpcap 1.10 lacks; `vxlan` becomes
 * `udp dst port 4789` and primitives inside the VXLAN frame are dropped (widening the match). Apply
 * compileFilter(expr) to what libpcap delivers to get the exact result. '' = capture everything.
 */
export function bpfPrefilter(expr: string): string {
  const ast = parseFilter(expr);
  return ast === undefined ? '' : toBpf(ast).text;
}

/** text '' = "true"; exact = text means precisely what the node means. */
function toBpf(n: Node): { text: string; exact: boolean } {
  switch (n.op) {
    case 'prim':
      if (n.ctx.inner) return { text: '', exact: false };
      if (n.prim.kind === 'vxlan') return { text: 'udp dst port 4789', exact: false };
      return { text: n.text, exact: true };
    case 'not': {
      const a = toBpf(n.a);
      if (!a.exact || a.text === '') return { text: '', exact: false };
      return { text: `not (${a.text})`, exact: true };
    }
    case 'and': {
      const a = toBpf(n.a);
      const b = toBpf(n.b);
      const exact = a.exact && b.exact;
      if (a.text === '') return { text: b.text, exact };
      if (b.text === '') return { text: a.text, exact };
      return { text: `(${a.text}) and (${b.text})`, exact };
    }
    case 'or': {
      const a = toBpf(n.a);
      const b = toBpf(n.b);
      if (a.text === '' || b.text === '') return { text: '', exact: false };
      return { text: `(${a.text}) or (${b.text})`, exact: a.exact && b.exact };
    }
  }
}
