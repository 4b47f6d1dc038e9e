import { spawn, type ChildProcess } from 'child_process';
import { bridgePorts, discover, findBridge, findNetnsByAddress, vethPeer } from '../../src/topology/discover';
import { renderTree } from '../../src/topology/tree';
import { cleanupPrefix, isRoot, sh, testPrefix } from '../helpers/netns';

// This area's tag "tp" plus "d": distinct from every name the apply tests create.
const P = `${testPrefix('tp')}d`;
const NODE = `${P}node`;
const POD = `${P}pod`;
const d = isRoot ? describe : describe.skip;

d('discover (real namespaces)', () => {
  let holder: ChildProcess | undefined;

  beforeAll(() => {
    cleanupPrefix(P);
    sh('ip', ['netns', 'add', NODE]);
    sh('ip', ['netns', 'add', POD]);
    sh('ip', ['-n', NODE, 'link', 'add', `${P}br`, 'type', 'bridge']);
    sh('ip', ['-n', NODE, 'link', 'add', `${P}vh`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', POD]);
    sh('ip', ['-n', NODE, 'link', 'set', `${P}vh`, 'master', `${P}br`, 'up']);
    sh('ip', ['-n', NODE, 'tuntap', 'add', 'dev', `${P}tap`, 'mode', 'tap']);
    sh('ip', ['-n', NODE, 'link', 'set', `${P}tap`, 'master', `${P}br`]);
    sh('ip', ['-n', NODE, 'addr', 'add', '10.244.201.1/24', 'dev', `${P}br`]);
    sh('ip', ['-n', NODE, 'link', 'set', `${P}br`, 'up']);
    sh('ip', ['-n', POD, 'addr', 'add', '10.244.201.2/24', 'dev', 'eth0']);
    sh('ip', ['-n', POD, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', POD, 'route', 'add', 'default', 'via', '10.244.201.1']);
  });

  afterAll(() => {
    if (holder && holder.exitCode === null) holder.kill('SIGKILL');
    cleanupPrefix(P);
  });

  test('finds bridge, ports, tap, veth peer across namespaces, routes', async () => {
    const topo = await discover();
    const node = topo.namespaces.find((n) => n.id === NODE);
    expect(node?.name).toBe(NODE);
    expect(node?.inode).toBeGreaterThan(0);
    const host = topo.namespaces.find((n) => n.id === '');
    expect(host?.label).toBe('host');

    const br = findBridge(topo, `${P}br`, NODE);
    expect(br?.kind).toBe('bridge');
    expect(br?.addrs).toContainEqual({ family: 'inet', local: '10.244.201.1', prefixlen: 24 });
    const ports = bridgePorts(topo, br!);
    expect(ports.map((p) => [p.name, p.kind])).toEqual([
      [`${P}tap`, 'tap'],
      [`${P}vh`, 'veth'],
    ]);
    const vh = ports.find((p) => p.kind === 'veth')!;
    expect(vh.peer).toMatchObject({ netns: POD, ifname: 'eth0' });
    const eth0 = vethPeer(topo, vh)!;
    expect(eth0.peer).toMatchObject({ netns: NODE, ifname: `${P}vh`, ifindex: vh.ifindex });
    expect(eth0.stats?.rxPackets).toBeGreaterThanOrEqual(0);
    expect(findNetnsByAddress(topo, '10.244.201.2')?.id).toBe(POD);
    expect(topo.routes).toContainEqual({ netns: POD, dst: 'default', gateway: '10.244.201.1', dev: 'eth0' });

    const tree = renderTree(topo, { bridge: `${P}br` });
    expect(tree).toContain(`${P}br bridge`);
    expect(tree).toMatch(new RegExp(`${P}vh veth[^\\n]*\\n[^\\n]*⇄ eth0 UP in namespace ${POD} 10\\.244\\.201\\.2/24`));
  });

  test('limits to requested namespaces', async () => {
    const topo = await discover({ netns: [POD] });
    expect(topo.namespaces.map((n) => n.id)).toEqual([POD]);
    expect(topo.interfaces.every((i) => i.netns === POD)).toBe(true);
  });

  test('finds an unnamed namespace held by a process, labelled by it', async () => {
    holder = spawn('unshare', ['-n', 'sleep', '30'], { stdio: 'ignore' });
    const pid = holder.pid!;
    // unshare execs sleep in the new namespace: wait until the pid's namespace differs from ours.
    const ours = sh('readlink', ['/proc/self/ns/net']).trim();
    for (let i = 0; i < 100; i++) {
      let link = '';
      try {
        link = sh('readlink', [`/proc/${pid}/ns/net`]).trim();
      } catch {
        /* not there yet */
      }
      if (link && link !== ours && sh('cat', [`/proc/${pid}/comm`]).trim() === 'sleep') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const topo = await discover();
    const ns = topo.namespaces.find((n) => n.pid === pid);
    expect(ns).toMatchObject({ id: `pid:${pid}`, label: `pid ${pid} (sleep)` });
    expect(topo.interfaces.filter((i) => i.netns === `pid:${pid}`).map((i) => i.name)).toEqual(['lo']);
    holder.kill('SIGKILL');
  });
});
