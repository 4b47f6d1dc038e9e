/**
 * diagnose with nftables tracing on real namespaces (examples/diagnose/nft-drop.yaml and its faults): a native
 * nft drop rule without a counter and a chain's drop policy are named exactly (table, chain, handle, text);
 * tracing leaves nothing behind — after a normal run, after Ctrl-C (SIGINT) and after SIGKILL (the next run /
 * `diagnose --cleanup` removes the leftovers).
 */
import { spawn, type ChildProcess } from 'child_process';
import { existsSync, readFileSync, readdirSync } from 'fs';
import path from 'path';
import { diagnose } from '../../src/diagnose/diagnose';
import type { DiagnoseReport } from '../../src/diagnose/types';
import { TRACE_RECORD_DIR } from '../../src/host/nft-trace';
import { applyExample, applyFaults, destroyExample, hopOf } from '../helpers/diagnose';
import { cleanupPrefix, isRoot, nsExec, testPrefix } from '../helpers/netns';

const P = testPrefix('dt');
const d = isRoot ? describe : describe.skip;
const BIN = path.join(__dirname, '..', '..', 'bin', 'netscope');

/** Every namespace's ruleset with handles: what tracing must leave as it found it. */
function rulesets(namespaces: string[]): Record<string, string> {
  return Object.fromEntries(namespaces.map((ns) => [ns, nsExec(ns, 'nft', ['-a', 'list', 'ruleset'])]));
}

function traceTables(namespaces: string[]): string[] {
  return namespaces.flatMap((ns) => nsExec(ns, 'nft', ['list', 'tables']).split('\n').filter((l) => l.includes('netscope_trace_')).map((l) => `${ns}: ${l}`));
}

function recordsOf(pid: number): string[] {
  if (!existsSync(TRACE_RECORD_DIR)) return [];
  return readdirSync(TRACE_RECORD_DIR).filter((f) => f.startsWith(`netscope_trace_${pid}_`));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until f() is true, bounded by the time actually elapsed. */
async function until(f: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function exited(c: ChildProcess): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  c.stdout?.on('data', (x: Buffer) => (stdout += x.toString()));
  c.stderr?.on('data', (x: Buffer) => (stderr += x.toString()));
  return new Promise((r) => c.on('close', (code, signal) => r({ code, signal, stdout, stderr })));
}

d('diagnose: nftables tracing names the exact rule and leaves nothing behind', () => {
  let ns: (n: string) => string;
  let all: string[];
  let before: Record<string, string>;
  let noCounter: DiagnoseReport;
  let policy: DiagnoseReport;
  let healthy: DiagnoseReport;

  beforeAll(async () => {
    cleanupPrefix(P);
    ns = await applyExample(P, 'nft-drop.yaml', 'n');
    applyFaults('nft-drop.yaml', ns);
    all = ['node', 'pod-a', 'pod-b', 'pod-c'].map(ns);
    before = rulesets(all);
    // One at a time: each starts monitors and agents in the same namespaces.
    noCounter = await diagnose({ from: ns('pod-a'), to: ns('pod-b') });
    policy = await diagnose({ from: ns('pod-a'), to: ns('pod-c'), port: 8080 });
    healthy = await diagnose({ from: ns('pod-b'), to: ns('pod-a') });
  }, 180_000);

  afterAll(async () => {
    await destroyExample(P, 'n');
    cleanupPrefix(P);
  }, 60_000);

  test('nft drop rule without counter: its table, chain, handle and text, at the hop where it enters the bridge', () => {
    const handle = Number(/icmp type echo-request drop # handle (\d+)/.exec(before[ns('node')])?.[1]);
    expect(handle).toBeGreaterThan(0);
    expect(noCounter.verdict).toMatchObject({ connected: false, cause: 'firewall', direction: 'request' });
    expect(hopOf(noCounter)).toEqual({ netns: ns('node'), iface: 'veth-a', role: 'bridge port' });
    expect(noCounter.verdict.summary).toBe(`firewall: nft rule inet filt fw handle ${handle} in ${ns('node')} drops the probes`);
    expect(noCounter.trace.drops).toEqual([
      expect.objectContaining({ netns: ns('node'), backend: 'nft', family: 'inet', table: 'filt', chain: 'fw', handle, policy: false, text: 'ip saddr 10.244.1.2 ip daddr 10.244.1.3 icmp type echo-request drop', packets: 2, probes: 2, direction: 'request' }),
    ]);
    expect(noCounter.verdict.evidence[0]).toContain(`nft inet filt fw rule handle ${handle}: "ip saddr 10.244.1.2 ip daddr 10.244.1.3 icmp type echo-request drop" gave verdict drop to 2/2 probes`);
    expect(noCounter.verdict.evidence).toContain(`fix: ip netns exec ${ns('node')} nft delete rule inet filt fw handle ${handle} removes it (or narrow its match)`);
    // No counter moved: without tracing this was "unknown".
    expect(noCounter.counters.rules).toEqual([]);
    // The walk: pod-a's output, then the node's prerouting and forward (where it died).
    expect(noCounter.trace.walks).toEqual(expect.arrayContaining([expect.objectContaining({ netns: ns('node'), direction: 'request', hooks: ['prerouting', 'forward'], dropped: true, packets: 2 })]));
    expect(noCounter.warnings).toEqual([]);
    expect(noCounter.trace.traced.sort()).toEqual([...all].filter((x) => x !== ns('pod-c')).sort());
  });

  test("a chain's drop policy in the destination: named as the policy, at the destination hop", () => {
    expect(policy.verdict).toMatchObject({ connected: false, cause: 'firewall', direction: 'request' });
    expect(hopOf(policy)).toEqual({ netns: ns('pod-c'), iface: 'eth0', role: 'destination' });
    expect(policy.trace.drops[0]).toMatchObject({ netns: ns('pod-c'), table: 'guard', chain: 'inp', policy: true, text: 'policy drop', probes: 2 });
    expect(policy.verdict.summary).toBe(`firewall: the DROP policy of guard inp in ${ns('pod-c')} drops the probes`);
  });

  test('the other direction is healthy: connected', () => {
    expect(healthy.verdict).toMatchObject({ connected: true, cause: null });
    expect(healthy.trace.drops).toEqual([]);
    expect(healthy.trace.walks).toEqual(expect.arrayContaining([expect.objectContaining({ netns: ns('node'), direction: 'reply', hooks: ['prerouting', 'forward', 'postrouting'], dropped: false })]));
  });

  test('tracing leaves nothing: rulesets as before, no trace table, no record', () => {
    expect(rulesets(all)).toEqual(before);
    expect(traceTables(all)).toEqual([]);
    expect(recordsOf(process.pid)).toEqual([]);
  });

  test('Ctrl-C (SIGINT) mid-probe: exit 130, everything removed', async () => {
    const child = spawn(process.execPath, [BIN, 'diagnose', ns('pod-a'), ns('pod-b'), '--count', '10'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = exited(child);
    await until(() => recordsOf(child.pid ?? -1).length > 0 && traceTables([ns('node')]).length > 0, 20_000, 'the trace table in the node');
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted/);
    expect(traceTables(all)).toEqual([]);
    expect(rulesets(all)).toEqual(before);
    expect(recordsOf(child.pid ?? -1)).toEqual([]);
  }, 30_000);

  test('SIGKILL mid-probe: the next run (diagnose --cleanup) removes what was left', async () => {
    const child = spawn(process.execPath, [BIN, 'diagnose', ns('pod-a'), ns('pod-b'), '--count', '10'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = exited(child);
    await until(() => recordsOf(child.pid ?? -1).length > 0 && traceTables([ns('node')]).length > 0, 20_000, 'the trace table in the node');
    const [file] = recordsOf(child.pid ?? -1);
    const rec = JSON.parse(readFileSync(path.join(TRACE_RECORD_DIR, file), 'utf8')) as { monitors: number[]; holders: number[] };
    expect(rec.monitors.length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await done;
    // The record is still there: nobody cleaned up.
    expect(recordsOf(child.pid ?? -1)).toEqual([file]);
    const clean = await exited(spawn(process.execPath, [BIN, 'diagnose', '--cleanup'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/removed \d+ trace table\(s\).*ended [1-9]\d* monitor process\(es\), removed 1 record/);
    expect(recordsOf(child.pid ?? -1)).toEqual([]);
    for (const pid of [...rec.monitors, ...rec.holders]) expect(existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('nft')).toBe(false);
    expect(traceTables(all)).toEqual([]);
    expect(rulesets(all)).toEqual(before);
  }, 30_000);
});
