/**
 * diagnose on real namespaces, layer-2 causes: the example topologies (examples/diagnose) applied under a test
 * prefix with the topology builder; each case checks the verdict's cause, the hop it names and the evidence.
 * Firewall (FORWARD DROP in the node, INPUT REJECT in a pod), link down (pod side, host side, bridge), veth not
 * attached / on the wrong bridge, closed port (TCP RST, UDP port unreachable).
 */
import { diagnose } from '../../src/diagnose/diagnose';
import type { DiagnoseReport } from '../../src/diagnose/types';
import { applyExample as applyExampleAs, destroyExample, hopOf, limiter, pidsIn } from '../helpers/diagnose';
import { cleanupPrefix, isRoot, sh, testPrefix } from '../helpers/netns';

const P = testPrefix('dg');
const d = isRoot ? describe : describe.skip;
// Each test awaits a diagnosis started in beforeAll: on a loaded machine one takes tens of seconds.
jest.setTimeout(180_000);
const applyExample = (file: string, tag: string): Promise<(declared: string) => string> => applyExampleAs(P, file, tag);
const destroy = (tag: string): Promise<void> => destroyExample(P, tag);

d('diagnose: layer-2 causes on real namespaces', () => {
  let fw: (n: string) => string;
  let ld: (n: string) => string;
  let na: (n: string) => string;
  let pc: (n: string) => string;
  let rulesBefore = '';
  const runs = new Map<string, Promise<DiagnoseReport>>();
  const result = (name: string): Promise<DiagnoseReport> => runs.get(name) ?? Promise.reject(new Error(`${name} was not started`));

  beforeAll(async () => {
    cleanupPrefix(P);
    [fw, ld, na, pc] = await Promise.all([applyExample('firewall.yaml', 'f'), applyExample('link-down.yaml', 'l'), applyExample('not-attached.yaml', 'n'), applyExample('port-closed.yaml', 'p')]);
    rulesBefore = sh('ip', ['netns', 'exec', fw('node'), 'iptables-save']).replace(/^#.*\n/gm, '');
    const limit = limiter(3);
    const start = (name: string, opts: Parameters<typeof diagnose>[0]) => {
      const p = limit(() => diagnose(opts));
      p.catch(() => undefined); // awaited by its test
      runs.set(name, p);
    };
    start('drop', { from: fw('pod-a'), to: fw('pod-b') });
    start('reject', { from: fw('pod-a'), to: fw('pod-c'), port: 8080 });
    start('pod-side', { from: ld('pod-a'), to: ld('pod-b') });
    start('host-side', { from: ld('pod-a'), to: ld('pod-c') });
    start('bridge-down', { from: ld('pod-d'), to: ld('pod-e') });
    start('not-attached', { from: na('pod-a'), to: na('pod-b') });
    start('wrong-bridge', { from: na('pod-a'), to: na('pod-c') });
    start('tcp-closed', { from: pc('pod-a'), to: pc('pod-b'), port: 7777 });
    start('udp-closed', { from: pc('pod-a'), to: pc('pod-b'), proto: 'udp', port: 7777 });
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(runs.values());
    await Promise.all(['f', 'l', 'n', 'p'].map(destroy));
    cleanupPrefix(P);
  }, 180_000);

  test('DROP in the node FORWARD chain: the rule, its counter, the hop after which requests vanish', async () => {
    const r = await result('drop');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'firewall', direction: 'request' });
    expect(hopOf(r)).toEqual({ netns: fw('node'), iface: 'veth-a', role: 'bridge port' });
    const hit = r.counters.rules.find((x) => x.target === 'DROP');
    expect(hit).toMatchObject({ netns: fw('node'), table: 'filter', chain: 'FORWARD', position: 1, dPackets: 2 });
    // Traced: the exact iptables-nft rule (position and iptables-save text), and its counter agrees.
    expect(r.verdict.evidence[0]).toMatch(/^nft trace in \S+node: iptables-nft filter FORWARD rule 1 \(nft handle \d+\): "-s 10\.244\.1\.2\/32 -d 10\.244\.1\.3\/32 -p icmp .*-j DROP" gave verdict drop to 2\/2 probes/);
    expect(r.trace.drops[0]).toMatchObject({ backend: 'iptables-nft', family: 'ip', table: 'filter', chain: 'FORWARD', iptables: { position: 1 } });
    expect(r.verdict.evidence).toEqual(expect.arrayContaining([expect.stringMatching(/^counter: iptables-nft filter FORWARD rule 1 in .*-s 10\.244\.1\.2\/32 -d 10\.244\.1\.3\/32 -p icmp.*\+2 packets/)]));
    // Seen where it enters the bridge, not where it would leave it.
    expect(r.hops.find((h) => h.iface === 'veth-a')?.observed.request).toBe(2);
    expect(r.hops.find((h) => h.iface === 'veth-b')?.observed.request).toBe(0);
  });

  test('REJECT in the destination INPUT chain is a firewall verdict, not a closed port', async () => {
    const r = await result('reject');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'firewall' });
    expect(hopOf(r)).toMatchObject({ netns: fw('pod-c'), iface: 'eth0', role: 'destination' });
    expect(r.counters.rules.find((x) => x.target === 'REJECT')).toMatchObject({ netns: fw('pod-c'), chain: 'INPUT', dPackets: 2 });
    // The ICMP the REJECT sends back is matched to the probes by their source ports.
    expect(r.hops[0].observed.errors).toEqual([expect.objectContaining({ kind: 'icmp-port-unreachable', from: '10.244.1.4', count: 2 })]);
  });

  test('link down, pod side: the destination eth0 is administratively down', async () => {
    const r = await result('pod-side');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'link-down' });
    expect(hopOf(r)).toEqual({ netns: ld('pod-b'), iface: 'eth0', role: 'destination' });
    expect(r.verdict.summary).toMatch(/pod side/);
    expect(r.verdict.evidence.join('\n')).toMatch(/administratively down/);
    expect(r.verdict.evidence.join('\n')).toMatch(/ARP who-has 10\.244\.1\.3 tell 10\.244\.1\.2: \d+ requests, no reply/);
  });

  test('link down, host side: the bridge port veth is down', async () => {
    const r = await result('host-side');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'link-down' });
    expect(hopOf(r)).toEqual({ netns: ld('node'), iface: 'veth-c', role: 'bridge port' });
    expect(r.verdict.summary).toMatch(/host side, port of bridge cni0/);
  });

  test('link down: the bridge itself', async () => {
    const r = await result('bridge-down');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'link-down' });
    expect(hopOf(r)).toEqual({ netns: ld('node'), iface: 'cni1', role: 'bridge' });
  });

  test('veth not attached to the bridge', async () => {
    const r = await result('not-attached');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'not-attached' });
    expect(hopOf(r)).toMatchObject({ netns: na('node'), iface: 'veth-b' });
    expect(r.verdict.evidence.join('\n')).toMatch(/veth-b has no master \(fix: ip -n \S+ link set veth-b master cni0\)/);
  });

  test('veth attached to another bridge', async () => {
    const r = await result('wrong-bridge');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'wrong-bridge' });
    expect(hopOf(r)).toMatchObject({ netns: na('node'), iface: 'veth-c' });
    expect(r.verdict.summary).toMatch(/port of bridge cni9, but it belongs on bridge cni0/);
  });

  test('closed TCP port: RST from the destination', async () => {
    const r = await result('tcp-closed');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'port-closed' });
    expect(hopOf(r)).toEqual({ netns: pc('pod-b'), iface: 'eth0', role: 'destination' });
    expect(r.result.refused).toBe(2);
    expect(r.hops.every((h) => !h.observed.captured || h.observed.request === 2)).toBe(true);
    expect(r.hops[0].observed.errors).toEqual([expect.objectContaining({ kind: 'rst', from: '10.244.1.3', count: 2 })]);
  });

  test('closed UDP port: ICMP port unreachable matched by source port and payload tag', async () => {
    const r = await result('udp-closed');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'port-closed' });
    expect(r.verdict.summary).toMatch(/ICMP port unreachable/);
    expect(r.probe.identity.tag).toMatch(/^netscope-diagnose-[0-9a-f]{8}$/);
    expect(r.hops[r.hops.length - 1].observed.request).toBe(2);
  });

  test('leaves nothing behind: same rules, no process left in the namespaces', async () => {
    await Promise.allSettled(runs.values());
    expect(sh('ip', ['netns', 'exec', fw('node'), 'iptables-save']).replace(/^#.*\n/gm, '')).toBe(rulesBefore);
    for (const ns of [fw('node'), fw('pod-a'), ld('node'), ld('pod-a'), pc('pod-a'), pc('pod-b')]) expect(pidsIn(ns)).toBe('');
  });
});
