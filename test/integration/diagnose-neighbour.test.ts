/**
 * diagnose on real namespaces, neighbour, reverse-path and Service causes (examples/diagnose/neighbour.yaml,
 * rp-filter.yaml and service.yaml with the faults their headers list): a wrong static neighbour entry in the
 * source (frames to a MAC nobody has), an address two pods hold (two MACs answer ARP), strict rp_filter in a
 * router, and a Service without endpoints (kube-proxy's REJECT in KUBE-SERVICES, built by hand).
 */
import { diagnose } from '../../src/diagnose/diagnose';
import type { DiagnoseReport } from '../../src/diagnose/types';
import { applyExample, applyFaults, destroyExample, hopOf, limiter } from '../helpers/diagnose';
import { cleanupPrefix, isRoot, nsExec, testPrefix } from '../helpers/netns';

const P = testPrefix('dn');
const d = isRoot ? describe : describe.skip;
// Each test awaits a diagnosis started in beforeAll: on a loaded machine one takes tens of seconds.
jest.setTimeout(180_000);

d('diagnose: neighbour and rp_filter causes on real namespaces', () => {
  let nb: (n: string) => string;
  let rp: (n: string) => string;
  let sv: (n: string) => string;
  const runs = new Map<string, Promise<DiagnoseReport>>();
  const result = (name: string): Promise<DiagnoseReport> => runs.get(name) ?? Promise.reject(new Error(`${name} was not started`));

  beforeAll(async () => {
    cleanupPrefix(P);
    [nb, rp, sv] = await Promise.all([applyExample(P, 'neighbour.yaml', 'n'), applyExample(P, 'rp-filter.yaml', 'r'), applyExample(P, 'service.yaml', 's')]);
    applyFaults('neighbour.yaml', nb);
    applyFaults('rp-filter.yaml', rp);
    applyFaults('service.yaml', sv);
    const limit = limiter(2);
    const start = (name: string, opts: Parameters<typeof diagnose>[0]) => {
      const p = limit(() => diagnose(opts));
      p.catch(() => undefined);
      runs.set(name, p);
    };
    start('wrong-mac', { from: nb('pod-a'), to: nb('pod-b') });
    start('rp-filter', { from: rp('pod-a'), to: rp('pod-c') });
    start('duplicate', { from: nb('pod-b'), to: nb('pod-d') });
    start('rp-ok', { from: rp('pod-b'), to: rp('pod-c') });
    start('no-endpoints', { from: sv('pod-a'), to: '10.96.0.10:80' });
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(runs.values());
    await Promise.all(['n', 'r', 's'].map((t) => destroyExample(P, t)));
    cleanupPrefix(P);
  }, 60_000);

  test("wrong static neighbour entry: the source's entry, the MAC nobody has, the right MAC and the fix", async () => {
    const r = await result('wrong-mac');
    const right = (JSON.parse(nsExec(nb('pod-b'), 'ip', ['-j', 'link', 'show', 'eth0'])) as Array<{ address: string }>)[0].address;
    expect(r.verdict).toMatchObject({ connected: false, cause: 'wrong-neighbour', direction: 'request', hop: 1 });
    expect(hopOf(r)).toEqual({ netns: nb('pod-a'), iface: 'eth0', role: 'source' });
    expect(r.verdict.summary).toBe(`${nb('pod-a')}'s neighbour entry for 10.244.1.3 points at MAC 02:00:5e:00:be:ef (nobody has it); 10.244.1.3 is ${right} on ${nb('pod-b')} eth0`);
    expect(r.verdict.evidence).toEqual(
      expect.arrayContaining([
        `neighbour entry in ${nb('pod-a')}: 10.244.1.3 dev eth0 lladdr 02:00:5e:00:be:ef PERMANENT (static: it never expires)`,
        '2 probe frame(s) captured at hop 1 sent to MAC 02:00:5e:00:be:ef',
        `fix: ip netns exec ${nb('pod-a')} ip neigh replace 10.244.1.3 dev eth0 lladdr ${right} (or ip netns exec ${nb('pod-a')} ip neigh del 10.244.1.3 dev eth0 to let ARP learn it)`,
      ]),
    );
    // The frames do reach pod-b's interface: only its kernel discards them (the old "no-reply" verdict).
    expect(r.hops.find((h) => h.role === 'destination')?.observed.request).toBe(2);
  });

  test('duplicate address: two MACs answer ARP (a note when the probe still gets an answer)', async () => {
    const r = await result('duplicate');
    const macs = ['pod-c', 'pod-d'].map((p) => (JSON.parse(nsExec(nb(p), 'ip', ['-j', 'link', 'show', 'eth0'])) as Array<{ address: string }>)[0].address).sort();
    const line = `duplicate address: 2 MACs answer ARP for 10.244.1.5 on ${nb('pod-b')} eth0`;
    if (r.verdict.connected) expect(r.verdict.evidence).toContain(`note: ${line}`);
    else expect(r.verdict).toMatchObject({ cause: 'duplicate-ip', summary: line });
    expect(r.verdict.evidence.join('\n')).toContain(line);
    // Both holders are named by the verdict's ARP evidence (when it is the cause) or seen answering.
    expect(r.arp.find((a) => a.target === '10.244.1.5')?.replies).toBeGreaterThanOrEqual(1);
    expect(macs).toHaveLength(2);
  });

  test('rp_filter: strict reverse-path filter in the router, stated with the sysctl and the route back', async () => {
    const r = await result('rp-filter');
    expect(r.verdict).toMatchObject({ connected: false, cause: 'rp-filter', direction: 'request' });
    expect(hopOf(r)).toEqual({ netns: rp('node'), iface: 'cni0', role: 'router in' });
    expect(r.verdict.summary).toBe(`reverse-path filter in ${rp('node')}: net.ipv4.conf.all.rp_filter = 1 drops packets from 10.244.1.2 arriving on cni0 (the route back leaves by cni1)`);
    expect(r.verdict.evidence).toEqual(expect.arrayContaining([`route back to 10.244.1.2 in ${rp('node')}: 10.244.1.2/32 dev cni1 — not cni0, where the probe arrives`]));
  });

  test('rp_filter leaves other sources alone: connected', async () => {
    const r = await result('rp-ok');
    expect(r.verdict).toMatchObject({ connected: true });
  });

  test('Service without endpoints: ClusterIP:port, named by the kube-proxy REJECT it meets, with the fix', async () => {
    const r = await result('no-endpoints');
    expect(r.probe).toMatchObject({ proto: 'tcp', port: 80 });
    expect(r.verdict).toMatchObject({ connected: false, cause: 'service-no-endpoints', direction: 'request' });
    expect(r.hops.find((h) => h.index === r.verdict.hop)?.netns).toBe(sv('node'));
    expect(r.verdict.summary).toBe(`Service default/web:http has no endpoints: kube-proxy rejects connections to 10.96.0.10:80 in ${sv('node')}`);
    expect(r.trace.drops[0]).toMatchObject({ backend: 'iptables-nft', table: 'filter', chain: 'KUBE-SERVICES', iptables: { position: 1 } });
    expect(r.verdict.evidence).toContain('fix: give the Service ready endpoints — check its selector matches running, Ready pods (kubectl get endpointslices -l kubernetes.io/service-name=web -n default)');
  });
});
