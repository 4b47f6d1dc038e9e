/**
 * Cross-check: the decoder's fields against tshark's dissection of the same crafted bytes (one pcap per
 * link type, written here). Skipped only when tshark is not installed.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { decodePacket } from '../../src/decode/decode';
import { pcapFile } from '../../src/decode/craft';
import { ip4ToString, ip6ToString, macToString } from '../../src/decode/format';
import { sampleFrames, type SampleFrame } from '../../src/decode/samples';
import { L, PacketView } from '../../src/decode/view';
import { tryRun } from '../helpers/netns';

const haveTshark = tryRun('tshark', ['--version']);

const FIELDS = [
  'eth.src',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'ip.ttl',
  'ip.id',
  'ip.len',
  'ip.hdr_len',
  'ip.frag_offset',
  'ipv6.src',
  'ipv6.dst',
  'ipv6.hlim',
  'ipv6.plen',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.hdr_len',
  'tcp.window_size_value',
  'udp.srcport',
  'udp.dstport',
  'udp.length',
  'icmp.type',
  'icmp.code',
  'icmpv6.type',
  'icmpv6.nd.ns.target_address',
  'vxlan.vni',
  'arp.opcode',
  'arp.src.proto_ipv4',
  'arp.dst.proto_ipv4',
] as const;
type Field = (typeof FIELDS)[number];

/** What our view says for each tshark field ('' when the layer is absent, as tshark prints it). */
function ours(v: PacketView): Record<Field, string> {
  const l = v.layers;
  const has = (bit: number): boolean => (l & bit) !== 0;
  const n = (bit: number, x: number): string => (has(bit) ? String(x) : '');
  return {
    'eth.src': has(L.ETH) ? macToString(v.buf, v.ethSrcOff) : '',
    'ip.src': has(L.IPV4) ? ip4ToString(v.ip4Src) : '',
    'ip.dst': has(L.IPV4) ? ip4ToString(v.ip4Dst) : '',
    'ip.proto': n(L.IPV4, v.ipProto),
    'ip.ttl': n(L.IPV4, v.ipTtl),
    'ip.id': has(L.IPV4) ? `0x${v.ipId.toString(16).padStart(4, '0')}` : '',
    'ip.len': n(L.IPV4, v.ipTotalLen),
    'ip.hdr_len': n(L.IPV4, v.ipHdrLen),
    // tshark 4.0 prints the fragment offset in 8-byte units; the view keeps bytes.
    'ip.frag_offset': n(L.IPV4, v.ipFragOff / 8),
    'ipv6.src': has(L.IPV6) ? ip6ToString(v.buf, v.ip6SrcOff) : '',
    'ipv6.dst': has(L.IPV6) ? ip6ToString(v.buf, v.ip6DstOff) : '',
    'ipv6.hlim': n(L.IPV6, v.ip6Hlim),
    'ipv6.plen': n(L.IPV6, v.ip6Plen),
    'tcp.srcport': n(L.TCP, v.sport),
    'tcp.dstport': n(L.TCP, v.dport),
    'tcp.seq_raw': n(L.TCP, v.tcpSeq),
    'tcp.ack_raw': n(L.TCP, v.tcpAck),
    'tcp.hdr_len': n(L.TCP, v.tcpHdrLen),
    'tcp.window_size_value': n(L.TCP, v.tcpWin),
    'udp.srcport': n(L.UDP, v.sport),
    'udp.dstport': n(L.UDP, v.dport),
    'udp.length': n(L.UDP, v.udpLen),
    'icmp.type': n(L.ICMP, v.icmpType),
    'icmp.code': n(L.ICMP, v.icmpCode),
    'icmpv6.type': n(L.ICMPV6, v.icmp6Type),
    'icmpv6.nd.ns.target_address': has(L.ICMPV6) && v.icmp6Type === 135 ? ip6ToString(v.buf, v.icmp6TargetOff) : '',
    'vxlan.vni': n(L.VXLAN, v.vni),
    'arp.opcode': n(L.ARP, v.arpOp),
    'arp.src.proto_ipv4': has(L.ARP) ? ip4ToString(v.arpSpa) : '',
    'arp.dst.proto_ipv4': has(L.ARP) ? ip4ToString(v.arpTpa) : '',
  };
}

(haveTshark ? describe : describe.skip)('decoder agrees with tshark on crafted frames', () => {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-tshark-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const byType = new Map<number, SampleFrame[]>();
  for (const s of sampleFrames()) byType.set(s.linktype, [...(byType.get(s.linktype) ?? []), s]);

  it.each([...byType.entries()].map(([lt, ss]) => [lt, ss] as const))('linktype %i', (lt, ss) => {
    const file = path.join(dir, `lt${lt}.pcap`);
    fs.writeFileSync(file, pcapFile(lt, ss.map((s) => ({ frame: s.frame }))));
    // No reassembly: judge each fragment on its own bytes, as the decoder does.
    const args = ['-r', file, '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=f'];
    for (const f of FIELDS) args.push('-e', f);
    const rows = execFileSync('tshark', args, { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .split('\n')
      .filter((x) => x !== '');
    expect(rows).toHaveLength(ss.length);
    ss.forEach((s, i) => {
      const cols = rows[i].split('|');
      const theirs = Object.fromEntries(FIELDS.map((f, j) => [f, cols[j] ?? ''])) as Record<Field, string>;
      const v = decodePacket(new PacketView(), s.frame, 0, s.frame.length, s.frame.length, lt);
      const mine = ours(v);
      if (v.layers & L.VXLAN && v.inner) {
        // occurrence=f: a field only the encapsulated frame has comes from the inner view.
        const inner = ours(v.inner);
        for (const f of FIELDS) if (mine[f] === '') mine[f] = inner[f];
      }
      if (v.layers & L.ICMP_INNER && v.icmpInnerProto === 17) {
        // tshark dissects the datagram quoted in an ICMP error as UDP: compare our quoted ports with it
        // (the quoted UDP length is not something the view keeps).
        mine['udp.srcport'] = String(v.icmpInnerSport);
        mine['udp.dstport'] = String(v.icmpInnerDport);
        mine['udp.length'] = theirs['udp.length'];
      }
      expect({ name: s.name, ...mine }).toEqual({ name: s.name, ...theirs });
    });
  });
});
