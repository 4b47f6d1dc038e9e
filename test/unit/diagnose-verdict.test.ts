/**
 * The verdict's order of reasoning over hand-made inputs (rule hit > sender's local error > configuration
 * problem > what came back > unanswered ARP > last hop seen), and the text report.
 */
import { renderReport } from '../../src/diagnose/render';
import type { DiagnoseReport, Endpoint, Hop, HopObservation, PathIssue, ProbeResult, RuleHit } from '../../src/diagnose/types';
import { decideVerdict, type VerdictInput } from '../../src/diagnose/verdict';

const from: Endpoint = { ref: 'pod-a', netns: 'pod-a', label: 'pod-a', iface: 'eth0', ip: '10.244.1.2', prefixlen: 24 };
const to: Endpoint = { ref: 'pod-b', netns: 'pod-b', label: 'pod-b', iface: 'eth0', ip: '10.244.1.3', prefixlen: 24 };

function hop(index: number, netns: string, iface: string, role: Hop['role']): Hop {
  return { index, netns, netnsLabel: netns, iface, kind: iface.startsWith('cni') ? 'bridge' : 'veth', role, up: true, state: 'UP', mtu: 1500 };
}

const HOPS: Hop[] = [hop(1, 'pod-a', 'eth0', 'source'), hop(2, 'node', 'veth-a', 'bridge port'), hop(3, 'node', 'cni0', 'bridge'), hop(4, 'node', 'veth-b', 'bridge port'), hop(5, 'pod-b', 'eth0', 'destination')];

function obs(request: number, reply: number, extra: Partial<HopObservation> = {}): HopObservation {
  return { request, reply, errors: [], arpRequests: 0, arpReplies: 0, captured: true, ...extra };
}

const BRIDGE = obs(0, 0, { captured: false, note: 'bridge' });

function input(over: Partial<VerdictInput>): VerdictInput {
  const result: ProbeResult = { proto: 'icmp', sent: 2, answered: 0, refused: 0, identity: { icmpId: 9 } };
  return {
    from,
    to,
    proto: 'icmp',
    port: null,
    hops: HOPS,
    observed: [obs(2, 0), obs(2, 0), BRIDGE, obs(0, 0), obs(0, 0)],
    result,
    rules: [],
    arp: [],
    neighbours: [],
    nextHops: [{ netns: 'pod-a', ip: '10.244.1.3', dev: 'eth0' }],
    interfaces: [],
    ...over,
  };
}

const drop: RuleHit = { netns: 'node', netnsLabel: 'node', backend: 'iptables-nft', family: 'ip', table: 'filter', chain: 'FORWARD', position: 1, text: '-s 10.244.1.2/32 -j DROP', target: 'DROP', dPackets: 2, dBytes: 168 };

describe('decideVerdict', () => {
  test('connected: replies seen at the source count even when ping reported none', () => {
    const v = decideVerdict(input({ observed: [obs(2, 2), obs(2, 2), BRIDGE, obs(2, 2), obs(2, 2)] }));
    expect(v).toMatchObject({ connected: true, cause: null, hop: null, summary: 'connected: 2/2 echo replies' });
    expect(v.evidence).toEqual(['echo requests: seen up to hop 5 (pod-b eth0, 2/2)', 'echo replies: seen back to hop 1 (pod-a eth0, 2/2)']);
  });

  test('a DROP rule that counted the probes wins, at the last hop of its namespace that saw them', () => {
    const issue: PathIssue = { cause: 'mtu', hop: 4, direction: 'request', summary: 'x', evidence: [] };
    const v = decideVerdict(input({ rules: [drop], issue }));
    expect(v).toMatchObject({ connected: false, cause: 'firewall', hop: 2, direction: 'request' });
    expect(v.evidence[0]).toBe('iptables-nft filter FORWARD rule 1 in node: "-s 10.244.1.2/32 -j DROP" counted +2 packets (168 bytes) during the probe');
    expect(v.evidence).toContain('echo requests: seen up to hop 2 (node veth-a, 2/2), not at hop 4 (node veth-b)');
  });

  test('a DROP of the replies: reply direction, at the hop closest to FROM that still saw them', () => {
    const observed = [obs(2, 0), obs(2, 0), BRIDGE, obs(2, 2), obs(2, 2)];
    const v = decideVerdict(input({ rules: [{ ...drop, text: '-s 10.244.1.3/32 -j DROP' }], observed }));
    expect(v).toMatchObject({ cause: 'firewall', hop: 4, direction: 'reply', summary: 'firewall: DROP rule in node (filter FORWARD) drops the replies' });
  });

  test('an ACCEPT rule that moved is not a cause', () => {
    const v = decideVerdict(input({ rules: [{ ...drop, target: 'ACCEPT' }], observed: [obs(2, 0), obs(2, 0), BRIDGE, obs(2, 0), obs(2, 0)] }));
    expect(v.cause).toBe('no-reply');
  });

  test("the sender's local errors: message too long, network unreachable", () => {
    const tooLong = decideVerdict(input({ result: { proto: 'icmp', sent: 2, answered: 0, refused: 0, identity: {}, localError: 'local error: message too long, mtu=1000' }, observed: HOPS.map(() => obs(0, 0)) }));
    expect(tooLong).toMatchObject({ cause: 'mtu', hop: 1 });
    const noRoute = decideVerdict(input({ result: { proto: 'icmp', sent: 2, answered: 0, refused: 0, identity: {}, localError: 'connect: Network is unreachable' }, hops: [], observed: [] }));
    expect(noRoute).toMatchObject({ cause: 'no-route', hop: null });
  });

  test('a configuration problem carries the trace and the unanswered ARP as evidence', () => {
    const issue: PathIssue = { cause: 'not-attached', hop: 4, direction: 'request', summary: 'veth veth-b … not attached', evidence: ['veth-b has no master'] };
    const v = decideVerdict(input({ issue, observed: [obs(0, 0), obs(0, 0), BRIDGE, obs(0, 0), obs(0, 0)], arp: [{ target: '10.244.1.3', asker: '10.244.1.2', requests: 3, replies: 0, seenAt: [1, 2] }] }));
    expect(v).toMatchObject({ cause: 'not-attached', hop: 4 });
    expect(v.evidence).toEqual(['veth-b has no master', 'echo requests: seen on no hop (4 captured)', 'ARP who-has 10.244.1.3 tell 10.244.1.2: 3 requests, no reply (seen at hops 1, 2)']);
  });

  test('what came back: frag needed → mtu, RST → port closed, admin prohibited → firewall, unreachable', () => {
    const frag = decideVerdict(input({ observed: [obs(2, 0, { errors: [{ kind: 'icmp-frag-needed', from: '10.244.1.1', mtu: 1000, count: 2 }] }), obs(2, 0), BRIDGE, obs(0, 0), obs(0, 0)] }));
    expect(frag).toMatchObject({ cause: 'mtu', hop: 2 });
    const rst = decideVerdict(
      input({ proto: 'tcp', port: 80, observed: [obs(2, 0, { errors: [{ kind: 'rst', from: '10.244.1.3', count: 2 }] }), obs(2, 0), BRIDGE, obs(2, 0), obs(2, 0)], result: { proto: 'tcp', sent: 2, answered: 0, refused: 2, identity: {} } }),
    );
    expect(rst).toMatchObject({ cause: 'port-closed', hop: 5, summary: 'destination port closed: 10.244.1.3 answered the SYN with a TCP RST (nothing listens on tcp port 80)' });
    const admin = decideVerdict(input({ observed: [obs(2, 0, { errors: [{ kind: 'icmp-admin-prohibited', from: '10.244.1.1', count: 2 }] }), obs(2, 0), BRIDGE, obs(0, 0), obs(0, 0)] }));
    expect(admin.cause).toBe('firewall');
    const host = decideVerdict(input({ observed: [obs(2, 0, { errors: [{ kind: 'icmp-host-unreachable', from: '10.244.1.1', count: 2 }] }), obs(2, 0), BRIDGE, obs(0, 0), obs(0, 0)] }));
    expect(host).toMatchObject({ cause: 'unreachable', summary: '10.244.1.1 answered host unreachable' });
  });

  test('unanswered ARP for a next hop; else the last hop seen', () => {
    const arp = decideVerdict(input({ observed: HOPS.map(() => obs(0, 0)), arp: [{ target: '10.244.1.3', asker: '10.244.1.2', requests: 3, replies: 0, seenAt: [1] }] }));
    expect(arp).toMatchObject({ cause: 'arp-unanswered', hop: 1 });
    const lost = decideVerdict(input({}));
    expect(lost).toMatchObject({ cause: 'unknown', hop: 2, summary: 'traffic stops after hop 2 (node veth-a); no rule, link, route or ARP explains it' });
  });

  test('UDP without a reply is OK only when delivered with no error and no drop', () => {
    const udp = (o: Partial<VerdictInput>) => input({ proto: 'udp', port: 53, result: { proto: 'udp', sent: 2, answered: 0, refused: 0, identity: {} }, observed: [obs(2, 0), obs(2, 0), BRIDGE, obs(2, 0), obs(2, 0)], ...o });
    expect(decideVerdict(udp({})).connected).toBe(true);
    expect(decideVerdict(udp({ rules: [drop] })).connected).toBe(false);
    expect(decideVerdict(udp({ observed: [obs(2, 0), obs(2, 0), BRIDGE, obs(2, 0), obs(0, 0)] })).connected).toBe(false);
  });
});

describe('renderReport', () => {
  test('table with per-hop counts, the failing hop marked, verdict and evidence', () => {
    const observed = [obs(2, 0), obs(2, 0), BRIDGE, obs(0, 0), obs(0, 0)];
    const verdict = decideVerdict(input({ rules: [drop], observed }));
    const report: DiagnoseReport = {
      version: 1,
      from,
      to,
      probe: { proto: 'icmp', port: null, size: 56, count: 2, timeoutMs: 1000, df: true, identity: { icmpId: 9 } },
      verdict,
      hops: HOPS.map((h, i) => ({ ...h, observed: observed[i] })),
      arp: [],
      result: { proto: 'icmp', sent: 2, answered: 0, refused: 0, identity: { icmpId: 9 } },
      counters: { rules: [drop], interfaces: [], neighbours: [] },
      trace: { method: 'off', traced: [], failed: [], legacy: [], drops: [], walks: [] },
      capture: [],
      warnings: [],
      durationMs: 1,
    };
    const text = renderReport(report);
    expect(text).toContain('diagnose pod-a eth0 10.244.1.2/24 → pod-b eth0 10.244.1.3/24');
    expect(text).toContain('probe    ICMP echo, 56 bytes payload, DF ×2, 1000 ms timeout (echo id 9)');
    expect(text).toMatch(/^✗2 +node +veth-a +bridge port +up +1500 +2\/2 +0\/2$/m);
    expect(text).toMatch(/^ 3 +node +cni0 +bridge +up +1500 +- +- +not captured: bridge$/m);
    expect(text).toContain('verdict  NOT CONNECTED at hop 2 — firewall');
    expect(text).toContain('  node  iptables-nft filter FORWARD #1  +2 pkts  DROP  -s 10.244.1.2/32 -j DROP');
    expect(text).not.toMatch(/\x1b\[/);
    expect(renderReport(report, { color: true })).toMatch(/\x1b\[31;1mverdict/);
  });
});

describe('per-hop latency', () => {
  test('a hop adding far more than the others is flagged (slowHop, evidence); ordinary spread is not', () => {
    const lat = (us: Array<number | undefined>) => HOPS.map((_, i) => ({ ...obs(2, 2), ...(us[i] !== undefined ? { addedUs: us[i] } : {}) }));
    const slow = decideVerdict(input({ observed: lat([undefined, 40, undefined, 60000, 35]), result: { proto: 'icmp', sent: 2, answered: 2, refused: 0, identity: { icmpId: 9 } } }));
    expect(slow.connected).toBe(true);
    expect(slow.slowHop).toBe(4);
    expect(slow.evidence.join('\n')).toMatch(/slow hop: .* \(hop 4\) adds 60\.0 ms per probe/);
    const fine = decideVerdict(input({ observed: lat([undefined, 40, undefined, 900, 35]), result: { proto: 'icmp', sent: 2, answered: 2, refused: 0, identity: { icmpId: 9 } } }));
    expect(fine.slowHop).toBeUndefined();
  });
});
