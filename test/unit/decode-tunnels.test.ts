/**
 * Tunnels: VXLAN (4789, 8472, --vxlan-port), Geneve, IPv4/IPv6 in IPv4/IPv6, GRE (checksum/key/sequence;
 * IPv4, IPv6, Ethernet inside) and ERSPAN I/II/III. Every field the view exposes, outer and inner, is checked
 * against tshark's dissection of the same file, and the text against tcpdump 4.99's, both in the same run.
 * The kernel here has no ipip/gre/gretap/ip6tnl/geneve/erspan links (only vxlan: fixtures/pcap/vxlan8472.pcap,
 * made by make-vxlan8472.sh), so those are crafted frames. Every prefix of every frame decodes without
 * throwing and reports the exact layer where it was cut.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import * as c from '../../src/decode/craft';
import { decodePacket } from '../../src/decode/decode';
import { formatLine, ip4ToString, ip6ToString, macToString, toJson } from '../../src/decode/format';
import { L, MAX_TUNNEL_DEPTH, PacketView, TUNNEL, TUNNEL_NAMES, tunnelPortTable } from '../../src/decode/view';
import { LinkType, type PacketRecord } from '../../src/pcap/record';
import { CaptureParser } from '../../src/pcap/reader';

const ICMP = c.icmpEcho(8, 77, 3, Buffer.alloc(16, 0x61));
const INNER4 = c.ipv4({ src: '10.244.1.1', dst: '10.244.1.2', proto: 1, ttl: 63, id: 4321 }, ICMP);
const INNER_ETH = c.ether('02:00:00:00:01:02', '02:00:00:00:01:01', 0x0800, INNER4);
const INNER6 = c.ipv6({ src: 'fd42::1', dst: 'fd42::2', next: 17, hlim: 9 }, c.udp(41000, 40404, Buffer.from('hello')));
const o4 = (proto: number, p: Buffer): Buffer =>
  c.ether('02:00:00:00:00:02', '02:00:00:00:00:01', 0x0800, c.ipv4({ src: '10.42.0.1', dst: '10.42.0.2', proto }, p));
const o6 = (next: number, p: Buffer): Buffer =>
  c.ether('02:00:00:00:00:02', '02:00:00:00:00:01', 0x86dd, c.ipv6({ src: 'fd42:1::1', dst: 'fd42:1::2', next }, p));

interface Case {
  name: string;
  frame: Buffer;
  kind: number;
  id: number;
  /** Layer bit of the tunnel header and where it starts in the frame (for the prefix test). */
  layer: number;
  hdrOff: number;
  hdrLen: number;
  /** tcpdump 4.99 prints this one as we do (ERSPAN: it shows only "gre-proto-0x88be"). */
  tcpdump: boolean;
}

const GENEVE_OPTS = Buffer.concat([c.geneveOption(0x0102, 0x80, Buffer.from([1, 2, 3, 4])), c.geneveOption(0x0103, 0x01, Buffer.alloc(0))]);

const CASES: Case[] = [
  { name: 'vxlan-8472', frame: o4(17, c.udp(40000, 8472, c.vxlan(42, INNER_ETH))), kind: TUNNEL.VXLAN, id: 42, layer: L.VXLAN, hdrOff: 42, hdrLen: 8, tcpdump: false },
  { name: 'vxlan-4789', frame: o4(17, c.udp(40000, 4789, c.vxlan(7, INNER_ETH))), kind: TUNNEL.VXLAN, id: 7, layer: L.VXLAN, hdrOff: 42, hdrLen: 8, tcpdump: true },
  { name: 'geneve', frame: o4(17, c.udp(40000, 6081, c.geneve({ vni: 7 }, INNER_ETH))), kind: TUNNEL.GENEVE, id: 7, layer: L.GENEVE, hdrOff: 42, hdrLen: 8, tcpdump: true },
  {
    name: 'geneve-options',
    frame: o4(17, c.udp(40000, 6081, c.geneve({ vni: 0x123456, oam: true, critical: true, options: GENEVE_OPTS }, INNER_ETH))),
    kind: TUNNEL.GENEVE,
    id: 0x123456,
    layer: L.GENEVE,
    hdrOff: 42,
    hdrLen: 8 + GENEVE_OPTS.length,
    tcpdump: true,
  },
  { name: 'geneve-ipv4', frame: o4(17, c.udp(40000, 6081, c.geneve({ vni: 8, proto: 0x0800 }, INNER4))), kind: TUNNEL.GENEVE, id: 8, layer: L.GENEVE, hdrOff: 42, hdrLen: 8, tcpdump: true },
  { name: 'ipip', frame: o4(4, INNER4), kind: TUNNEL.IPIP, id: -1, layer: L.IPIP, hdrOff: 34, hdrLen: 1, tcpdump: true },
  { name: 'ip6-in-ip4', frame: o4(41, INNER6), kind: TUNNEL.IP6IP, id: -1, layer: L.IPIP, hdrOff: 34, hdrLen: 1, tcpdump: true },
  { name: 'ip4-in-ip6', frame: o6(4, INNER4), kind: TUNNEL.IPIP, id: -1, layer: L.IPIP, hdrOff: 54, hdrLen: 1, tcpdump: true },
  { name: 'ip6-in-ip6', frame: o6(41, INNER6), kind: TUNNEL.IP6IP, id: -1, layer: L.IPIP, hdrOff: 54, hdrLen: 1, tcpdump: true },
  { name: 'gre', frame: o4(47, c.gre({ proto: 0x0800 }, INNER4)), kind: TUNNEL.GRE, id: -1, layer: L.GRE, hdrOff: 34, hdrLen: 4, tcpdump: true },
  {
    name: 'gre-csum-key-seq',
    frame: o4(47, c.gre({ proto: 0x0800, key: 77, seq: 5, checksum: true }, INNER4)),
    kind: TUNNEL.GRE,
    id: 77,
    layer: L.GRE,
    hdrOff: 34,
    hdrLen: 16,
    tcpdump: true,
  },
  { name: 'gre-ipv6', frame: o4(47, c.gre({ proto: 0x86dd, key: 0xfffffffe }, INNER6)), kind: TUNNEL.GRE, id: 0xfffffffe, layer: L.GRE, hdrOff: 34, hdrLen: 8, tcpdump: true },
  { name: 'gretap', frame: o4(47, c.gre({ proto: 0x6558, key: 9 }, INNER_ETH)), kind: TUNNEL.GRE, id: 9, layer: L.GRE, hdrOff: 34, hdrLen: 8, tcpdump: true },
  { name: 'gre-over-ipv6', frame: o6(47, c.gre({ proto: 0x0800, key: 12 }, INNER4)), kind: TUNNEL.GRE, id: 12, layer: L.GRE, hdrOff: 54, hdrLen: 8, tcpdump: true },
  { name: 'erspan-1', frame: o4(47, c.gre({ proto: 0x88be }, INNER_ETH)), kind: TUNNEL.ERSPAN, id: -1, layer: L.GRE, hdrOff: 34, hdrLen: 4, tcpdump: false },
  {
    name: 'erspan-2',
    frame: o4(47, c.gre({ proto: 0x88be, seq: 1 }, c.erspan({ version: 1, session: 100, vlan: 5, cos: 3, en: 2, truncated: true, index: 0x12345 }, INNER_ETH))),
    kind: TUNNEL.ERSPAN,
    id: 100,
    layer: L.ERSPAN,
    hdrOff: 42,
    hdrLen: 8,
    tcpdump: false,
  },
  {
    name: 'erspan-3',
    frame: o4(47, c.gre({ proto: 0x22eb, seq: 2 }, c.erspan({ version: 2, session: 1023, vlan: 6, cos: 5, timestamp: 12345, sgt: 3, hwid: 4, direction: 1, granularity: 3 }, INNER_ETH))),
    kind: TUNNEL.ERSPAN,
    id: 1023,
    layer: L.ERSPAN,
    hdrOff: 42,
    hdrLen: 12,
    tcpdump: false,
  },
  {
    name: 'erspan-3-platform',
    frame: o4(47, c.gre({ proto: 0x22eb, seq: 3 }, c.erspan({ version: 2, session: 201, platform: Buffer.alloc(8, 0) }, INNER_ETH))),
    kind: TUNNEL.ERSPAN,
    id: 201,
    layer: L.ERSPAN,
    hdrOff: 42,
    hdrLen: 20,
    tcpdump: false,
  },
];

function decode(frame: Buffer, caplen = frame.length, view = new PacketView()): PacketView {
  return decodePacket(view, frame, 0, caplen, frame.length, LinkType.EN10MB);
}

function rec(frame: Buffer, i: number): PacketRecord {
  return { buf: frame, offset: 0, caplen: frame.length, len: frame.length, tsSec: 1795848999 + i, tsNsec: 566651000, linktype: LinkType.EN10MB, ifIndex: 0, iface: undefined };
}

/** tshark fields, each with every occurrence (outer|inner). */
const FIELDS = [
  'eth.src',
  'eth.dst',
  'eth.type',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'ip.ttl',
  'ip.id',
  'ip.len',
  'ipv6.src',
  'ipv6.dst',
  'ipv6.nxt',
  'ipv6.hlim',
  'ipv6.plen',
  'udp.srcport',
  'udp.dstport',
  'udp.length',
  'icmp.type',
  'icmp.ident',
  'icmp.seq',
  'vxlan.vni',
  'vxlan.flags',
  'geneve.version',
  'geneve.flags.oam',
  'geneve.flags.critical',
  'geneve.proto_type',
  'geneve.vni',
  'geneve.options',
  'gre.flags_and_version',
  'gre.proto',
  'gre.checksum',
  'gre.key',
  'gre.sequence_number',
  'erspan.version',
  'erspan.vlan',
  'erspan.cos',
  'erspan.encap',
  'erspan.bso',
  'erspan.truncated',
  'erspan.spanid',
  'erspan.index',
  'erspan.timestamp',
  'erspan.sgt',
  'erspan.hw',
  'erspan.direction',
  'erspan.gra',
  'erspan.o',
] as const;
type Field = (typeof FIELDS)[number];

const hex = (n: number, d: number): string => `0x${n.toString(16).padStart(d, '0')}`;
const bool = (b: boolean | number): string => (b ? 'True' : 'False');

/** Our value of each field for one view (undefined when its layer is absent). */
function fieldsOf(v: PacketView): Partial<Record<Field, string>> {
  const l = v.layers;
  const out: Partial<Record<Field, string>> = {};
  const b = v.buf;
  if (l & L.ETH) {
    out['eth.src'] = macToString(b, v.ethSrcOff);
    out['eth.dst'] = macToString(b, v.ethDstOff);
    out['eth.type'] = hex(v.ethType, 4);
  }
  if (l & L.IPV4) {
    out['ip.src'] = ip4ToString(v.ip4Src);
    out['ip.dst'] = ip4ToString(v.ip4Dst);
    out['ip.proto'] = String(v.ipProto);
    out['ip.ttl'] = String(v.ipTtl);
    out['ip.id'] = hex(v.ipId, 4);
    out['ip.len'] = String(v.ipTotalLen);
  }
  if (l & L.IPV6) {
    out['ipv6.src'] = ip6ToString(b, v.ip6SrcOff);
    out['ipv6.dst'] = ip6ToString(b, v.ip6DstOff);
    out['ipv6.nxt'] = String(v.ip6Next);
    out['ipv6.hlim'] = String(v.ip6Hlim);
    out['ipv6.plen'] = String(v.ip6Plen);
  }
  if (l & L.UDP) {
    out['udp.srcport'] = String(v.sport);
    out['udp.dstport'] = String(v.dport);
    out['udp.length'] = String(v.udpLen);
  }
  if (l & L.ICMP) {
    out['icmp.type'] = String(v.icmpType);
    if (v.icmpType === 0 || v.icmpType === 8) {
      out['icmp.ident'] = String(v.icmpId);
      out['icmp.seq'] = String(v.icmpSeq);
    }
  }
  if (l & L.VXLAN) {
    out['vxlan.vni'] = String(v.vni);
    out['vxlan.flags'] = hex(v.vxlanFlags << 8, 4);
  }
  if (l & L.GENEVE) {
    out['geneve.version'] = '0';
    out['geneve.flags.oam'] = bool(v.geneveFlags & 0x80);
    out['geneve.flags.critical'] = bool(v.geneveFlags & 0x40);
    out['geneve.proto_type'] = hex(v.geneveProto, 4);
    out['geneve.vni'] = hex(v.vni, 6);
    if (v.geneveOptLen > 0) out['geneve.options'] = b.subarray(v.tunnelOff + 8, v.tunnelOff + 8 + v.geneveOptLen).toString('hex');
  }
  if (l & L.GRE) {
    out['gre.flags_and_version'] = hex(v.greFlags, 4);
    out['gre.proto'] = hex(v.greProto, 4);
    if (v.greFlags & 0x8000) out['gre.checksum'] = hex(v.greChecksum, 4);
    if (v.greFlags & 0x2000) out['gre.key'] = hex(v.greKey, 8);
    if (v.greFlags & 0x1000) out['gre.sequence_number'] = String(v.greSeq);
  }
  if (l & L.ERSPAN && v.erspanType > 1) {
    out['erspan.version'] = String(v.erspanType - 1);
    out['erspan.vlan'] = String(v.erspanVlan);
    out['erspan.cos'] = String(v.erspanCos);
    out['erspan.truncated'] = bool(v.erspanTruncated);
    out['erspan.spanid'] = String(v.erspanSession);
    if (v.erspanType === 2) {
      out['erspan.encap'] = String(v.erspanEn);
      out['erspan.index'] = String(v.erspanIndex);
    } else {
      out['erspan.bso'] = String(v.erspanEn);
      out['erspan.timestamp'] = String(v.erspanTimestamp);
      out['erspan.sgt'] = String(v.erspanSgt);
      out['erspan.hw'] = String(v.erspanHwId);
      out['erspan.direction'] = bool(v.erspanDirection);
      out['erspan.gra'] = String(v.erspanGranularity);
      out['erspan.o'] = bool(v.erspanPlatform);
    }
  }
  return out;
}

/** Outer and inner values joined as tshark's occurrence=a does ("outer|inner"). */
function ours(v: PacketView): Record<Field, string> {
  const views: PacketView[] = [];
  for (let w: PacketView | null = v; w !== null && w.layers !== 0; w = w.inner) views.push(w);
  const per = views.map(fieldsOf);
  const quoting = views.find((w) => (w.layers & L.ICMP_INNER) !== 0);
  if (quoting !== undefined) {
    // tshark dissects the datagram an ICMP error quotes as one more IPv4 (+ UDP) occurrence.
    const q: Partial<Record<Field, string>> = {
      'ip.src': ip4ToString(quoting.icmpInnerSrc),
      'ip.dst': ip4ToString(quoting.icmpInnerDst),
      'ip.proto': String(quoting.icmpInnerProto),
    };
    if (quoting.icmpInnerSport >= 0) {
      q['udp.srcport'] = String(quoting.icmpInnerSport);
      q['udp.dstport'] = String(quoting.icmpInnerDport);
    }
    per.push(q);
  }
  return Object.fromEntries(FIELDS.map((f) => [f, per.map((p) => p[f]).filter((x) => x !== undefined).join('|')])) as Record<Field, string>;
}

function tsharkRows(file: string, extra: string[] = []): Array<Record<Field, string>> {
  const args = ['-r', file, ...extra, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=|'];
  for (const f of FIELDS) args.push('-e', f);
  return execFileSync('tshark', args, { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .split('\n')
    .filter((x) => x !== '')
    .map((row) => {
      const cols = row.split('\t');
      // tshark prints booleans of bit fields as 1/0 in -T fields; erspan.o/direction/truncated too.
      return Object.fromEntries(FIELDS.map((f, j) => [f, normalizeTshark(f, cols[j] ?? '')])) as Record<Field, string>;
    });
}

function normalizeTshark(f: Field, s: string): string {
  if (f === 'geneve.flags.oam' || f === 'geneve.flags.critical' || f === 'erspan.truncated' || f === 'erspan.direction' || f === 'erspan.o') {
    return s
      .split('|')
      .map((x) => (x === '1' ? 'True' : x === '0' ? 'False' : x))
      .join('|');
  }
  if (f === 'vxlan.flags' || f === 'gre.flags_and_version') {
    return s
      .split('|')
      .map((x) => (x === '' ? x : hex(Number(x), 4)))
      .join('|');
  }
  return s;
}

function tcpdumpLines(file: string, extra: string[] = []): string[] {
  return execFileSync('tcpdump', ['-nn', ...extra, '-r', file], { env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .split('\n')
    .filter((x) => x !== '');
}

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-tunnels-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('tunnel decode', () => {
  it.each(CASES.map((k) => [k.name, k] as const))('%s: kind, id and the inner frame', (_name, k) => {
    const v = decode(k.frame);
    expect(v.truncated).toBe(0);
    expect(v.malformed).toBe(0);
    expect(v.layers & k.layer).toBe(k.layer);
    expect([TUNNEL_NAMES[v.tunnelKind], v.tunnelId]).toEqual([TUNNEL_NAMES[k.kind], k.id]);
    const inner = v.inner as PacketView;
    expect(inner.depth).toBe(1);
    expect(inner.truncated).toBe(0);
    expect(inner.layers & (L.ICMP | L.UDP)).not.toBe(0);
    // The outer payload is the whole inner frame.
    expect(v.payloadOff).toBe(inner.base);
    expect(v.payloadOff + v.payloadWireLen).toBe(k.frame.length);
  });

  it('the tunnel fields are reset for a packet without a tunnel', () => {
    const v = new PacketView();
    decode(CASES[0].frame, undefined, v);
    decode(c.ether('02:00:00:00:00:02', '02:00:00:00:00:01', 0x0800, INNER4), undefined, v);
    expect([v.tunnelKind, v.tunnelId, v.tunnelOff]).toEqual([TUNNEL.NONE, -1, -1]);
  });

  it('every prefix: never throws, the layer where it stops is exact', () => {
    for (const k of CASES) {
      // Headers end where the innermost payload (echo data, UDP data) starts: a cut there is no truncation.
      const headersEnd = k.frame.length - (decode(k.frame).inner as PacketView).payloadWireLen;
      for (let n = 0; n <= k.frame.length; n++) {
        const v = decode(k.frame, n);
        const where = `${k.name} caplen ${n}`;
        if (n < k.hdrOff) {
          expect({ where, tunnel: v.layers & k.layer }).toEqual({ where, tunnel: 0 });
          expect({ where, cut: v.truncated !== 0 }).toEqual({ where, cut: true });
        } else if (n < k.hdrOff + k.hdrLen) {
          expect({ where, truncated: v.truncated }).toEqual({ where, truncated: k.layer });
          expect({ where, kind: v.tunnelKind }).toEqual({ where, kind: TUNNEL.NONE });
        } else {
          // The tunnel header is whole: the outer packet is fine, the inner frame says where it was cut.
          expect({ where, truncated: v.truncated, kind: v.tunnelKind }).toEqual({ where, truncated: 0, kind: k.kind });
          const inner = v.inner as PacketView;
          expect({ where, innerCut: inner.truncated !== 0 }).toEqual({ where, innerCut: n < headersEnd });
        }
      }
    }
  });

  it('malformed headers are values, with their reason', () => {
    const bad = (frame: Buffer): string => {
      const v = decode(frame);
      return toJson(v, rec(frame, 0), 1);
    };
    expect(bad(o4(17, c.udp(1, 6081, c.geneve({ vni: 1, version: 1 }, INNER_ETH))))).toContain('"malformed":"geneve: version 1 != 0"');
    expect(bad(o4(17, c.udp(1, 6081, c.geneve({ vni: 1, optWords: 63 }, INNER_ETH))))).toContain('"malformed":"geneve: options (252 bytes) run past the datagram"');
    // An option whose own length runs past the option area.
    const badOpt = Buffer.from([0x01, 0x02, 0x80, 0x05, 1, 2, 3, 4]);
    expect(bad(o4(17, c.udp(1, 6081, c.geneve({ vni: 1, options: badOpt }, INNER_ETH))))).toContain('"malformed":"geneve: options (8 bytes) run past the datagram"');
    expect(bad(o4(47, c.gre({ proto: 0x0800, version: 1 }, INNER4)))).toContain('"malformed":"gre: version 1 != 0"');
    const routed = c.gre({ proto: 0x0800 }, INNER4);
    routed[0] |= 0x40;
    expect(bad(o4(47, routed))).toContain('"malformed":"gre: source routing not supported"');
    expect(bad(o4(47, c.gre({ proto: 0x22eb, seq: 1 }, c.erspan({ version: 1, session: 1 }, INNER_ETH))))).toContain('"malformed":"erspan: version field 1');
  });

  it('nesting stops at MAX_TUNNEL_DEPTH: the innermost tunnel payload stays payload', () => {
    let frame = INNER_ETH;
    for (let i = 0; i < MAX_TUNNEL_DEPTH + 1; i++) frame = o4(17, c.udp(40000, 4789, c.vxlan(100 + i, frame)));
    const v = decode(frame);
    const ids: number[] = [];
    let last = v;
    for (let w: PacketView | null = v; w !== null; w = w.inner) {
      if (w.tunnelKind !== TUNNEL.NONE) ids.push(w.tunnelId);
      last = w;
    }
    // The deepest view still reads its tunnel header, but has no view left for what the tunnel carries.
    expect(ids).toEqual([102, 101, 100]);
    expect(last.depth).toBe(MAX_TUNNEL_DEPTH);
    expect(last.inner).toBeNull();
    expect(last.layers).toBe(L.ETH | L.IPV4 | L.UDP | L.VXLAN);
    expect(last.payloadWireLen).toBe(INNER_ETH.length);
  });

  it('--vxlan-port: a port table makes another UDP port VXLAN; 4789 and 8472 stay', () => {
    const f = o4(17, c.udp(40000, 9999, c.vxlan(5, INNER_ETH)));
    expect(decode(f).layers & L.VXLAN).toBe(0);
    const v = new PacketView();
    v.setTunnelPorts(tunnelPortTable([9999]));
    expect(decode(f, undefined, v).tunnelId).toBe(5);
    expect(decode(CASES[0].frame, undefined, v).tunnelId).toBe(42);
    for (let w: PacketView | null = v; w !== null; w = w.inner) expect(w.tunnelPorts[9999]).toBe(1);
  });
});

describe('tunnels against tshark and tcpdump (same file, same run)', () => {
  let file = '';
  beforeAll(() => {
    file = path.join(dir, 'tunnels.pcap');
    fs.writeFileSync(file, c.pcapFile(LinkType.EN10MB, CASES.map((k) => ({ frame: k.frame }))));
  });

  it('every field, outer and inner, as tshark dissects it', () => {
    const rows = tsharkRows(file, ['-d', 'udp.port==8472,vxlan']);
    expect(rows).toHaveLength(CASES.length);
    CASES.forEach((k, i) => {
      expect({ name: k.name, ...ours(decode(k.frame)) }).toEqual({ name: k.name, ...rows[i] });
    });
  });

  it('text: tcpdump -nn and -nn -e line for line (8472: tcpdump calls it OTV; ERSPAN: tcpdump 4.99 stops at GRE)', () => {
    for (const ether of [false, true]) {
      const theirs = tcpdumpLines(file, ether ? ['-e'] : []);
      const mine = CASES.flatMap((k, i) => formatLine(decode(k.frame), rec(k.frame, i), { ether }).split('\n'));
      expect(mine).toHaveLength(theirs.length);
      let line = 0;
      for (const k of CASES) {
        const n = k.kind === TUNNEL.VXLAN ? 2 : 1;
        const t = theirs.slice(line, line + n);
        const m = mine.slice(line, line + n);
        line += n;
        if (k.tcpdump) expect({ name: k.name, text: m }).toEqual({ name: k.name, text: t });
        else if (k.kind === TUNNEL.VXLAN) {
          const otv = t[0].replace(/OTV, flags \[I\] \(0x08\), overlay 0, instance (\d+)/, 'VXLAN, flags [I] (0x08), vni $1');
          expect({ name: k.name, text: m }).toEqual({ name: k.name, text: [otv, t[1]] });
        } else {
          // ERSPAN: the same up to GRE's "length N: ", where tcpdump prints gre-proto-0x88be and we go on.
          const cut = t[0].indexOf('gre-proto-0x');
          expect({ name: k.name, text: m[0].slice(0, cut) }).toEqual({ name: k.name, text: t[0].slice(0, cut) });
          expect(m[0].slice(cut)).toMatch(/^ERSPAN type (I|II|III)/);
          expect(m[0].endsWith('ICMP echo request, id 77, seq 3, length 24')).toBe(true);
        }
      }
    }
  });
});

describe('fixtures/pcap/vxlan8472.pcap (kernel VXLAN on port 8472, made by make-vxlan8472.sh)', () => {
  const FIXTURE = path.join(__dirname, '..', '..', 'fixtures', 'pcap', 'vxlan8472.pcap');

  function views(): PacketView[] {
    const out: PacketView[] = [];
    const p = new CaptureParser((r) => {
      // A view per record (copied bytes) so the list can be compared after parsing.
      const buf = Buffer.from(r.buf.subarray(r.offset, r.offset + r.caplen));
      out.push(decodePacket(new PacketView(), buf, 0, r.caplen, r.len, r.linktype));
    });
    p.push(fs.readFileSync(FIXTURE));
    p.end();
    return out;
  }

  it('every packet is VXLAN vni 42 with a decoded inner frame, field for field as tshark', () => {
    const vs = views();
    expect(vs.length).toBeGreaterThanOrEqual(18);
    const rows = tsharkRows(FIXTURE, ['-d', 'udp.port==8472,vxlan']);
    expect(rows).toHaveLength(vs.length);
    vs.forEach((v, i) => {
      expect([v.tunnelKind, v.tunnelId, v.dport]).toEqual([TUNNEL.VXLAN, 42, 8472]);
      expect((v.inner as PacketView).layers & L.ETH).toBe(L.ETH);
      const mine = ours(v);
      const theirs = { ...rows[i] };
      // The quoted datagram's id/ttl/length fields are not in the view: compare the occurrences it has.
      for (const f of ['ip.id', 'ip.ttl', 'ip.len', 'udp.length'] as const) {
        const n = mine[f] === '' ? 0 : mine[f].split('|').length;
        theirs[f] = theirs[f].split('|').slice(0, n).join('|');
      }
      expect({ i, ...mine }).toEqual({ i, ...theirs });
    });
    // The kernel's traffic: ARP, ICMP echo, a UDP datagram and its port unreachable, a TCP connection.
    const inner = vs.map((v) => (v.inner as PacketView).layers);
    for (const bit of [L.ARP, L.ICMP, L.UDP, L.TCP]) expect(inner.some((l) => (l & bit) !== 0)).toBe(true);
  });
});
