import { FdbWatch, UnknownBridgeError, readFdb, readFdbDetailed } from '../../src/host/fdb';
import { handler as fdbHandler } from '../../src/cli/commands/fdb';
import { cleanupPrefix, isRoot, nsExec, sh, testPrefix, tryRun } from '../helpers/netns';
import { captureOutput } from '../helpers/output';

const P = testPrefix('fd');
const NODE = `${P}n`;
const BR = `${P}br`;
const PODS = [
  { ns: `${P}a`, port: `${P}pa`, ip: '10.244.171.1' },
  { ns: `${P}b`, port: `${P}pb`, ip: '10.244.171.2' },
];
const d = isRoot ? describe : describe.skip;

function macOf(ns: string, ifname: string): string {
  return (JSON.parse(sh('ip', ['-j', '-n', ns, 'link', 'show', ifname])) as Array<{ address: string }>)[0].address;
}

function addPod(pod: { ns: string; port: string; ip: string }): void {
  sh('ip', ['netns', 'add', pod.ns]);
  sh('ip', ['-n', NODE, 'link', 'add', pod.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.ns]);
  sh('ip', ['-n', NODE, 'link', 'set', pod.port, 'master', BR, 'up']);
  sh('ip', ['-n', pod.ns, 'addr', 'add', `${pod.ip}/24`, 'dev', 'eth0']);
  sh('ip', ['-n', pod.ns, 'link', 'set', 'eth0', 'up']);
}

d('netscope fdb on a real bridge', () => {
  beforeAll(() => {
    cleanupPrefix(P);
    sh('ip', ['netns', 'add', NODE]);
    sh('ip', ['-n', NODE, 'link', 'add', BR, 'type', 'bridge']);
    sh('ip', ['-n', NODE, 'link', 'set', BR, 'up']);
    for (const pod of PODS) addPod(pod);
    // Pod to pod through the bridge: both MACs are learned on their ports.
    nsExec(PODS[0].ns, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', PODS[1].ip]);
  });
  afterAll(() => cleanupPrefix(P));

  test("each pod's MAC is on its port, resolved to its namespace and IP", async () => {
    const read = await readFdbDetailed(BR, NODE);
    expect(read.bridge).toMatchObject({ name: BR, netns: NODE });
    expect(read.ports).toEqual(PODS.map((p) => p.port).sort());
    for (const pod of PODS) {
      const mac = macOf(pod.ns, 'eth0');
      const entry = read.entries.find((e) => e.mac === mac && e.master === BR);
      expect(entry).toBeDefined();
      expect(entry?.port).toBe(pod.port);
      expect(entry?.flags).toContain('learned');
      expect(entry?.usedSec).toBeGreaterThanOrEqual(0);
      expect(entry?.resolved).toEqual({ netns: pod.ns, label: pod.ns, ifname: 'eth0', ips: [pod.ip], via: 'owner' });
      // The port's own address is a local entry resolved to the port in the node namespace, unless the bridge
      // took that address as its own (it takes its lowest port's): then it is the bridge's.
      const local = read.entries.find((e) => e.mac === macOf(NODE, pod.port) && e.flags.includes('local'));
      expect(local?.port).toBe(pod.port);
      expect(local?.resolved).toMatchObject({ netns: NODE, ifname: macOf(NODE, pod.port) === macOf(NODE, BR) ? BR : pod.port });
    }
    // The bridge's own MAC is labelled as the bridge, never as the veth port whose address it borrowed.
    const own = read.entries.filter((e) => e.mac === macOf(NODE, BR) && e.flags.includes('local'));
    expect(own.length).toBeGreaterThan(0);
    for (const e of own) expect(e.resolved).toMatchObject({ netns: NODE, ifname: BR });
  });

  test('watch: a new pod appears, a deleted entry expires, a MAC that changes port moves', async () => {
    // A static entry is deleted below: a learned one could be relearned at once from any frame of its pod.
    const STATIC = '02:00:00:00:71:aa';
    sh('bridge', ['-n', NODE, 'fdb', 'add', STATIC, 'dev', PODS[0].port, 'master', 'static']);
    const watch = new FdbWatch();
    const first = watch.update(await readFdb(BR, NODE));
    expect(first.entries.find((e) => e.mac === STATIC)).toMatchObject({ port: PODS[0].port, flags: ['static', 'master'] });
    const c = { ns: `${P}c`, port: `${P}pc`, ip: '10.244.171.3' };
    addPod(c);
    nsExec(c.ns, 'ping', ['-c', '1', '-W', '2', PODS[0].ip]);
    const macC = macOf(c.ns, 'eth0');
    sh('bridge', ['-n', NODE, 'fdb', 'del', STATIC, 'dev', PODS[0].port, 'master']);
    let diff = watch.update(await readFdb(BR, NODE));
    expect(diff.added.map((e) => [e.mac, e.port, e.resolved?.netns])).toContainEqual([macC, c.port, c.ns]);
    expect(diff.expired.map((e) => [e.mac, e.port])).toEqual([[STATIC, PODS[0].port]]);
    // Pod c takes over pod b's MAC (a VM migrating, a pod restarted with a fixed MAC): the bridge relearns it on c's port.
    const macB = macOf(PODS[1].ns, 'eth0');
    sh('ip', ['-n', PODS[1].ns, 'link', 'set', 'eth0', 'down']);
    sh('ip', ['-n', c.ns, 'link', 'set', 'eth0', 'address', macB]);
    tryRun('ip', ['netns', 'exec', c.ns, 'ping', '-c', '1', '-W', '1', PODS[0].ip]);
    diff = watch.update(await readFdb(BR, NODE));
    expect(diff.moved.map((m) => [m.entry.mac, m.fromPort, m.entry.port])).toContainEqual([macB, PODS[1].port, c.port]);
  });

  test('unknown bridge lists the bridges that exist', async () => {
    await expect(readFdb(`${P}nope`, NODE)).rejects.toThrow(UnknownBridgeError);
    await expect(readFdb(`${P}nope`, NODE)).rejects.toThrow(new RegExp(`no bridge "${P}nope" in namespace "${NODE}"; bridges: .*${BR}@${NODE}`));
    await expect(readFdb(BR, `${P}nons`)).rejects.toThrow(/no network namespace/);
  });

  test('the command prints the table and sets exit codes', async () => {
    const { out, err, restore } = captureOutput();
    try {
      await fdbHandler({ bridge: `${BR}@${NODE}`, _: [], $0: 'netscope' });
      const text = out.join('');
      expect(text).toMatch(new RegExp(`^bridge ${BR} in ${NODE}: `));
      expect(text).toMatch(new RegExp(`${PODS[0].port}\\s+-\\s+learned .*${PODS[0].ns} eth0 ${PODS[0].ip.replace(/\./g, '\\.')}`));
      out.length = 0;
      await fdbHandler({ bridge: `${BR}@${NODE}`, json: true, _: [], $0: 'netscope' });
      const doc = JSON.parse(out.join('')) as { bridge: string; entries: Array<{ resolved?: { netns: string } }> };
      expect(doc.bridge).toBe(BR);
      expect(doc.entries.some((e) => e.resolved?.netns === PODS[0].ns)).toBe(true);
      await fdbHandler({ bridge: `${P}zz@${NODE}`, _: [], $0: 'netscope' });
      expect(err.join('')).toMatch(new RegExp(`^netscope: no bridge "${P}zz".*bridges: .*${BR}@${NODE}.*\\n$`));
      expect(process.exitCode).toBe(2);
    } finally {
      restore();
    }
  });
});
