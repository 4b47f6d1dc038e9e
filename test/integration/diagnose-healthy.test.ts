/**
 * diagnose on the healthy example (examples/diagnose/healthy.yaml): OK bridged and routed, TCP and UDP to
 * listeners the test starts (and reaps), IP forwarding switched off in the node, and the CLI contract: exit
 * codes 0/1/2, the JSON document, one-line usage errors.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import path from 'path';
import { diagnose } from '../../src/diagnose/diagnose';
import type { DiagnoseReport } from '../../src/diagnose/types';
import { executePlan } from '../../src/topology/apply';
import { planApply, planDestroy } from '../../src/topology/lifecycle';
import { loadTopologyFile } from '../../src/topology/schema';
import { cleanupPrefix, isRoot, sh, testPrefix } from '../helpers/netns';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'netscope');
const P = testPrefix('dk');
const NAME = `${P}h`;
const ns = (declared: string): string => `${P}h-${declared}`;
const d = isRoot ? describe : describe.skip;
// Each test awaits a diagnosis started in beforeAll: on a loaded machine one takes tens of seconds.
jest.setTimeout(180_000);

function cli(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, 'diagnose', ...args], { encoding: 'utf8', timeout: 170_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A TCP server on 8080 and a UDP echo on 5353 in `netns`; resolves once both listen. */
function startListeners(netns: string): Promise<ChildProcess> {
  const script = `
    require('net').createServer((s) => s.destroy()).listen(8080, () => {
      const u = require('dgram').createSocket('udp4');
      u.on('message', (m, r) => u.send(m, r.port, r.address));
      u.bind(5353, () => process.stdout.write('ready\\n'));
    });`;
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`listener exited (${code})`)));
  });
}

d('diagnose: healthy topology and the CLI', () => {
  let listeners: ChildProcess | null = null;
  const runs = new Map<string, Promise<DiagnoseReport>>();

  beforeAll(async () => {
    cleanupPrefix(P);
    const spec = loadTopologyFile(path.join(ROOT, 'examples', 'diagnose', 'healthy.yaml'));
    spec.name = NAME;
    await executePlan(await planApply(spec, { prefix: `${P}h-` }));
    listeners = await startListeners(ns('pod-b'));
    // Independent cases run together: each spends most of its time waiting for agents and answers.
    const start = (name: string, opts: Parameters<typeof diagnose>[0]) => {
      const p = diagnose(opts);
      p.catch(() => undefined);
      runs.set(name, p);
    };
    start('bridged', { from: ns('pod-a'), to: ns('pod-b') });
    start('routed', { from: ns('pod-a'), to: ns('pod-c') });
    start('tcp', { from: ns('pod-a'), to: '10.244.1.3', port: 8080 });
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(runs.values());
    if (listeners && listeners.exitCode === null) {
      const gone = new Promise((r) => listeners?.once('exit', r));
      listeners.kill('SIGTERM');
      await gone;
    }
    await executePlan(await planDestroy(NAME)).catch(() => 0);
    cleanupPrefix(P);
  }, 180_000);

  test('bridged pods: OK, every captured hop sees every probe both ways', async () => {
    const r = await runs.get('bridged')!;
    expect(r.verdict).toMatchObject({ connected: true, cause: null, hop: null });
    expect(r.hops.map((h) => [h.iface, h.role])).toEqual([
      ['eth0', 'source'],
      ['veth-a', 'bridge port'],
      ['cni0', 'bridge'],
      ['veth-b', 'bridge port'],
      ['eth0', 'destination'],
    ]);
    for (const h of r.hops.filter((x) => x.observed.captured)) expect([h.observed.request, h.observed.reply]).toEqual([2, 2]);
    expect(r.hops[2].observed).toMatchObject({ captured: false });
  });

  test('routed between two bridges: OK through the node (router in / router out)', async () => {
    const r = await runs.get('routed')!;
    expect(r.verdict.connected).toBe(true);
    expect(r.hops.map((h) => `${h.iface}:${h.role}`)).toEqual(['eth0:source', 'veth-a:bridge port', 'cni0:router in', 'cni1:router out', 'veth-c:bridge port', 'eth0:destination']);
    expect(r.hops.every((h) => h.observed.request === 2 && h.observed.reply === 2)).toBe(true);
  });

  test('TCP to a listening port (TO given as an IP): SYN and SYN-ACK seen on every hop', async () => {
    const r = await runs.get('tcp')!;
    expect(r.to).toMatchObject({ netns: ns('pod-b'), iface: 'eth0', ip: '10.244.1.3' });
    expect(r.verdict).toMatchObject({ connected: true });
    expect(r.result.answered).toBe(2);
    for (const h of r.hops.filter((x) => x.observed.captured)) expect(h.observed.reply).toBe(2);
  });

  test('UDP to an echo: OK with the tagged datagrams answered', async () => {
    await Promise.allSettled(runs.values());
    const r = await diagnose({ from: ns('pod-a'), to: ns('pod-b'), proto: 'udp', port: 5353, count: 1 });
    expect(r.verdict).toMatchObject({ connected: true });
    expect(r.result.answered).toBe(1);
    expect(r.hops[r.hops.length - 1].observed.request).toBe(1);
  });

  test('CLI: exit 0 and a JSON document when connected', () => {
    const r = cli([ns('pod-a'), ns('pod-b'), '--json', '--count', '1']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as DiagnoseReport;
    expect(Object.keys(doc)).toEqual(['version', 'from', 'to', 'probe', 'verdict', 'hops', 'arp', 'result', 'counters', 'trace', 'capture', 'warnings', 'durationMs']);
    // Every captured hop's accounting, as tcpdump reports it: nothing lost on a quiet path.
    const acct = (doc as { capture: Array<{ captured: number; droppedByKernel: number; droppedByNetscope: number }> }).capture;
    expect(acct.length).toBeGreaterThan(0);
    for (const c of acct) expect(c).toMatchObject({ droppedByKernel: 0, droppedByNetscope: 0 });
    expect(acct.reduce((a, c) => a + c.captured, 0)).toBeGreaterThan(0);
    expect(doc).toMatchObject({ version: 1, verdict: { connected: true }, probe: { proto: 'icmp', count: 1, df: true } });
  });

  test('CLI: usage errors exit 2 with one line', () => {
    for (const args of [
      [ns('pod-a'), 'no-such-pod-anywhere'],
      [ns('pod-a'), ns('pod-b'), '--proto', 'sctp'],
      [ns('pod-a'), ns('pod-b'), '--proto', 'udp'],
      [ns('pod-a'), ns('pod-b'), '--port', '70000'],
      [ns('pod-a'), 'fd00::9'],
      [ns('pod-a')],
    ]) {
      const r = cli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.err.trim().split('\n')[0]).toMatch(/^netscope: /);
      expect(r.err).not.toMatch(/at .*\.js:\d+/);
    }
  });

  test('IP forwarding off in the node: the router hop, the sysctl as evidence, exit 1', async () => {
    await Promise.allSettled(runs.values());
    sh('ip', ['netns', 'exec', ns('node'), 'sysctl', '-qw', 'net.ipv4.ip_forward=0']);
    try {
      const r = cli([ns('pod-a'), ns('pod-c'), '--count', '1']);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/verdict {2}NOT CONNECTED at hop 3 — forwarding-disabled/);
      expect(r.out).toMatch(/net\.ipv4\.ip_forward = 0 in \S+-node/);
      expect(r.out).toMatch(/✗3 +\S+-node +cni0 +router in/);
    } finally {
      sh('ip', ['netns', 'exec', ns('node'), 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    }
  });
});
