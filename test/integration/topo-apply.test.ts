/**
 * The real example files applied under a test name and prefix, through the CLI: connectivity, idempotence,
 * convergence, exact destroy, rollback on injected failure, on a bad gateway and on SIGINT, and discovery of
 * everything that was built.
 */
import { spawn, spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import os from 'os';
import path from 'path';
import { executePlan } from '../../src/topology/apply';
import { discover } from '../../src/topology/discover';
import { planApply, planDestroy } from '../../src/topology/lifecycle';
import { formatPlan } from '../../src/topology/plan';
import { loadTopologyFile } from '../../src/topology/schema';
import { cleanupPrefix, isRoot, sh, testPrefix, tryRun } from '../helpers/netns';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'netscope');
const EX = path.join(ROOT, 'examples', 'topology');
const P = testPrefix('tp');
const NAME = `${P}k8s`;
const d = isRoot ? describe : describe.skip;

function cli(args: string[], env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function apply(file: string) {
  return cli(['topo', 'apply', file, '--name', NAME, '--prefix', P]);
}

/** The same apply in-process (no CLI start-up): the plan text, and the error message if it failed. */
async function applyHere(file: string, failAt?: number): Promise<{ plan: string; error?: string }> {
  const spec = loadTopologyFile(file);
  spec.name = NAME;
  const plan = await planApply(spec, { prefix: P, file });
  try {
    await executePlan(plan, { failAt });
    return { plan: formatPlan(plan) };
  } catch (err) {
    return { plan: formatPlan(plan), error: (err as Error).message };
  }
}

async function destroyHere(): Promise<number> {
  const plan = await planDestroy(NAME);
  return executePlan(plan);
}

interface LinkJson {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  master?: string;
  address?: string;
  ifalias?: string;
}

function links(ns?: string): string {
  const out = sh('ip', [...(ns ? ['-n', ns] : []), '-j', 'link', 'show']);
  return JSON.stringify((JSON.parse(out) as LinkJson[]).map((l) => [l.ifindex, l.ifname, l.flags, l.mtu, l.master, l.address, l.ifalias]));
}

/**
 * Kernel state that a topology run may touch: which of our namespaces exist, the host's links, and the links
 * of every non-test namespace. Other test files create and delete their own "nst…" namespaces concurrently,
 * so only ours (prefix P) are compared among those.
 */
function snapshot(): Map<string, string> {
  const names = (JSON.parse(sh('ip', ['-j', 'netns', 'list']) || '[]') as { name: string }[]).map((n) => n.name);
  const snap = new Map<string, string>();
  snap.set('(ours)', JSON.stringify(names.filter((n) => n.startsWith(P)).sort()));
  snap.set('(host)', links());
  for (const n of names.filter((x) => !x.startsWith('nst'))) {
    try {
      snap.set(n, links(n));
    } catch {
      /* vanished meanwhile: not ours */
    }
  }
  return snap;
}

function expectSameKernel(before: Map<string, string>): void {
  const after = snapshot();
  for (const [k, v] of before) if (after.has(k)) expect([k, after.get(k)]).toEqual([k, v]);
  expect(after.get('(ours)')).toBe('[]');
}

function ping(ns: string, ip: string): boolean {
  return tryRun('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '2', ip]);
}

d('topo apply / destroy (real namespaces)', () => {
  let before: Map<string, string>;
  let tmp: string;

  beforeAll(() => {
    cleanupPrefix(P);
    before = snapshot();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'nstp-'));
  });

  afterAll(() => {
    cli(['topo', 'destroy', '--name', NAME]);
    cleanupPrefix(P);
    rmSync(tmp, { recursive: true, force: true });
  });

  test('k8s-node example: pods reach each other and the gateway; re-apply is a no-op', () => {
    const r = apply(path.join(EX, 'k8s-node.yaml'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`+ namespace ${P}node`);
    expect(r.out).toMatch(/applied 30 changes\n$/);
    for (const [from, to] of [
      ['pod-a', '10.244.1.3'],
      ['pod-a', '10.244.1.4'],
      ['pod-b', '10.244.1.2'],
      ['pod-c', '10.244.1.3'],
      ['pod-a', '10.244.1.1'],
      ['pod-c', '10.244.1.1'],
    ]) {
      expect([from, to, ping(`${P}${from}`, to)]).toEqual([from, to, true]);
    }
    expect(sh('ip', ['netns', 'exec', `${P}node`, 'sysctl', '-n', 'net.ipv4.ip_forward']).trim()).toBe('1');
    expect(sh('ip', ['netns', 'exec', `${P}node`, 'iptables-save', '-t', 'filter'])).toMatch(new RegExp(`-A FORWARD -s 10\\.244\\.1\\.0/24 -m comment --comment "netscope:${NAME} #[0-9a-f]+" -j ACCEPT`));

    const state = [`${P}node`, `${P}pod-a`].map((n) => links(n)).join();
    const again = apply(path.join(EX, 'k8s-node.yaml'));
    expect(again.code).toBe(0);
    expect(again.out).toBe(`topology ${NAME}: up to date, nothing to change\n`);
    expect([`${P}node`, `${P}pod-a`].map((n) => links(n)).join()).toBe(state);
  });

  test('show finds every object and every veth peer', async () => {
    const topo = await discover();
    for (const ns of ['node', 'pod-a', 'pod-b', 'pod-c']) expect(topo.namespaces.map((n) => n.id)).toContain(`${P}${ns}`);
    const node = topo.interfaces.filter((i) => i.netns === `${P}node`);
    expect(node.find((i) => i.name === 'cni0')).toMatchObject({ kind: 'bridge', addrs: expect.arrayContaining([{ family: 'inet', local: '10.244.1.1', prefixlen: 24 }]) });
    expect(node.find((i) => i.name === 'tap0')).toMatchObject({ kind: 'tap', master: 'cni0' });
    for (const pod of ['a', 'b', 'c']) {
      const host = node.find((i) => i.name === `veth-pod-${pod}`);
      expect(host).toMatchObject({ kind: 'veth', master: 'cni0', alias: `netscope:${NAME}`, peer: { netns: `${P}pod-${pod}`, ifname: 'eth0' } });
      const eth0 = topo.interfaces.find((i) => i.netns === `${P}pod-${pod}` && i.name === 'eth0');
      expect(eth0?.peer).toEqual({ netns: `${P}node`, ifname: `veth-pod-${pod}`, ifindex: host!.ifindex });
      expect(topo.routes).toContainEqual({ netns: `${P}pod-${pod}`, dst: 'default', gateway: '10.244.1.1', dev: 'eth0' });
    }
    const json = cli(['topo', 'show', '--json', '--netns', `${P}pod-b`]);
    expect(json.code).toBe(0);
    const podB = JSON.parse(json.out) as { namespaces: { id: string }[]; interfaces: { name: string; peer?: { netns: string; ifname: string } }[] };
    expect(podB.namespaces.map((n) => n.id)).toEqual([`${P}pod-b`]);
    expect(podB.interfaces.find((i) => i.name === 'eth0')?.peer).toMatchObject({ netns: `${P}node`, ifname: 'veth-pod-b' });
    const tree = cli(['topo', 'show', '--bridge', 'cni0', '--netns', `${P}node`, '--no-color']);
    expect(tree.code).toBe(0);
    expect(tree.out).toContain('└── cni0 bridge UP');
    expect(tree.out).toMatch(new RegExp(`veth-pod-a veth UP[^\\n]*\\n[^\\n]*⇄ eth0 UP in namespace ${P}pod-a 10\\.244\\.1\\.2/24`));
    expect(tree.out).toContain('tap0 tap');
  });

  test('a changed file converges: removed pod goes, new pod comes, mtu/address/rule change; then no-op', async () => {
    const text = readFileSync(path.join(EX, 'k8s-node.yaml'), 'utf8');
    const changed = text
      .replace(/  - name: pod-b\n[\s\S]*?default, via: 10\.244\.1\.1 }\n/, '')
      .replace('10.244.1.4/24', '10.244.1.5/24')
      .replace(/mtu: 1450/g, 'mtu: 1400')
      .replace('rule: [-s, 10.244.1.0/24, -j, ACCEPT]', 'rule: [-s, 10.244.0.0/16, -j, ACCEPT]')
      .concat(
        '\n  - name: pod-d\n    interfaces:\n      eth0:\n        type: veth\n        addresses: [10.244.1.9/24]\n        peer: { namespace: node, name: veth-pod-d, bridge: cni0 }\n    routes:\n      - { to: default, via: 10.244.1.1 }\n',
      );
    const file = path.join(tmp, 'changed.yaml');
    writeFileSync(file, changed);
    const r = await applyHere(file);
    expect(r.error).toBeUndefined();
    expect(r.plan).toContain(`- namespace ${P}pod-b`);
    expect(r.plan).toContain(`+ namespace ${P}pod-d`);
    const names = sh('ip', ['netns', 'list']);
    expect(names).not.toContain(`${P}pod-b`);
    expect(sh('ip', ['-n', `${P}pod-c`, '-j', 'addr', 'show', 'eth0'])).toMatch(/"local":"10\.244\.1\.5","prefixlen":24/);
    expect(sh('ip', ['-n', `${P}pod-c`, '-j', 'link', 'show', 'eth0'])).toContain('"mtu":1400');
    expect(sh('ip', ['-n', `${P}node`, '-j', 'link', 'show', 'veth-pod-c'])).toContain('"mtu":1400');
    expect(tryRun('ip', ['-n', `${P}node`, 'link', 'show', 'veth-pod-b'])).toBe(false);
    const rules = sh('ip', ['netns', 'exec', `${P}node`, 'iptables-save', '-t', 'filter']);
    expect(rules).toContain('-A FORWARD -s 10.244.0.0/16 -m comment');
    expect(rules).not.toContain('10.244.1.0/24');
    expect(ping(`${P}pod-d`, '10.244.1.5')).toBe(true);
    expect(ping(`${P}pod-c`, '10.244.1.1')).toBe(true);
    expect((await applyHere(file)).plan).toBe(`topology ${NAME}: up to date, nothing to change\n`);
  });

  test('destroy leaves the kernel exactly as before', async () => {
    const r = cli(['topo', 'destroy', path.join(EX, 'k8s-node.yaml'), '--name', NAME]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`destroyed topology ${NAME}: removed 4 namespaces`));
    expectSameKernel(before);
    expect((await planDestroy(NAME)).changes).toEqual([]);
  });

  test('an injected failure midway rolls back fully', async () => {
    const r = await applyHere(path.join(EX, 'k8s-node.yaml'), 20);
    expect(r.error).toBe(`apply of topology ${NAME} failed: injected failure at change 20 (NETSCOPE_TOPO_FAIL_AT); rolled back 19 changes`);
    expectSameKernel(before);
  });

  test('a route to an unreachable gateway fails the apply and rolls back', async () => {
    const file = path.join(tmp, 'badgw.yaml');
    writeFileSync(file, readFileSync(path.join(EX, 'k8s-node.yaml'), 'utf8').replace('- { to: default, via: 10.244.1.1 }', '- { to: 10.42.77.0/24, via: 10.42.9.9 }'));
    const r = await applyHere(file);
    expect(r.error).toMatch(new RegExp(`^apply of topology ${NAME} failed: ip -n ${P}pod-a route add 10\\.42\\.77\\.0/24 via 10\\.42\\.9\\.9 proto static failed \\(exit 2\\): .*; rolled back \\d+ changes$`));
    expectSameKernel(before);
  });

  test('SIGINT during apply rolls back and exits 130', async () => {
    const child = spawn(process.execPath, [BIN, 'topo', 'apply', path.join(EX, 'k8s-node.yaml'), '--name', NAME, '--prefix', P, '-v'], {
      env: { ...process.env, NETSCOPE_TOPO_STEP_DELAY_MS: '150' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`apply did not reach change 9: ${err}`)), 20_000);
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        if (err.includes('[9/30]')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    // Something was really built before the interrupt.
    expect(sh('ip', ['netns', 'list'])).toContain(`${P}node`);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(err).toContain('SIGINT received — stopping and rolling back');
    expect(err).toMatch(new RegExp(`netscope: apply of topology ${NAME} failed: interrupted; rolled back \\d+ changes\\n$`));
    expectSameKernel(before);
  });

  test("addresses overlapping the host's networks are refused before anything is touched", async () => {
    // Pick an address inside whatever global IPv4 network the host has (planning only: nothing is applied).
    const host = (JSON.parse(sh('ip', ['-j', 'addr', 'show'])) as { addr_info: { family: string; local: string; prefixlen: number; scope: string }[] }[])
      .flatMap((l) => l.addr_info)
      .find((a) => a.family === 'inet' && a.scope === 'global' && a.prefixlen <= 30);
    if (!host) return; // no global IPv4 address on this machine: nothing to overlap
    const parts = host.local.split('.');
    parts[3] = String((Number(parts[3]) ^ 1) || 1);
    const file = path.join(tmp, 'overlap.yaml');
    writeFileSync(file, readFileSync(path.join(EX, 'veth-pair.yaml'), 'utf8').replace('10.42.0.1/24', `${parts.join('.')}/${host.prefixlen}`));
    const spec = loadTopologyFile(file);
    spec.name = NAME;
    await expect(planApply(spec, { prefix: P, file })).rejects.toThrow(
      new RegExp(`^${file.replace(/[.]/g, '\\.')}: pods\\[0\\]\\.interfaces\\.veth0\\.addresses\\[0\\]: .* overlaps the host's (address|route).*or pass --allow-overlap$`),
    );
    expectSameKernel(before);
  });

  test('not root: one clear error naming CAP_NET_ADMIN, nothing touched', () => {
    if (!tryRun('setpriv', ['--version'])) return; // util-linux missing: nothing to run as another user
    const r = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, BIN, 'topo', 'apply', path.join(EX, 'veth-pair.yaml'), '--prefix', P], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('netscope: netscope topo apply needs CAP_NET_ADMIN: run as root (sudo netscope …) or grant the capability\n');
    expectSameKernel(before);
  });

  test('veth-pair and bridge examples apply, connect and destroy cleanly', async () => {
    for (const [file, from, to] of [
      ['veth-pair.yaml', 'left', '10.42.0.2'],
      ['bridge.yaml', 'guest', '10.42.1.1'],
    ]) {
      const r = await applyHere(path.join(EX, file));
      expect([file, r.error]).toEqual([file, undefined]);
      expect([file, ping(`${P}${from}`, to)]).toEqual([file, true]);
      expect(await destroyHere()).toBe(2);
      expectSameKernel(before);
    }
  });
});
