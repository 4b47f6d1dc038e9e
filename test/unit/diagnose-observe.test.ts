/**
 * ProbeMatcher over crafted frames: probes and replies matched by identity per hop (ICMP echo id, TCP/UDP
 * source ports, UDP payload tag), ICMP errors matched through their quoted headers, ARP exchanges, and
 * everything else (other ids, other ports, other hops) ignored. Also the probe tool plumbing (argv, parsing).
 */
import { arp, ether, icmpEcho, icmpError, ipv4, tcp, udp } from '../../src/decode/craft';
import { ProbeMatcher, type MatchSpec } from '../../src/diagnose/observe';
import { chooseIdentity, parsePing, pingArgv, probePacketBytes } from '../../src/diagnose/probe';
import type { PacketRecord } from '../../src/pcap/record';

const A = '10.244.1.2';
const B = '10.244.1.3';
const GW = '10.244.1.1';
const MA = '02:00:00:00:00:0a';
const MB = '02:00:00:00:00:0b';
const HOPS = ['pod-a/eth0', 'node/veth-a', 'node/veth-b', 'pod-b/eth0'];

function rec(frame: Buffer, iface: string): PacketRecord {
  return { buf: frame, offset: 0, caplen: frame.length, len: frame.length, tsSec: 0, tsNsec: 0, linktype: 1, ifIndex: 0, iface };
}

function ip(src: string, dst: string, proto: number, payload: Buffer): Buffer {
  return ether(MB, MA, 0x0800, ipv4({ src, dst, proto, df: true }, payload));
}

function feed(m: ProbeMatcher, frame: Buffer, ...ifaces: string[]): void {
  for (const i of ifaces) m.observe(rec(frame, i));
}

const captured = HOPS.map(() => ({ captured: true }));

describe('ProbeMatcher', () => {
  test('ICMP echo: requests and replies per hop by echo id and sequence; other ids ignored', () => {
    const spec: MatchSpec = { proto: 'icmp', fromIp: A, toIp: B, port: null, identity: { icmpId: 4321 } };
    const m = new ProbeMatcher(HOPS, spec);
    for (const seq of [1, 2]) {
      feed(m, ip(A, B, 1, icmpEcho(8, 4321, seq)), 'pod-a/eth0', 'node/veth-a', 'node/veth-b', 'pod-b/eth0');
      feed(m, ip(B, A, 1, icmpEcho(0, 4321, seq)), 'pod-b/eth0', 'node/veth-b');
    }
    // A retransmitted copy counts once; someone else's ping and unknown interfaces count not at all.
    feed(m, ip(A, B, 1, icmpEcho(8, 4321, 1)), 'pod-a/eth0');
    feed(m, ip(A, B, 1, icmpEcho(8, 999, 3)), 'pod-a/eth0');
    feed(m, ip(A, B, 1, icmpEcho(8, 4321, 3)), 'elsewhere/eth9');
    const o = m.observations(captured);
    expect(o.map((x) => [x.request, x.reply])).toEqual([
      [2, 0],
      [2, 0],
      [2, 2],
      [2, 2],
    ]);
    expect(m.matched).toBe(13);
  });

  test('ICMP errors quoting our echo (frag needed with its MTU); errors about other echoes ignored', () => {
    const spec: MatchSpec = { proto: 'icmp', fromIp: A, toIp: '10.244.2.2', port: null, identity: { icmpId: 77 } };
    const m = new ProbeMatcher(HOPS, spec);
    const probe = ipv4({ src: A, dst: '10.244.2.2', proto: 1, df: true }, icmpEcho(8, 77, 1, Buffer.alloc(1200)));
    const quoted = probe.subarray(0, 28);
    // Frag needed: bytes 6-7 of the ICMP header carry the next-hop MTU.
    feed(m, ip(GW, A, 1, icmpError(3, 4, quoted, 1000)), 'pod-a/eth0', 'node/veth-a');
    const other = ipv4({ src: A, dst: '10.244.2.2', proto: 1 }, icmpEcho(8, 78, 1)).subarray(0, 28);
    feed(m, ip(GW, A, 1, icmpError(3, 4, other, 1000)), 'pod-a/eth0');
    const o = m.observations(captured);
    expect(o[0].errors).toEqual([{ kind: 'icmp-frag-needed', from: GW, mtu: 1000, count: 1 }]);
    expect(o[1].errors).toHaveLength(1);
    expect(o[2].errors).toEqual([]);
  });

  test('TCP: SYNs by source port, SYN-ACK as reply, RST as error; other ports ignored', () => {
    const spec: MatchSpec = { proto: 'tcp', fromIp: A, toIp: B, port: 8080, identity: { sourcePorts: [40001, 40002] } };
    const m = new ProbeMatcher(HOPS, spec);
    feed(m, ip(A, B, 6, tcp({ sport: 40001, dport: 8080, flags: 'S' })), 'pod-a/eth0', 'pod-b/eth0');
    feed(m, ip(A, B, 6, tcp({ sport: 40002, dport: 8080, flags: 'S' })), 'pod-a/eth0', 'pod-b/eth0');
    feed(m, ip(B, A, 6, tcp({ sport: 8080, dport: 40001, flags: 'SA' })), 'pod-b/eth0', 'pod-a/eth0');
    feed(m, ip(B, A, 6, tcp({ sport: 8080, dport: 40002, flags: 'RA' })), 'pod-b/eth0');
    feed(m, ip(A, B, 6, tcp({ sport: 40003, dport: 8080, flags: 'S' })), 'pod-a/eth0');
    feed(m, ip(A, B, 6, tcp({ sport: 40001, dport: 8080, flags: 'A' })), 'pod-a/eth0');
    const o = m.observations(captured);
    expect(o[0]).toMatchObject({ request: 2, reply: 1, errors: [] });
    expect(o[3]).toMatchObject({ request: 2, reply: 1, errors: [{ kind: 'rst', from: B, count: 1 }] });
  });

  test('UDP: the payload tag must be there; ICMP port unreachable matched by the quoted ports', () => {
    const spec: MatchSpec = { proto: 'udp', fromIp: A, toIp: B, port: 5353, identity: { sourcePorts: [45000], tag: 'netscope-diagnose-abcd' } };
    const m = new ProbeMatcher(HOPS, spec);
    const dgram = ipv4({ src: A, dst: B, proto: 17 }, udp(45000, 5353, Buffer.from('netscope-diagnose-abcd 45000 1    ')));
    m.observe(rec(ether(MB, MA, 0x0800, dgram), 'pod-a/eth0'));
    feed(m, ip(A, B, 17, udp(45000, 5353, Buffer.from('not ours'))), 'node/veth-a');
    feed(m, ip(B, A, 1, icmpError(3, 3, dgram.subarray(0, 28))), 'pod-a/eth0');
    feed(m, ip(B, A, 1, icmpError(3, 3, ipv4({ src: A, dst: B, proto: 17 }, udp(45001, 5353, Buffer.alloc(8))).subarray(0, 28))), 'pod-a/eth0');
    const o = m.observations(captured);
    expect(o[0]).toMatchObject({ request: 1, errors: [{ kind: 'icmp-port-unreachable', from: B, count: 1 }] });
    expect(o[1].request).toBe(0);
  });

  test('ARP: an exchange counts what its busiest hop saw; unanswered requests stand out', () => {
    const m = new ProbeMatcher(HOPS, { proto: 'icmp', fromIp: A, toIp: '10.244.1.99', port: null, identity: { icmpId: 1 } });
    const who = ether('ff:ff:ff:ff:ff:ff', MA, 0x0806, arp(1, MA, A, '00:00:00:00:00:00', '10.244.1.99'));
    for (let i = 0; i < 3; i++) feed(m, who, 'pod-a/eth0', 'node/veth-a', 'node/veth-b');
    const ask = ether('ff:ff:ff:ff:ff:ff', MA, 0x0806, arp(1, MA, A, '00:00:00:00:00:00', B));
    const answer = ether(MA, MB, 0x0806, arp(2, MB, B, MA, A));
    feed(m, ask, 'pod-a/eth0', 'pod-b/eth0');
    feed(m, answer, 'pod-b/eth0', 'pod-a/eth0');
    expect(m.arpExchanges()).toEqual([
      { target: '10.244.1.99', asker: A, requests: 3, replies: 0, seenAt: [1, 2, 3] },
      { target: B, asker: A, requests: 1, replies: 1, seenAt: [1, 4] },
    ]);
    expect(m.observations(captured).map((o) => [o.arpRequests, o.arpReplies])).toEqual([
      [4, 1],
      [3, 0],
      [3, 0],
      [1, 1],
    ]);
  });

  test('truncated and garbage frames never throw', () => {
    const m = new ProbeMatcher(HOPS, { proto: 'icmp', fromIp: A, toIp: B, port: null, identity: { icmpId: 7 } });
    const err = ip(GW, A, 1, icmpError(3, 4, ipv4({ src: A, dst: B, proto: 1 }, icmpEcho(8, 7, 1)).subarray(0, 28), 1000));
    for (let n = 0; n <= err.length; n++) expect(() => m.observe(rec(err.subarray(0, n), 'pod-a/eth0'))).not.toThrow();
    expect(m.observations(captured)[0].errors).toEqual([{ kind: 'icmp-frag-needed', from: GW, mtu: 1000, count: 1 }]);
  });
});

describe('probe plumbing', () => {
  test('ping argv: identity, size, DF, per-probe wait; no deadline, not quiet', () => {
    const argv = pingArgv({ proto: 'icmp', netns: 'a', dst: B, port: null, size: 1200, count: 2, timeoutMs: 1000, df: true, identity: { icmpId: 4321 } });
    expect(argv).toEqual(['ping', '-n', '-c', '2', '-i', '0.2', '-W', '1', '-e', '4321', '-s', '1200', '-M', 'do', B]);
    expect(argv).not.toContain('-w');
    expect(argv).not.toContain('-q');
  });

  test('parsePing: counts and local errors', () => {
    expect(parsePing('2 packets transmitted, 1 received, 50% packet loss, time 201ms\n', '')).toEqual({ sent: 2, received: 1 });
    expect(parsePing('', 'ping: local error: message too long, mtu=1000\nping: local error: message too long, mtu=1000\n')).toEqual({ sent: 0, received: 0, localError: 'local error: message too long, mtu=1000' });
    expect(parsePing('', 'ping: connect: Network is unreachable\n').localError).toBe('connect: Network is unreachable');
  });

  test('identities: distinct source ports, a tag for UDP; packet sizes', () => {
    const id = chooseIdentity('udp', 5);
    expect(new Set(id.sourcePorts).size).toBe(5);
    expect(id.sourcePorts?.every((p) => p >= 40000 && p < 61000)).toBe(true);
    expect(id.tag).toMatch(/^netscope-diagnose-[0-9a-f]{8}$/);
    const e = chooseIdentity('icmp', 2).icmpId ?? 0;
    expect(e >= 1 && e <= 65535).toBe(true);
    expect(probePacketBytes('icmp', 56)).toBe(84);
    expect(probePacketBytes('udp', 64)).toBe(92);
  });
});
