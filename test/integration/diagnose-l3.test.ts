/**
 * diagnose on real namespaces, layer-3 causes: the example topologies (examples/diagnose) applied under a test
 * prefix with the topology builder; each case checks the verdict's cause, the hop it names and the evidence.
 * Address/subnet mismatch (both directions), missing route (request path, reply path), unanswered ARP (nobody
 * holds the address; a gateway that does not exist), MTU with DF (bridge port, routed, sender's own link).
 */
import { diagnose } from '../../src/diagnose/diagnose';
import type { DiagnoseReport } from '../../src/diagnose/types';
import { applyExample as applyExampleAs, destroyExample, hopOf, limiter } from '../helpers/diagnose';
import { cleanupPrefix, isRoot, testPrefix } from '../helpers/netns';

const P = testPrefix('dh');
const d = isRoot ? describe : describe.skip;
// Each test awaits a diagnosis started in beforeAll: on a loaded machine one takes tens of seconds.
jest.setTimeout(180_000);
const applyExample = (file: string, tag: string): Promise<(declared: string) => string> => applyExampleAs(P, file, tag);
const destroy = (tag: string): Promise<void> => destroyExample(P, tag);

d('diagnose: layer-3 causes on real namespaces', () => {
  let sm: (n: string) => string;
  let nr: (n: string) => string;
  let ar: (n: string) => string;
  let mt: (n: string) => string;
  const runs = new Map<string, Promise<DiagnoseReport>>();
  const result = (name: string): Promise<DiagnoseReport> => runs.get(name) ?? Promise.reject(new Error(`${name} was not started`));

  beforeAll(async () => {
    cleanupPrefix(P);
    [sm, nr, ar, mt] = await Promise.all([applyExample('subnet-mismatch.yaml', 's'), applyExample('no-route.yaml', 'r'), applyExample('arp-unanswered.yaml', 'a'), applyExample('mtu.yaml', 'm')]);
    const limit = limiter(3);
    const start = (name: string, opts: Parameters<typeof diagnose>[0]) => {
      const p = limit(() => diagnose(opts));
      p.catch(() => undefined); // awaited by its test
      runs.set(name, p);
    };
    start('mismatch-to', { from: sm('pod-a'), to: sm('pod-b') });
    start('mismatch-from', { from: sm('pod-b'), to: sm('pod-a') });
    start('no-route', { from: nr('pod-a'), to: nr('pod-c') });
    start('no-route-back', { from: nr('pod-b'), to: nr('pod-c') });
    start('nobody', { from: ar('pod-a'), to: '10.244.1.99' });
    start('no-gateway', { from: ar('pod-b'), to: '10.244.2.50' });
    start('mtu-bridge', { from: mt('pod-a'), to: mt('pod-b'), size: 1200 });
    start('mtu-sender', { from: mt('pod-b'), to: mt('pod-a'), size: 1200 });
    // Last: the router's "fragmentation needed" teaches pod-a the path MTU towards pod-c only.
    start('mtu-routed', { from: mt('pod-a'), to: mt('pod-c'), size: 1200 });
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(runs.values());
    await Promise.all(['s', 'r', 'a', 'm'].map(destroy));
    cleanupPrefix(P);
  }, 180_000);

  test('subnet mismatch: the destination has an address outside its bridge subnet', async () => {
    const r = await result('mismatch-to');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'subnet-mismatch' });
    expect(r.verdict.summary).toMatch(/eth0 has 10\.244\.2\.3\/24, which does not belong to the subnet/);
    // The gateway had to answer: no route to 10.244.2.0/24 in the node.
    expect(hopOf(r)).toMatchObject({ netns: sm('node'), iface: 'cni0', role: 'router in' });
    expect(r.hops[0].observed.errors).toEqual([expect.objectContaining({ kind: 'icmp-net-unreachable', from: '10.244.1.1' })]);
  });

  test('subnet mismatch seen from the misaddressed pod: it cannot send at all', async () => {
    const r = await result('mismatch-from');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'subnet-mismatch', hop: 1 });
    expect(r.result.localError).toMatch(/Network is unreachable/);
  });

  test('no route in FROM: stops at the source, nothing sent', async () => {
    const r = await result('no-route');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'no-route', direction: 'request', hop: 1 });
    expect(r.verdict.evidence.join('\n')).toMatch(/routes in \S+pod-a: 10\.244\.1\.0\/24 dev eth0/);
    expect(r.hops[0].observed.request).toBe(0);
  });

  test('no route back: requests arrive, the replies cannot leave the destination', async () => {
    const r = await result('no-route-back');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'no-route', direction: 'reply' });
    expect(hopOf(r)).toEqual({ netns: nr('pod-c'), iface: 'eth0', role: 'destination' });
    expect(r.hops.find((h) => h.netns === nr('pod-c'))?.observed.request).toBe(2);
    expect(r.hops.every((h) => h.observed.reply === 0)).toBe(true);
  });

  test('ARP unanswered: nobody holds the address', async () => {
    const r = await result('nobody');
    expect(r.to.netns).toBeNull();
    expect(r.verdict).toMatchObject({ connected: false, cause: 'arp-unanswered', hop: 1 });
    expect(r.arp).toEqual(expect.arrayContaining([expect.objectContaining({ target: '10.244.1.99', asker: '10.244.1.2', replies: 0 })]));
    expect(r.arp.find((a) => a.target === '10.244.1.99')?.requests).toBeGreaterThan(0);
  });

  test('ARP unanswered: the default gateway does not exist', async () => {
    const r = await result('no-gateway');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'arp-unanswered', hop: 1 });
    expect(r.verdict.summary).toMatch(/gateway 10\.244\.1\.254 .* does not exist/);
    expect(r.counters.neighbours).toEqual(expect.arrayContaining([expect.objectContaining({ ip: '10.244.1.254', state: expect.arrayContaining([expect.stringMatching(/INCOMPLETE|FAILED/)]) })]));
  });

  test('MTU: a bridge port smaller than the probe drops it silently', async () => {
    const r = await result('mtu-bridge');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'mtu' });
    expect(hopOf(r)).toEqual({ netns: mt('node'), iface: 'veth-b', role: 'bridge port' });
    expect(r.hops.find((h) => h.iface === 'veth-a')?.observed.request).toBe(2);
    expect(r.hops.find((h) => h.iface === 'veth-b')?.observed.request).toBe(0);
  });

  test("MTU: the sender's own link is too small (message too long)", async () => {
    const r = await result('mtu-sender');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'mtu', hop: 1 });
    expect(r.result.localError).toMatch(/message too long/);
  });

  test('MTU: a router cannot forward with DF and answers fragmentation needed', async () => {
    const r = await result('mtu-routed');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'mtu' });
    expect(hopOf(r)).toEqual({ netns: mt('node'), iface: 'cni1', role: 'router out' });
    expect(r.hops[0].observed.errors).toEqual([expect.objectContaining({ kind: 'icmp-frag-needed', from: '10.244.1.1', mtu: 1000 })]);
  });
});
