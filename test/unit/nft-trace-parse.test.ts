/**
 * `nft -a monitor` trace lines (as nft 1.0.6 prints them, copied from a real trace on this machine) → events
 * and per-packet walks; the diagnose side: which walks are our probes, which drop is named how.
 */
import { analyseTrace, stableRuleText, traceMatches } from '../../src/diagnose/trace';
import { tracedRuleName } from '../../src/diagnose/verdict';
import { parseTraceLine, parseTracedPacket, walksOf, type TraceEvent } from '../../src/host/nft-trace-parse';

const PKT =
  'iif "ra" oif "rb" ether saddr 56:b4:5f:a1:83:70 ether daddr 32:2c:60:e5:95:c3 ip saddr 10.244.7.2 ip daddr 10.244.8.2 ip dscp cs0 ip ecn not-ect ip ttl 63 ip id 60390 ip length 84 icmp type echo-request icmp code net-unreachable icmp id 77 icmp sequence 1 @th,64,96 0xa0e9126b0000000087af0900 ';
const LINES = [
  'trace id a650cc0c inet netscope_trace_9_0 hpre packet: iif "ra" ether saddr 56:b4:5f:a1:83:70 ip saddr 10.244.7.2 ip daddr 10.244.8.2 ip id 60390 icmp type echo-request icmp id 77 icmp sequence 1 ',
  'trace id a650cc0c inet netscope_trace_9_0 hpre rule icmp type { echo-request, echo-reply } icmp id 77 meta nftrace set 1 # handle 8 (verdict continue)',
  'trace id a650cc0c inet netscope_trace_9_0 hpre policy accept ',
  'trace id a650cc0c inet netscope_trace_9_0 hfwd policy accept ',
  `trace id a650cc0c ip filter FORWARD packet: ${PKT}`,
  'trace id a650cc0c ip filter FORWARD rule meta l4proto icmp ip daddr 10.244.8.2 counter packets 3 bytes 252 drop # handle 3 (verdict drop)',
  'trace id 0000beef inet filt fw rule ip daddr 10.9.9.9 jump other # handle 4 (verdict jump other)',
];

describe('parseTraceLine', () => {
  test('packet, rule (handle, verdict), policy; other lines are not events', () => {
    const [p0, r0, pol] = LINES.map(parseTraceLine);
    expect(p0).toMatchObject({ id: 'a650cc0c', family: 'inet', table: 'netscope_trace_9_0', chain: 'hpre', kind: 'packet', iif: 'ra' });
    expect(r0).toMatchObject({ kind: 'rule', handle: 8, verdict: 'continue', text: 'icmp type { echo-request, echo-reply } icmp id 77 meta nftrace set 1' });
    expect(pol).toMatchObject({ kind: 'policy', verdict: 'accept' });
    expect(parseTraceLine(LINES[6])).toMatchObject({ kind: 'rule', verdict: 'jump', target: 'other', handle: 4, text: 'ip daddr 10.9.9.9 jump other' });
    expect(parseTraceLine(LINES[4])).toMatchObject({ iif: 'ra', oif: 'rb' });
    for (const junk of ['', 'add table inet x', '# new generation 9 by process 1 (nft)', 'trace id zz', 'trace id 1234 inet t c mystery']) expect(parseTraceLine(junk)).toBeUndefined();
  });

  test('packet fields: addresses, ICMP id/sequence, ports', () => {
    expect(parseTracedPacket(PKT)).toEqual({ saddr: '10.244.7.2', daddr: '10.244.8.2', l4: 'icmp', icmpType: 'echo-request', icmpId: 77, icmpSeq: 1 });
    expect(parseTracedPacket('ip6 saddr fd00:1::2 ip6 daddr fd00:2::2 icmpv6 type echo-reply icmpv6 id 5 icmpv6 sequence 2')).toMatchObject({ saddr: 'fd00:1::2', l4: 'icmpv6', icmpType: 'echo-reply', icmpId: 5, icmpSeq: 2 });
    expect(parseTracedPacket('ip saddr 1.1.1.1 ip daddr 2.2.2.2 tcp sport 40001 tcp dport 8080 tcp flags == syn')).toMatchObject({ l4: 'tcp', sport: 40001, dport: 8080 });
  });
});

describe('walks and drops', () => {
  const events = LINES.slice(0, 6).map(parseTraceLine).filter((e): e is TraceEvent => e !== undefined);

  test('one walk per trace id: chains in order, the dropping rule and its interfaces', () => {
    const [w] = walksOf(events);
    expect(w.chains).toEqual(['inet netscope_trace_9_0 hpre', 'inet netscope_trace_9_0 hfwd', 'ip filter FORWARD']);
    expect(w.drop).toMatchObject({ table: 'filter', chain: 'FORWARD', handle: 3, verdict: 'drop' });
    expect(w).toMatchObject({ iif: 'ra', dropIif: 'ra', dropOif: 'rb' });
  });

  test('our probes only (echo id), iptables-nft tables recognised, counters left out of the text', () => {
    const labels = new Map([['r', 'router']]);
    const a = analyseTrace(new Map([['r', events]]), 'netscope_trace_9_0', { proto: 'icmp', identity: { icmpId: 77 }, port: null }, labels);
    expect(a.drops).toEqual([
      expect.objectContaining({ netns: 'r', netnsLabel: 'router', backend: 'iptables-nft', table: 'filter', chain: 'FORWARD', handle: 3, text: 'meta l4proto icmp ip daddr 10.244.8.2 counter drop', direction: 'request', packets: 1, probes: 1 }),
    ]);
    expect(a.walks).toEqual([expect.objectContaining({ hooks: ['prerouting', 'forward'], dropped: true })]);
    expect(analyseTrace(new Map([['r', events]]), 'netscope_trace_9_0', { proto: 'icmp', identity: { icmpId: 78 }, port: null }, labels).drops).toEqual([]);
    expect(tracedRuleName({ ...a.drops[0], iptables: { position: 2, text: '-d 10.244.8.2/32 -p icmp -j DROP' } })).toBe('iptables-nft filter FORWARD rule 2 (nft handle 3): "-d 10.244.8.2/32 -p icmp -j DROP"');
  });

  test('match expressions select the probes and their replies by identity', () => {
    expect(traceMatches('icmp', { icmpId: 9 }, null)).toEqual(['icmp type { echo-request, echo-reply } icmp id 9']);
    expect(traceMatches('tcp', { sourcePorts: [40001, 40002] }, 80)).toEqual(['tcp sport { 40001, 40002 } tcp dport 80', 'tcp dport { 40001, 40002 } tcp sport 80']);
    expect(stableRuleText('ip saddr 1.2.3.4 counter packets 12 bytes 1008 drop')).toBe('ip saddr 1.2.3.4 counter drop');
  });
});

test('a reused trace id with another packet starts a new walk', () => {
  const a = 'trace id 11 inet t c packet: ip saddr 1.1.1.1 ip daddr 2.2.2.2 ip id 5 icmp type echo-request icmp id 9 icmp sequence 1 ';
  const b = 'trace id 11 inet t c packet: ip saddr 1.1.1.1 ip daddr 2.2.2.2 ip id 6 icmp type echo-request icmp id 9 icmp sequence 2 ';
  const drop = 'trace id 11 inet t c rule ip daddr 2.2.2.2 drop # handle 2 (verdict drop)';
  const w = walksOf([a, drop, b, drop].map((l) => parseTraceLine(l)).filter((e): e is TraceEvent => e !== undefined));
  expect(w).toHaveLength(2);
  expect(w.map((x) => x.drop?.handle)).toEqual([2, 2]);
});
