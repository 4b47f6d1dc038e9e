import { decodePacket, decodeRecord } from '../../src/decode/decode';
import * as c from '../../src/decode/craft';
import {
  describeProblem,
  formatLine,
  ip4ToString,
  ip6ToString,
  macToString,
  protocolName,
  toJson,
} from '../../src/decode/format';
import { sampleFrames, type SampleFrame } from '../../src/decode/samples';
import { L, M, MAX_TUNNEL_DEPTH, PacketView, TUNNEL } from '../../src/decode/view';
import { parseIp6 } from '../../src/decode/addr';
import { canonicalIp } from '../../src/topology/cidr';
import { LinkType, type PacketRecord } from '../../src/pcap/record';

process.env.TZ = 'UTC';

function rec(frame: Buffer, linktype: number, extra: Partial<PacketRecord> = {}): PacketRecord {
  return {
    buf: frame,
    offset: 0,
    caplen: frame.length,
    len: frame.length,
    tsSec: 1795848999,
    tsNsec: 566651000,
    linktype,
    ifIndex: 0,
    iface: undefined,
    ...extra,
  };
}

const samples = new Map<string, SampleFrame>(sampleFrames().map((s) => [s.name, s]));
function sample(name: string): SampleFrame {
  const s = samples.get(name);
  if (!s) throw new Error(`no sample ${name}`);
  return s;
}

function decoded(name: string): { v: PacketView; r: PacketRecord } {
  const s = sample(name);
  const r = rec(s.frame, s.linktype);
  const v = new PacketView();
  decodeRecord(v, r);
  return { v, r };
}

function line(name: string, ether = false): string {
  const { v, r } = decoded(name);
  return formatLine(v, r, { ether });
}

describe('text lines (tcpdump -nn; expectations taken from tcpdump 4.99 on the same bytes)', () => {
  const expected: Array<[string, string]> = [
    ['icmp-echo-request', '06:56:39.566651 IP 10.244.1.2 > 10.244.1.3: ICMP echo request, id 5841, seq 1, length 64'],
    ['icmp-echo-reply', '06:56:39.566651 IP 10.244.1.2 > 10.244.1.3: ICMP echo reply, id 5841, seq 1, length 64'],
    ['arp-request', '06:56:39.566651 ARP, Request who-has 10.244.1.3 tell 10.244.1.2, length 28'],
    ['arp-reply', '06:56:39.566651 ARP, Reply 10.244.1.3 is-at fe:e1:d8:10:1a:de, length 28'],
    [
      'tcp-syn',
      '06:56:39.566651 IP 10.244.1.2.41234 > 10.244.1.3.80: Flags [S], seq 123, win 64240, options [mss 1460,sackOK,TS val 123456 ecr 0,nop,wscale 7], length 0',
    ],
    ['tcp-data', '06:56:39.566651 IP 10.244.1.3.80 > 10.244.1.2.41234: Flags [P.], seq 1000:1019, ack 124, win 502, length 19: HTTP: HTTP/1.1 200 OK'],
    ['udp', '06:56:39.566651 IP 10.244.1.2.40000 > 10.244.1.3.5353: UDP, length 12'],
    ['ipv4-options-udp', '06:56:39.566651 IP 10.244.1.2.1000 > 10.244.1.3.2000: UDP, length 4'],
    [
      'icmp-port-unreachable',
      '06:56:39.566651 IP 10.244.1.3 > 10.244.1.2: ICMP 10.244.1.3 udp port 33434 unreachable, length 36',
    ],
    [
      'icmp-time-exceeded',
      '06:56:39.566651 IP 10.244.0.1 > 10.244.1.2: ICMP time exceeded in-transit, length 36',
    ],
    [
      'icmp-redirect',
      '06:56:39.566651 IP 10.244.0.1 > 10.244.1.2: ICMP redirect 10.244.1.3 to host 10.244.0.5, length 36',
    ],
    [
      'ipv4-first-fragment',
      '06:56:39.566651 IP 10.244.1.2.5000 > 10.244.1.3.6000: UDP, length 1572',
    ],
    ['ipv4-later-fragment', '06:56:39.566651 IP 10.244.1.2 > 10.244.1.3: ip-proto-17'],
    ['vlan-icmp', '06:56:39.566651 IP 10.244.1.2 > 10.244.1.3: ICMP echo request, id 5841, seq 1, length 64'],
    ['ipv6-ns', '06:56:39.566651 IP6 fe80::1 > ff02::1:ff00:2: ICMP6, neighbor solicitation, who has fe80::2, length 32'],
    ['ipv6-na', '06:56:39.566651 IP6 fe80::2 > fe80::1: ICMP6, neighbor advertisement, tgt is fe80::2, length 24'],
    ['ipv6-echo', '06:56:39.566651 IP6 fd00:10:244::2 > fd00:10:244::3: ICMP6, echo request, id 7, seq 1, length 64'],
    // tcpdump: "HBH DSTOPT AH(spi=…,seq=…,icv=…): 5555 > 443: …" — the AH details are not printed here.
    ['ipv6-ext-tcp', '06:56:39.566651 IP6 fd00:10:244::2 > fd00:10:244::3: HBH DSTOPT AH 5555 > 443: Flags [S], seq 9, win 64240, length 0'],
    ['ipv6-first-fragment', '06:56:39.566651 IP6 fd00:10:244::2 > fd00:10:244::3: frag (0|40) 7000 > 8000: UDP, length 32'],
    ['ipv6-later-fragment', '06:56:39.566651 IP6 fd00:10:244::2 > fd00:10:244::3: frag (1448|40)'],
    [
      'vxlan-icmp',
      '06:56:39.566651 IP 10.42.0.1.54321 > 10.42.0.2.4789: VXLAN, flags [I] (0x08), vni 42\nIP 10.244.1.2 > 10.244.1.3: ICMP echo request, id 5841, seq 1, length 64',
    ],
    ['sll-icmp', '06:56:39.566651 IP 10.244.1.2 > 10.244.1.3: ICMP echo request, id 5841, seq 1, length 64'],
    ['raw-ipv6', '06:56:39.566651 IP6 fe80::1 > ff02::1:ff00:2: ICMP6, neighbor solicitation, who has fe80::2, length 32'],
    ['null-ipv4', '06:56:39.566651 IP 10.244.1.2 > 10.244.1.3: ICMP echo request, id 5841, seq 1, length 64'],
    ['loop-ipv6', '06:56:39.566651 IP6 fe80::1 > ff02::1:ff00:2: ICMP6, neighbor solicitation, who has fe80::2, length 32'],
  ];
  it.each(expected)('%s', (name, want) => {
    expect(line(name)).toBe(want);
  });

  it('-e style link headers, VLAN and QinQ tags, cooked and loopback headers', () => {
    expect(line('icmp-echo-request', true)).toBe(
      '06:56:39.566651 6a:fc:26:3f:99:48 > fe:e1:d8:10:1a:de, ethertype IPv4 (0x0800), length 98: 10.244.1.2 > 10.244.1.3: ICMP echo request, id 5841, seq 1, length 64',
    );
    expect(line('arp-request', true)).toBe(
      '06:56:39.566651 6a:fc:26:3f:99:48 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 10.244.1.3 tell 10.244.1.2, length 28',
    );
    expect(line('vlan-icmp', true)).toBe(
      '06:56:39.566651 6a:fc:26:3f:99:48 > fe:e1:d8:10:1a:de, ethertype 802.1Q (0x8100), length 102: vlan 100, p 0, ethertype IPv4 (0x0800), 10.244.1.2 > 10.244.1.3: ICMP echo request, id 5841, seq 1, length 64',
    );
    expect(line('qinq-tcp', true)).toContain(
      'ethertype 802.1Q-QinQ (0x88a8), length 82: vlan 10, p 3, ethertype 802.1Q (0x8100), vlan 100, p 0, ethertype IPv4 (0x0800), 10.244.1.2.41234 > 10.244.1.3.80: Flags [S]',
    );
    expect(line('sll-icmp', true)).toBe(
      '06:56:39.566651  In 02:00:00:00:00:01 ethertype IPv4 (0x0800), length 100: 10.244.1.2 > 10.244.1.3: ICMP echo request, id 5841, seq 1, length 64',
    );
    expect(line('null-ipv4', true)).toContain('AF IPv4 (2), length 88: 10.244.1.2 > 10.244.1.3: ICMP echo request');
    expect(line('raw-ipv4', true)).toContain(' ip: 10.244.1.2 > 10.244.1.3: ICMP');
    expect(line('vxlan-icmp', true).split('\n')[1]).toBe(
      '6a:fc:26:3f:99:48 > fe:e1:d8:10:1a:de, ethertype IPv4 (0x0800), length 98: 10.244.1.2 > 10.244.1.3: ICMP echo request, id 5841, seq 1, length 64',
    );
  });

  it('notes truncation and malformation at the end of the line', () => {
    const s = sample('tcp-syn');
    const v = new PacketView();
    decodePacket(v, s.frame, 0, 40, s.frame.length, s.linktype);
    expect(formatLine(v, rec(s.frame, s.linktype, { caplen: 40 }))).toBe('06:56:39.566651 IP 10.244.1.2 > 10.244.1.3: [|tcp]');
    decodePacket(v, s.frame, 0, 20, s.frame.length, s.linktype);
    expect(formatLine(v, rec(s.frame, s.linktype))).toBe('06:56:39.566651 IP [|ipv4]');
    decodePacket(v, s.frame, 0, 5, s.frame.length, s.linktype);
    expect(formatLine(v, rec(s.frame, s.linktype))).toBe('06:56:39.566651 [|eth]');
    const bad = Buffer.from(s.frame);
    bad[14] = 0x43;
    decodePacket(v, bad, 0, bad.length, bad.length, s.linktype);
    expect(formatLine(v, rec(bad, s.linktype))).toBe('06:56:39.566651 IP [malformed ipv4: header length 12 < 20]');
  });
});

describe('802.3 / LLC frames', () => {
  it('names spanning-tree BPDUs like tcpdump and shows the 802.3 length', () => {
    const bpdu = Buffer.from('42420300000000008000024' + '2ac110001000000008000024' + '2ac11000180010000140002000f00', 'hex');
    const f = Buffer.concat([Buffer.from('0180c200000002aabbccddee', 'hex'), Buffer.from([0, bpdu.length]), bpdu, Buffer.alloc(60 - 14 - bpdu.length)]);
    const v = decodePacket(new PacketView(), f, 0, f.length, f.length, LinkType.EN10MB);
    expect(v.layers).toBe(L.ETH);
    expect(v.ethType).toBe(38);
    const r = rec(f, LinkType.EN10MB);
    expect(formatLine(v, r)).toBe('06:56:39.566651 STP, length 35');
    expect(formatLine(v, r, { ether: true })).toBe('06:56:39.566651 02:aa:bb:cc:dd:ee > 01:80:c2:00:00:00, 802.3, length 38: STP, length 35');
    const llc = Buffer.from(f);
    llc[14] = 0xaa;
    expect(formatLine(decodePacket(v, llc, 0, llc.length, llc.length, LinkType.EN10MB), r)).toBe('06:56:39.566651 802.3, length 38');
  });
});

describe('decoded fields per protocol', () => {
  it('Ethernet + IPv4 + ICMP echo', () => {
    const { v } = decoded('icmp-echo-request');
    expect(v.layers).toBe(L.ETH | L.IPV4 | L.ICMP);
    expect(macToString(v.buf, v.ethSrcOff)).toBe('6a:fc:26:3f:99:48');
    expect(macToString(v.buf, v.ethDstOff)).toBe('fe:e1:d8:10:1a:de');
    expect(v.ethType).toBe(0x0800);
    expect(ip4ToString(v.ip4Src)).toBe('10.244.1.2');
    expect(v.ip4Dst).toBe(0x0af40103);
    expect([v.ipProto, v.ipTtl, v.ipId, v.ipTotalLen, v.ipHdrLen, v.ipDf, v.ipMf, v.ipFragOff]).toEqual([1, 64, 9733, 84, 20, true, false, 0]);
    expect([v.icmpType, v.icmpCode, v.icmpId, v.icmpSeq]).toEqual([8, 0, 5841, 1]);
    expect([v.payloadOff, v.payloadLen, v.payloadWireLen]).toEqual([42, 56, 56]);
    expect(protocolName(v)).toBe('icmp');
    expect(describeProblem(v)).toBeUndefined();
  });

  it('ARP request and reply', () => {
    const { v } = decoded('arp-reply');
    expect(v.layers).toBe(L.ETH | L.ARP);
    expect(v.arpOp).toBe(2);
    expect(macToString(v.buf, v.arpShaOff)).toBe('fe:e1:d8:10:1a:de');
    expect(ip4ToString(v.arpSpa)).toBe('10.244.1.3');
    expect(macToString(v.buf, v.arpThaOff)).toBe('6a:fc:26:3f:99:48');
    expect(ip4ToString(v.arpTpa)).toBe('10.244.1.2');
    expect(protocolName(v)).toBe('arp');
  });

  it('TCP with options: header length from the data offset', () => {
    const { v } = decoded('tcp-syn');
    expect(v.layers).toBe(L.ETH | L.IPV4 | L.TCP);
    expect([v.sport, v.dport, v.tcpSeq, v.tcpAck, v.tcpFlags, v.tcpWin, v.tcpHdrLen]).toEqual([41234, 80, 123, 0, 0x02, 64240, 40]);
    expect(v.payloadOff).toBe(14 + 20 + 40);
    expect(v.payloadLen).toBe(0);
    const d = decoded('tcp-data').v;
    expect(d.payloadLen).toBe(19);
    expect(d.buf.toString('latin1', d.payloadOff, d.payloadOff + 8)).toBe('HTTP/1.1');
  });

  it('IPv4 options are skipped by the header length', () => {
    const { v } = decoded('ipv4-options-udp');
    expect(v.ipHdrLen).toBe(24);
    expect([v.sport, v.dport, v.udpLen]).toEqual([1000, 2000, 12]);
    expect(v.l4Off).toBe(14 + 24);
  });

  it('ICMP errors expose the quoted IPv4 header and ports', () => {
    for (const name of ['icmp-port-unreachable', 'icmp-time-exceeded', 'icmp-redirect']) {
      const { v } = decoded(name);
      expect(v.layers & L.ICMP_INNER).toBeTruthy();
      expect(ip4ToString(v.icmpInnerSrc)).toBe('10.244.1.2');
      expect(ip4ToString(v.icmpInnerDst)).toBe('10.244.1.3');
      expect([v.icmpInnerProto, v.icmpInnerSport, v.icmpInnerDport]).toEqual([17, 40000, 33434]);
    }
  });

  it('fragments: offset in bytes; only offset-0 fragments decode L4', () => {
    const first = decoded('ipv4-first-fragment').v;
    expect(first.layers & L.UDP).toBeTruthy();
    expect(first.ipMf).toBe(true);
    const later = decoded('ipv4-later-fragment').v;
    expect(later.layers).toBe(L.ETH | L.IPV4);
    expect(later.ipFragOff).toBe(1480);
    expect(later.l4Off).toBe(-1);
    expect(later.payloadWireLen).toBe(100);
    const v6first = decoded('ipv6-first-fragment').v;
    expect(v6first.layers & L.UDP).toBeTruthy();
    expect([v6first.ip6FragOff, v6first.ip6FragMore, v6first.ip6FragId, v6first.ip6Next]).toEqual([0, true, 0x1234, 17]);
    const v6later = decoded('ipv6-later-fragment').v;
    expect(v6later.layers).toBe(L.ETH | L.IPV6);
    expect([v6later.ip6FragOff, v6later.ip6Next, v6later.l4Off]).toEqual([1448, 17, -1]);
  });

  it('VLAN and QinQ: ids outermost first, ethertype after the tags', () => {
    const one = decoded('vlan-icmp').v;
    expect(one.layers).toBe(L.ETH | L.VLAN | L.IPV4 | L.ICMP);
    expect([one.vlanCount, one.vlanIds[0], one.ethType]).toEqual([1, 100, 0x0800]);
    const two = decoded('qinq-tcp').v;
    expect([two.vlanCount, two.vlanIds[0], two.vlanIds[1], two.ethType]).toEqual([2, 10, 100, 0x0800]);
    expect(two.layers & L.TCP).toBeTruthy();
  });

  it('IPv6 extension-header chain (hop-by-hop, destination, AH) to TCP', () => {
    const { v } = decoded('ipv6-ext-tcp');
    expect(v.layers).toBe(L.ETH | L.IPV6 | L.TCP);
    expect([v.ip6Next, v.ipProto, v.sport, v.dport]).toEqual([6, 6, 5555, 443]);
    expect(ip6ToString(v.buf, v.ip6SrcOff)).toBe('fd00:10:244::2');
  });

  it('ICMPv6 NDP targets and echo', () => {
    const ns = decoded('ipv6-ns').v;
    expect([ns.icmp6Type, ns.icmp6Code, ns.ip6Hlim, ns.ip6Plen]).toEqual([135, 0, 255, 32]);
    expect(ip6ToString(ns.buf, ns.icmp6TargetOff)).toBe('fe80::2');
    expect(protocolName(ns)).toBe('icmp6');
    const echo = decoded('ipv6-echo').v;
    expect([echo.icmp6Type, echo.icmp6TargetOff]).toEqual([128, -1]);
  });

  it('ICMPv6 errors: the quoted IPv6 packet through its extension headers to protocol and ports', () => {
    const A = 'fdaa:244:1::1';
    const B = 'fdaa:244:2::2';
    const R = 'fdaa:244:1::fe';
    const frame = (src: string, type: number, code: number, rest: number, quoted: Buffer): Buffer => {
      const body = Buffer.alloc(4);
      body.writeUInt32BE(rest >>> 0, 0);
      return c.ether('02:00:00:00:00:01', '02:00:00:00:00:fe', 0x86dd, c.ipv6({ src, dst: A, next: 58 }, c.icmp6(src, A, type, code, Buffer.concat([body, quoted]))));
    };
    const dec = (b: Buffer, caplen = b.length): PacketView => {
      const v = new PacketView();
      decodeRecord(v, rec(b, LinkType.EN10MB, { caplen, len: b.length }));
      return v;
    };
    // Port unreachable quoting UDP.
    const udpQ = c.ipv6({ src: A, dst: B, next: 17 }, c.udp(45991, 9999, Buffer.from('hello')));
    const un = dec(frame(B, 1, 4, 0, udpQ));
    expect(un.layers & L.ICMP6_INNER).toBeTruthy();
    expect([un.icmp6Type, un.icmp6Code, un.icmpInnerProto, un.icmpInnerSport, un.icmpInnerDport]).toEqual([1, 4, 17, 45991, 9999]);
    expect([ip6ToString(un.buf, un.icmp6InnerSrcOff), ip6ToString(un.buf, un.icmp6InnerDstOff)]).toEqual([A, B]);
    expect(JSON.parse(toJson(un, rec(frame(B, 1, 4, 0, udpQ), LinkType.EN10MB), 1)).icmpv6.inner).toEqual({ src: A, dst: B, proto: 17, sport: 45991, dport: 9999 });
    // Packet too big quoting an echo request behind hop-by-hop and destination options: the quoted echo is found.
    const echoQ = c.ipv6({ src: A, dst: B, next: 0 }, Buffer.concat([c.ip6Ext(60), c.ip6Ext(58), c.icmp6(A, B, 128, 0, Buffer.from([0x6d, 0xec, 0, 1, 9, 9, 9, 9]))]));
    const ptb = dec(frame(R, 2, 0, 1280, echoQ));
    expect([ptb.icmp6Type, ptb.icmpInnerProto, ptb.icmpInnerSport, ptb.icmpInnerDport]).toEqual([2, 58, -1, -1]);
    expect(ptb.buf[ptb.icmpInnerL4Off]).toBe(128);
    expect(ptb.buf.readUInt16BE(ptb.icmpInnerL4Off + 4)).toBe(0x6dec);
    // A quoted non-first fragment has no transport header: protocol known, no ports.
    const fragQ = c.ipv6({ src: A, dst: B, next: 44 }, Buffer.concat([c.ip6Frag(17, 1232, false, 7), Buffer.alloc(16)]));
    const fr = dec(frame(R, 3, 0, 0, fragQ));
    expect([fr.icmpInnerProto, fr.icmpInnerSport, fr.icmpInnerL4Off]).toEqual([17, -1, -1]);
    // Cut by the snaplen inside the quoted header: truncated at the quote, ICMPv6 itself kept.
    const cut = frame(B, 1, 4, 0, udpQ);
    const tr = dec(cut, 14 + 40 + 8 + 30);
    expect(tr.layers & L.ICMPV6).toBeTruthy();
    expect(tr.layers & L.ICMP6_INNER).toBe(0);
    expect(tr.truncated).toBe(L.ICMP6_INNER);
    // Ports cut off: addresses and protocol kept, marked truncated.
    const tp = dec(cut, 14 + 40 + 8 + 40 + 2);
    expect([tp.layers & L.ICMP6_INNER ? 1 : 0, tp.icmpInnerProto, tp.icmpInnerSport, tp.truncated]).toEqual([1, 17, -1, L.ICMP6_INNER]);
    // Not IPv6 inside: left undecoded, not an error of this packet.
    const junk = dec(frame(B, 1, 4, 0, Buffer.alloc(48, 0x45)));
    expect([junk.layers & L.ICMP6_INNER, junk.truncated, junk.malformed]).toEqual([0, 0, 0]);
    // Text lines: tcpdump 4.99 -nn on the same bytes.
    const text = (b: Buffer): string => formatLine(dec(b), rec(b, LinkType.EN10MB), { ether: false }).slice(16);
    const tcpQ = c.ipv6({ src: A, dst: B, next: 6 }, c.tcp({ sport: 40000, dport: 81, seq: 1, ack: 0, flags: 'S' }));
    expect([0, 1, 2, 3, 4].map((code) => text(frame(R, 1, code, 0, udpQ)))).toEqual([
      `IP6 ${R} > ${A}: ICMP6, destination unreachable, unreachable route ${B}, length 61`,
      `IP6 ${R} > ${A}: ICMP6, destination unreachable,  unreachable prohibited ${B}, length 61`,
      `IP6 ${R} > ${A}: ICMP6, destination unreachable, beyond scope ${B}, source address ${A}, length 61`,
      `IP6 ${R} > ${A}: ICMP6, destination unreachable, unreachable address ${B}, length 61`,
      `IP6 ${R} > ${A}: ICMP6, destination unreachable, unreachable port, ${B} udp port 9999, length 61`,
    ]);
    expect(text(frame(B, 1, 4, 0, tcpQ))).toBe(`IP6 ${B} > ${A}: ICMP6, destination unreachable, unreachable port, ${B} tcp port 81, length 68`);
    expect([0, 1, 2].map((code) => text(frame(R, 3, code, 0, echoQ)))).toEqual([
      `IP6 ${R} > ${A}: ICMP6, time exceeded in-transit for ${B}, length 76`,
      `IP6 ${R} > ${A}: ICMP6, time exceeded in-transit (reassembly), length 76`,
      `IP6 ${R} > ${A}: ICMP6, time exceeded in-transit, unknown code (2), length 76`,
    ]);
    expect([0, 1, 2, 3].map((code) => text(frame(R, 4, code, 42, udpQ)))).toEqual(
      ['erroneous', 'next header', 'option', 'incomplete header chain'].map((w) => `IP6 ${R} > ${A}: ICMP6, parameter problem, ${w} - octet 42, length 61`),
    );
    expect(text(frame(R, 2, 0, 1280, echoQ))).toBe(`IP6 ${R} > ${A}: ICMP6, packet too big, mtu 1280, length 76`);
    // Every prefix of every one decodes without throwing.
    for (const f of [frame(B, 1, 4, 0, udpQ), frame(R, 2, 0, 1280, echoQ), frame(R, 3, 0, 0, fragQ)]) {
      for (let n = 0; n <= f.length; n++) expect(() => dec(f, n)).not.toThrow();
    }
  });

  it('VXLAN: VNI and the inner frame, nested views bounded by MAX_TUNNEL_DEPTH', () => {
    const { v } = decoded('vxlan-icmp');
    expect(v.layers).toBe(L.ETH | L.IPV4 | L.UDP | L.VXLAN);
    expect(v.vni).toBe(42);
    expect([v.tunnelKind, v.tunnelId]).toEqual([TUNNEL.VXLAN, 42]);
    const inner = v.inner as PacketView;
    expect(inner.layers).toBe(L.ETH | L.IPV4 | L.ICMP);
    expect(ip4ToString(inner.ip4Src)).toBe('10.244.1.2');
    expect(inner.tunnelKind).toBe(TUNNEL.NONE);
    let depth = 0;
    for (let w: PacketView | null = v; w !== null; w = w.inner) expect(w.depth).toBe(depth++);
    expect(depth).toBe(MAX_TUNNEL_DEPTH + 1);
    expect(protocolName(v)).toBe('vxlan');
  });

  it('VXLAN port without the I flag is reported, not decoded', () => {
    const inner = c.ether('02:00:00:00:00:02', '02:00:00:00:00:01', 0x0800, Buffer.alloc(20));
    const f = c.ether('02:00:00:00:00:02', '02:00:00:00:00:01', 0x0800, c.ipv4({ src: '10.42.0.1', dst: '10.42.0.2', proto: 17 }, c.udp(1, 4789, c.vxlan(5, inner, 0))));
    const v = decodePacket(new PacketView(), f, 0, f.length, f.length, LinkType.EN10MB);
    expect(v.layers & L.VXLAN).toBe(0);
    expect(describeProblem(v)).toBe('malformed vxlan: I flag not set (flags 0x00)');
  });

  it.each([
    ['sll-icmp', L.LINK | L.IPV4 | L.ICMP],
    ['sll2-tcp', L.LINK | L.IPV4 | L.TCP],
    ['raw-ipv4', L.IPV4 | L.ICMP],
    ['raw-ipv6', L.IPV6 | L.ICMPV6],
    ['linktype-ipv4', L.IPV4 | L.TCP],
    ['linktype-ipv6', L.IPV6 | L.ICMPV6],
    ['null-ipv4', L.LINK | L.IPV4 | L.ICMP],
    ['loop-ipv6', L.LINK | L.IPV6 | L.ICMPV6],
  ])('link type of %s', (name, layers) => {
    const { v } = decoded(name);
    expect(v.layers).toBe(layers);
    expect(v.truncated).toBe(0);
  });

  it('NULL accepts both byte orders and every IPv6 family value', () => {
    const ip = c.ipv4({ src: '10.244.0.1', dst: '10.244.0.2', proto: 17 }, c.udp(1, 2, Buffer.alloc(0)));
    for (const be of [false, true]) {
      const v = decodePacket(new PacketView(), c.nullHdr(2, ip, be), 0, ip.length + 4, ip.length + 4, LinkType.NULL);
      expect(v.layers & L.UDP).toBeTruthy();
    }
    const ip6 = c.ipv6({ src: '::1', dst: '::1', next: 17 }, c.udp(1, 2, Buffer.alloc(0)));
    for (const fam of [10, 24, 28, 30]) {
      const f = c.nullHdr(fam, ip6);
      expect(decodePacket(new PacketView(), f, 0, f.length, f.length, LinkType.NULL).layers & L.IPV6).toBeTruthy();
    }
  });
});

describe('malformed headers: errors as values, earlier layers kept', () => {
  function mutate(name: string, at: number, value: number): PacketView {
    const s = sample(name);
    const f = Buffer.from(s.frame);
    f[at] = value;
    return decodePacket(new PacketView(), f, 0, f.length, f.length, s.linktype);
  }
  it.each([
    ['icmp-echo-request', 14, 0x43, L.ETH, 'malformed ipv4: header length 12 < 20', M.IP4_HDR_LEN],
    ['icmp-echo-request', 14, 0x65, L.ETH, 'malformed ipv4: version 6 != 4', M.IP4_VERSION],
    ['ipv6-ns', 14, 0x40, L.ETH, 'malformed ipv6: version 4 != 6', M.IP6_VERSION],
    ['tcp-syn', 14 + 20 + 12, 0x40, L.ETH | L.IPV4, 'malformed tcp: header length 16 < 20', M.TCP_HDR_LEN],
    ['tcp-syn', 14 + 20 + 12, 0xf0, L.ETH | L.IPV4, 'malformed tcp: header length 60 exceeds the segment', M.TCP_HDR_PAST_SEGMENT],
    ['udp', 14 + 20 + 5, 4, L.ETH | L.IPV4, 'malformed udp: length 4 < 8', M.UDP_LEN],
    ['arp-request', 15, 6, L.ETH, 'malformed arp: not Ethernet/IPv4 (hardware type 6, protocol 0x0800)', M.ARP_FORMAT],
    ['arp-request', 18, 8, L.ETH, 'malformed arp: address lengths 8/4, expected 6/4', M.ARP_ADDR_LEN],
    ['raw-ipv4', 0, 0x55, 0, 'malformed link: IP version 5 is neither 4 nor 6', M.RAW_VERSION],
  ])('%s byte %i = %i', (name, at, value, layers, text, reason) => {
    const v = mutate(name, at, value);
    expect(v.layers).toBe(layers);
    expect(v.malformedReason).toBe(reason);
    expect(describeProblem(v)).toBe(text);
    expect(v.truncated).toBe(0);
  });

  it('IPv4 total length below the header length', () => {
    const s = sample('udp');
    const f = Buffer.from(s.frame);
    f.writeUInt16BE(12, 16);
    const v = decodePacket(new PacketView(), f, 0, f.length, f.length, s.linktype);
    expect(describeProblem(v)).toBe('malformed ipv4: total length 12 < header length 20');
    expect(toJson(v, rec(f, s.linktype), 3)).toContain('"malformed":"ipv4: total length 12 < header length 20"');
  });

  it('an endless IPv6 extension chain stops with a reason', () => {
    const exts: Buffer[] = [];
    for (let i = 0; i < 40; i++) exts.push(c.ip6Ext(60));
    const f = c.ether('02:00:00:00:00:02', '02:00:00:00:00:01', 0x86dd, c.ipv6({ src: '::1', dst: '::2', next: 60 }, Buffer.concat(exts)));
    const v = decodePacket(new PacketView(), f, 0, f.length, f.length, LinkType.EN10MB);
    expect(v.malformedReason).toBe(M.IP6_EXT_CHAIN);
    expect(v.layers).toBe(L.ETH);
  });
});

describe('JSON', () => {
  it('has exactly the documented shape', () => {
    const { v, r } = decoded('icmp-echo-request');
    r.iface = 'cni0';
    expect(JSON.parse(toJson(v, r, 1))).toEqual({
      n: 1,
      ts: '1795848999.566651000',
      caplen: 98,
      len: 98,
      iface: 'cni0',
      eth: { src: '6a:fc:26:3f:99:48', dst: 'fe:e1:d8:10:1a:de', type: 2048 },
      ipv4: { src: '10.244.1.2', dst: '10.244.1.3', proto: 1, ttl: 64, id: 9733, len: 84, hlen: 20, df: true, mf: false, frag: 0 },
      icmp: { type: 8, code: 0, id: 5841, seq: 1 },
    });
    expect(toJson(v, r, 1).endsWith('\n')).toBe(false);
  });

  it('vlan, tcp flags, icmp inner, icmpv6 target, vxlan inner, truncated', () => {
    expect(JSON.parse(toJson(decoded('qinq-tcp').v, decoded('qinq-tcp').r, 2)).eth).toEqual({
      src: '6a:fc:26:3f:99:48',
      dst: 'fe:e1:d8:10:1a:de',
      type: 2048,
      vlan: [10, 100],
    });
    const syn = JSON.parse(toJson(decoded('tcp-data').v, decoded('tcp-data').r, 1));
    expect(syn.tcp).toEqual({ sport: 80, dport: 41234, seq: 1000, ack: 124, flags: 'PA', win: 502, hlen: 20 });
    const un = JSON.parse(toJson(decoded('icmp-port-unreachable').v, decoded('icmp-port-unreachable').r, 1));
    expect(un.icmp).toEqual({ type: 3, code: 3, inner: { src: '10.244.1.2', dst: '10.244.1.3', proto: 17, sport: 40000, dport: 33434 } });
    const ns = JSON.parse(toJson(decoded('ipv6-ns').v, decoded('ipv6-ns').r, 1));
    expect(ns.ipv6).toEqual({ src: 'fe80::1', dst: 'ff02::1:ff00:2', next: 58, hlim: 255, plen: 32 });
    expect(ns.icmpv6).toEqual({ type: 135, code: 0, target: 'fe80::2' });
    const vx = JSON.parse(toJson(decoded('vxlan-icmp').v, decoded('vxlan-icmp').r, 1));
    expect(vx.udp).toEqual({ sport: 54321, dport: 4789, len: 114 });
    expect(vx.vxlan.vni).toBe(42);
    expect(Object.keys(vx.vxlan.inner)).toEqual(['eth', 'ipv4', 'icmp']);
    const s = sample('tcp-syn');
    const v = decodePacket(new PacketView(), s.frame, 0, 50, s.frame.length, s.linktype);
    const t = JSON.parse(toJson(v, rec(s.frame, s.linktype, { caplen: 50 }), 9));
    expect(t.truncated).toBe('tcp');
    expect(t.tcp).toBeUndefined();
    expect(t.ipv4.proto).toBe(6);
    for (const sm of sampleFrames()) {
      const d = decodePacket(new PacketView(), sm.frame, 0, sm.frame.length, sm.frame.length, sm.linktype);
      const text = toJson(d, rec(sm.frame, sm.linktype), 1);
      expect(text).not.toContain('null');
      expect(() => JSON.parse(text)).not.toThrow();
    }
  });
});

describe('address text', () => {
  it('one formatter: topology canonicalIp writes what the decoder writes (RFC 5952, IPv4-mapped dotted)', () => {
    for (const a of ['::ffff:10.244.1.2', '::ffff:af4:102', 'fd00::0002', '2001:db8:0:0:1:0:0:1', 'fe80::ff:fe00:101', '::', '::1']) {
      const bytes = Buffer.from(parseIp6(a) as Uint8Array);
      expect({ a, text: canonicalIp(a) }).toEqual({ a, text: ip6ToString(bytes, 0) });
    }
    expect(canonicalIp('::ffff:af4:102')).toBe('::ffff:10.244.1.2');
  });

  it('IPv6 per RFC 5952', () => {
    const cases: Array<[string, string]> = [
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['fe80:0:0:0:0:0:0:0', 'fe80::'],
      ['0:0:0:0:0:ffff:a00:1', '::ffff:10.0.0.1'],
      ['FD00:10:244:0:0:0:0:2', 'fd00:10:244::2'],
    ];
    for (const [inp, want] of cases) {
      const f = c.ipv6({ src: inp, dst: '::1', next: 59 }, Buffer.alloc(0));
      expect(ip6ToString(f, 8)).toBe(want);
    }
  });
  it('IPv4 and MAC', () => {
    expect(ip4ToString(0xffffffff)).toBe('255.255.255.255');
    expect(ip4ToString(0)).toBe('0.0.0.0');
    expect(macToString(Buffer.from('0A0b0C0d0E0f', 'hex'), 0)).toBe('0a:0b:0c:0d:0e:0f');
  });
});

describe('GSO/GRO super-frames', () => {
  it('decodes a 64 KiB GRO TCP frame (total length above the MTU)', () => {
    const payload = Buffer.alloc(65000, 0x42);
    const f = c.ether('02:00:00:00:00:02', '02:00:00:00:00:01', 0x0800, c.ipv4({ src: '10.244.1.2', dst: '10.244.1.3', proto: 6, df: true }, c.tcp({ sport: 80, dport: 5000, seq: 1, ack: 1, flags: 'A' }, payload)));
    const v = decodePacket(new PacketView(), f, 0, f.length, f.length, LinkType.EN10MB);
    expect(v.layers).toBe(L.ETH | L.IPV4 | L.TCP);
    expect(v.ipTotalLen).toBe(65040);
    expect(v.payloadLen).toBe(65000);
    expect(formatLine(v, rec(f, LinkType.EN10MB))).toContain('Flags [.], seq 1:65001, ack 1, win 64240, length 65000');
  });
  it('treats an IPv4 total length of 0 (TSO) as "the rest of the frame"', () => {
    const payload = Buffer.alloc(90000, 0x42);
    const f = c.ether('02:00:00:00:00:02', '02:00:00:00:00:01', 0x0800, c.ipv4({ src: '10.244.1.2', dst: '10.244.1.3', proto: 6, totalLen: 0 }, c.tcp({ sport: 80, dport: 5000, seq: 7, flags: 'PA' }, payload)));
    const v = decodePacket(new PacketView(), f, 0, f.length, f.length, LinkType.EN10MB);
    expect(v.layers).toBe(L.ETH | L.IPV4 | L.TCP);
    expect([v.ipTotalLen, v.payloadLen, v.payloadWireLen]).toEqual([0, 90000, 90000]);
    expect(describeProblem(v)).toBeUndefined();
  });
  it('a snaplen-cut super-frame reports the wire length but reads only captured bytes', () => {
    const payload = Buffer.alloc(60000, 0x42);
    const full = c.ether('02:00:00:00:00:02', '02:00:00:00:00:01', 0x0800, c.ipv4({ src: '10.244.1.2', dst: '10.244.1.3', proto: 6 }, c.tcp({ sport: 80, dport: 5000, seq: 7, flags: 'PA' }, payload)));
    const v = decodePacket(new PacketView(), full, 0, 1514, full.length, LinkType.EN10MB);
    expect([v.payloadLen, v.payloadWireLen]).toEqual([1514 - 54, 60000]);
  });
  it('Ethernet padding after a short IP datagram is not payload', () => {
    const f = Buffer.concat([sample('udp').frame, Buffer.alloc(10, 0xee)]);
    const v = decodePacket(new PacketView(), f, 0, f.length, f.length, LinkType.EN10MB);
    expect(v.payloadLen).toBe(12);
    expect(JSON.parse(toJson(v, rec(f, LinkType.EN10MB), 1)).udp.len).toBe(20);
  });
});
