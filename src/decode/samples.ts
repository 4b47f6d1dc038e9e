/**
 * A catalogue of crafted frames, one or more per protocol and link type the decoder handles. Shared by the
 * decoder/filter tests (happy path, every-prefix truncation, corruption) and the decode benchmark.
 */
import { LinkType } from '../pcap/record';
import * as c from './craft';

export interface SampleFrame {
  name: string;
  linktype: number;
  frame: Buffer;
}

const A = '6a:fc:26:3f:99:48';
const B = 'fe:e1:d8:10:1a:de';
const BCAST = 'ff:ff:ff:ff:ff:ff';

function icmpEchoIp(type: 0 | 8 = 8): Buffer {
  return c.ipv4({ src: '10.244.1.2', dst: '10.244.1.3', proto: 1, id: 9733, df: true }, c.icmpEcho(type, 5841, 1));
}

function tcpSyn(): Buffer {
  // MSS, SACK-permitted, timestamps, NOP, window scale: a real 40-byte SYN header.
  const opts = Buffer.from('020405b40402080a0001e2400000000001030307', 'hex');
  return c.ipv4(
    { src: '10.244.1.2', dst: '10.244.1.3', proto: 6, id: 4242, df: true },
    c.tcp({ sport: 41234, dport: 80, seq: 123, flags: 'S', win: 64240, options: opts }),
  );
}

export function sampleFrames(): SampleFrame[] {
  const E = LinkType.EN10MB;
  const udpDns = c.ipv4({ src: '10.244.1.2', dst: '10.244.1.3', proto: 17, id: 7 }, c.udp(40000, 5353, Buffer.alloc(12, 1)));
  const quotedUdp = c.ipv4({ src: '10.244.1.2', dst: '10.244.1.3', proto: 17, id: 77, ttl: 1 }, c.udp(40000, 33434, Buffer.alloc(0)));
  const inner = c.ether(B, A, 0x0800, icmpEchoIp());
  const ns = c.ipv6(
    { src: 'fe80::1', dst: 'ff02::1:ff00:2', next: 58, hlim: 255 },
    c.icmp6('fe80::1', 'ff02::1:ff00:2', 135, 0, c.ndpBody('fe80::2', 0, Buffer.from('01016afc263f9948', 'hex'))),
  );
  const tcpData = c.ipv4(
    { src: '10.244.1.3', dst: '10.244.1.2', proto: 6, id: 5, df: true },
    c.tcp({ sport: 80, dport: 41234, seq: 1000, ack: 124, flags: 'PA', win: 502 }, Buffer.from('HTTP/1.1 200 OK\r\n\r\n')),
  );
  return [
    { name: 'icmp-echo-request', linktype: E, frame: c.ether(B, A, 0x0800, icmpEchoIp(8)) },
    { name: 'icmp-echo-reply', linktype: E, frame: c.ether(A, B, 0x0800, icmpEchoIp(0)) },
    { name: 'arp-request', linktype: E, frame: c.ether(BCAST, A, 0x0806, c.arp(1, A, '10.244.1.2', '00:00:00:00:00:00', '10.244.1.3')) },
    { name: 'arp-reply', linktype: E, frame: c.ether(A, B, 0x0806, c.arp(2, B, '10.244.1.3', A, '10.244.1.2')) },
    { name: 'tcp-syn', linktype: E, frame: c.ether(B, A, 0x0800, tcpSyn()) },
    { name: 'tcp-data', linktype: E, frame: c.ether(A, B, 0x0800, tcpData) },
    { name: 'udp', linktype: E, frame: c.ether(B, A, 0x0800, udpDns) },
    {
      name: 'ipv4-options-udp',
      linktype: E,
      frame: c.ether(
        B,
        A,
        0x0800,
        c.ipv4(
          { src: '10.244.1.2', dst: '10.244.1.3', proto: 17, options: Buffer.from('94040000', 'hex') },
          c.udp(1000, 2000, Buffer.alloc(4)),
        ),
      ),
    },
    {
      name: 'icmp-port-unreachable',
      linktype: E,
      frame: c.ether(A, B, 0x0800, c.ipv4({ src: '10.244.1.3', dst: '10.244.1.2', proto: 1 }, c.icmpError(3, 3, quotedUdp))),
    },
    {
      name: 'icmp-time-exceeded',
      linktype: E,
      frame: c.ether(A, B, 0x0800, c.ipv4({ src: '10.244.0.1', dst: '10.244.1.2', proto: 1 }, c.icmpError(11, 0, quotedUdp))),
    },
    {
      name: 'icmp-redirect',
      linktype: E,
      frame: c.ether(
        A,
        B,
        0x0800,
        c.ipv4({ src: '10.244.0.1', dst: '10.244.1.2', proto: 1 }, c.icmpError(5, 1, quotedUdp, 0x0af40005)),
      ),
    },
    {
      name: 'ipv4-first-fragment',
      linktype: E,
      frame: c.ether(
        B,
        A,
        0x0800,
        c.ipv4({ src: '10.244.1.2', dst: '10.244.1.3', proto: 17, id: 300, mf: true }, Buffer.concat([c.udp(5000, 6000, Buffer.alloc(1572)).subarray(0, 1480)])),
      ),
    },
    {
      name: 'ipv4-later-fragment',
      linktype: E,
      frame: c.ether(B, A, 0x0800, c.ipv4({ src: '10.244.1.2', dst: '10.244.1.3', proto: 17, id: 300, fragOff: 1480 }, Buffer.alloc(100, 7))),
    },
    { name: 'vlan-icmp', linktype: E, frame: c.ether(B, A, 0x0800, icmpEchoIp(), [{ id: 100 }]) },
    {
      name: 'qinq-tcp',
      linktype: E,
      frame: c.ether(B, A, 0x0800, tcpSyn(), [{ id: 10, tpid: 0x88a8, pcp: 3 }, { id: 100 }]),
    },
    { name: 'ipv6-ns', linktype: E, frame: c.ether('33:33:ff:00:00:02', A, 0x86dd, ns) },
    {
      name: 'ipv6-na',
      linktype: E,
      frame: c.ether(
        A,
        B,
        0x86dd,
        c.ipv6({ src: 'fe80::2', dst: 'fe80::1', next: 58, hlim: 255 }, c.icmp6('fe80::2', 'fe80::1', 136, 0, c.ndpBody('fe80::2', 0x60000000))),
      ),
    },
    {
      name: 'ipv6-echo',
      linktype: E,
      frame: c.ether(
        B,
        A,
        0x86dd,
        c.ipv6(
          { src: 'fd00:10:244::2', dst: 'fd00:10:244::3', next: 58 },
          c.icmp6('fd00:10:244::2', 'fd00:10:244::3', 128, 0, Buffer.concat([Buffer.from('00070001', 'hex'), Buffer.alloc(56, 0x61)])),
        ),
      ),
    },
    {
      name: 'ipv6-ext-tcp',
      linktype: E,
      frame: c.ether(
        B,
        A,
        0x86dd,
        c.ipv6(
          { src: 'fd00:10:244::2', dst: 'fd00:10:244::3', next: 0 },
          Buffer.concat([c.ip6Ext(60), c.ip6Ext(51), c.ip6Ah(6), c.tcp({ sport: 5555, dport: 443, seq: 9, flags: 'S' })]),
        ),
      ),
    },
    {
      name: 'ipv6-first-fragment',
      linktype: E,
      frame: c.ether(
        B,
        A,
        0x86dd,
        c.ipv6({ src: 'fd00:10:244::2', dst: 'fd00:10:244::3', next: 44 }, Buffer.concat([c.ip6Frag(17, 0, true, 0x1234), c.udp(7000, 8000, Buffer.alloc(32))])),
      ),
    },
    {
      name: 'ipv6-later-fragment',
      linktype: E,
      frame: c.ether(
        B,
        A,
        0x86dd,
        c.ipv6({ src: 'fd00:10:244::2', dst: 'fd00:10:244::3', next: 44 }, Buffer.concat([c.ip6Frag(17, 1448, false, 0x1234), Buffer.alloc(40, 9)])),
      ),
    },
    {
      name: 'vxlan-icmp',
      linktype: E,
      frame: c.ether(B, A, 0x0800, c.ipv4({ src: '10.42.0.1', dst: '10.42.0.2', proto: 17 }, c.udp(54321, 4789, c.vxlan(42, inner)))),
    },
    { name: 'sll-icmp', linktype: LinkType.LINUX_SLL, frame: c.sll(0x0800, icmpEchoIp()) },
    { name: 'sll2-tcp', linktype: LinkType.LINUX_SLL2, frame: c.sll2(0x0800, tcpSyn()) },
    { name: 'raw-ipv4', linktype: LinkType.RAW, frame: icmpEchoIp() },
    { name: 'raw-ipv6', linktype: LinkType.RAW, frame: ns },
    { name: 'linktype-ipv4', linktype: LinkType.IPV4, frame: tcpSyn() },
    { name: 'linktype-ipv6', linktype: LinkType.IPV6, frame: ns },
    { name: 'null-ipv4', linktype: LinkType.NULL, frame: c.nullHdr(2, icmpEchoIp()) },
    { name: 'loop-ipv6', linktype: LinkType.LOOP, frame: c.nullHdr(30, ns, true) },
  ];
}
