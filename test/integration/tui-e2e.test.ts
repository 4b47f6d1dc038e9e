/**
 * End to end under tmux: `netscope watch` on a lab bridge with traffic the test generates, and `netscope demo`
 * (with the dashboard, headless, and killed). Waits for text on the screen instead of sleeping.
 */
import { execFile, spawn, type ChildProcess } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { executePlan } from '../../src/topology/apply';
import { planApply, planDestroy } from '../../src/topology/lifecycle';
import { loadTopologyFile } from '../../src/topology/schema';
import { cleanupPrefix, isRoot, sh, tryRun, testPrefix } from '../helpers/netns';

const ROOT = path.resolve(__dirname, '..', '..');
/** The CLI under test (the built one; NETSCOPE_CLI points elsewhere when needed). */
const CLI = process.env.NETSCOPE_CLI ?? path.join(ROOT, 'bin', 'netscope');
const LAB = path.join(ROOT, 'examples', 'topology', 'demo-lab.yaml');
const P = testPrefix('tu');
const SOCK = `${P}tmux`; // our own tmux server: never touches the user's sessions
const haveTmux = tryRun('tmux', ['-V']);
const built = fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')) || process.env.NETSCOPE_CLI !== undefined;
const d = isRoot && haveTmux && built ? describe : describe.skip;

function tmux(...args: string[]): string {
  return sh('tmux', ['-L', SOCK, ...args]);
}

function screen(session: string): string {
  return tmux('capture-pane', '-p', '-t', session);
}

/**
 * Bounds on waits for the program under test. Generous on purpose: they are reached only when something is stuck,
 * and a machine running several test suites at once (load average 30 on 2 cores, measured) is slow to build a lab.
 */
const WAIT_MS = 90_000;
const TEST_MS = 300_000;

/** Polls the pane until `test` accepts its text; fails with the last screen. */
async function waitFor(session: string, what: string, test: (text: string) => boolean, timeoutMs = WAIT_MS): Promise<string> {
  const until = Date.now() + timeoutMs;
  let text = '';
  for (;;) {
    try {
      text = screen(session);
    } catch {
      text = '(pane gone)';
    }
    if (test(text)) return text;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; screen:\n${text}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Starts `argv` in a detached 160x48 tmux session; the exit code lands in `exitFile`. */
function startInTmux(session: string, argv: string[], exitFile: string): void {
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '48', `${quoted}; echo $? > ${exitFile}; echo EXITED; sleep 120`);
}

async function waitExit(file: string, timeoutMs = WAIT_MS): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (!fs.existsSync(file) || fs.readFileSync(file, 'utf8').trim() === '') {
    if (Date.now() > until) throw new Error(`no exit code in ${file}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Number(fs.readFileSync(file, 'utf8').trim());
}

function namespacesWith(prefix: string): string[] {
  const out = sh('ip', ['-j', 'netns', 'list']).trim();
  return ((out ? JSON.parse(out) : []) as { name: string }[]).map((n) => n.name).filter((n) => n.startsWith(prefix));
}

function trafficProcesses(): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('demo/traffic.js')) out.push(`${pid} ${cmd.replace(/\0/g, ' ')}`);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function macOf(ns: string, ifname: string): string {
  return (JSON.parse(sh('ip', ['-n', ns, '-j', 'link', 'show', ifname])) as { address: string }[])[0].address;
}

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-tui-'));
afterAll(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

d('netscope watch in tmux', () => {
  const name = `${P}w`;
  const node = `${name}-node`;
  const children: ChildProcess[] = [];
  const session = `${P}watch`;

  beforeAll(async () => {
    cleanupPrefix(P);
    tryRun('tmux', ['-L', SOCK, 'kill-server']);
    const spec = { ...loadTopologyFile(LAB), name };
    await executePlan(await planApply(spec, { prefix: `${name}-`, file: LAB }));
    // Traffic owned by the test: pod-a pings pod-b; pod-c's SYNs to pod-b:8080 hit the lab's DROP rule.
    const start = (ns: string, argv: string[]): void => {
      const c = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: 'ignore' });
      children.push(c);
    };
    start(`${name}-pod-a`, ['ping', '-q', '-i', '0.3', '10.244.9.3']);
    start(`${name}-pod-c`, [
      process.execPath,
      '-e',
      "const net=require('net');(function a(){const s=net.connect(8080,'10.244.9.3');s.setTimeout(1500,()=>s.destroy());s.on('error',()=>{});s.on('close',()=>setTimeout(a,300));})()",
    ]);
  }, WAIT_MS);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    tryRun('tmux', ['-L', SOCK, 'kill-server']);
    await executePlan(await planDestroy(name)).catch(() => undefined);
    cleanupPrefix(P);
  }, WAIT_MS);

  test('shows the flow, the pods’ MACs on their ports, the DROP counter rising; q exits 0 and restores the terminal', async () => {
    const exitFile = path.join(tmpDir, 'watch.exit');
    startInTmux(session, [CLI, 'watch', `cni0@${node}`], exitFile);
    const macA = macOf(`${name}-pod-a`, 'eth0');
    const macB = macOf(`${name}-pod-b`, 'eth0');
    const text = await waitFor(
      session,
      'flows, MACs and the DROP rule',
      (t) =>
        /icmp\s+10\.244\.9\.2 ⇄ 10\.244\.9\.3 id \d+\s+\d+/.test(t) &&
        /tcp\s+10\.244\.9\.4:\d+ ⇄ 10\.244\.9\.3:8080 .*syn-sent FAIL/.test(t) &&
        t.includes(macA) &&
        t.includes(macB) &&
        /DROP\s+\+\d+/.test(t) &&
        /│\d+× failed TCP connects/.test(t),
    );
    expect(text).toMatch(new RegExp(`${macA} veth-pod-a\\s+\\S+ 10\\.244\\.9\\.2 ${name}-pod-a/eth0`));
    expect(text).toMatch(new RegExp(`${macB} veth-pod-b\\s+\\S+ 10\\.244\\.9\\.3 ${name}-pod-b/eth0`));
    expect(text).toMatch(/rule counters in nst\w+-node: \d+ moving, 1 DROP\/REJECT hit/);
    expect(text).toContain(`└── cni0 bridge UP`);
    expect(text).toMatch(/● live │ .* captured on nst\w+-node\/cni0 \S+ │ dropped (0 \(kernel 0 · iface 0 · agent 0\)|nst\w+-node\/cni0 )/);
    expect(text).toMatch(/problems: \d+ in \d+ kinds?/);
    const total = (t: string): number => Number(/DROP\s+\+\d+\s+\S+\s+(\d+) filter\/FORWARD #1/.exec(t)?.[1] ?? -1);
    const first = total(text);
    expect(first).toBeGreaterThan(0);
    await waitFor(session, 'the DROP counter to rise', (t) => total(t) > first);

    // A pod plugged in while watching shows up in the topology pane (discovery notices the new port).
    const newPod = `${P}x`;
    sh('ip', ['netns', 'add', newPod]);
    sh('ip', ['-n', node, 'link', 'add', 'veth-new', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', newPod]);
    sh('ip', ['-n', node, 'link', 'set', 'veth-new', 'master', 'cni0', 'up']);
    sh('ip', ['-n', newPod, 'addr', 'add', '10.244.9.50/24', 'dev', 'eth0']);
    sh('ip', ['-n', newPod, 'link', 'set', 'eth0', 'up']);
    await waitFor(session, 'the new pod in the topology', (t) => t.includes(`in namespace ${newPod} 10.244.9.50/24`));

    // Keys: sort and pause reach the screen.
    tmux('send-keys', '-t', session, 's');
    await waitFor(session, 'sort by packets', (t) => /sort packets ▼/.test(t));
    tmux('send-keys', '-t', session, 'space');
    await waitFor(session, 'paused', (t) => t.includes('PAUSED'));

    tmux('send-keys', '-t', session, 'q');
    expect(await waitExit(exitFile)).toBe(0);
    const after = await waitFor(session, 'the shell back', (t) => t.includes('EXITED'));
    expect(after).not.toContain('┌─ flows');
    // Captures stopped: no process of ours is left in the node namespace (an agent that got its stop may
    // still be finishing when the dashboard has exited: wait for it, bounded by elapsed time).
    const until = Date.now() + 15_000;
    while (sh('ip', ['netns', 'pids', node]).trim() !== '' && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(sh('ip', ['netns', 'pids', node]).trim()).toBe('');
  }, TEST_MS);

  test('a missing bridge is one clear line listing the bridges it can see', async () => {
    const exitFile = path.join(tmpDir, 'missing.exit');
    startInTmux(`${P}miss`, [CLI, 'watch', `nosuchbr@${node}`], exitFile);
    expect(await waitExit(exitFile)).toBe(2);
    const text = await waitFor(`${P}miss`, 'the error', (t) => t.includes('EXITED'));
    expect(text).toContain(`netscope: no bridge "nosuchbr" in namespace "${node}"; bridges netscope can see:`);
    expect(text).toContain(`cni0@${node}`);
  }, WAIT_MS);

  test('not a terminal: refuses with a clear message', async () => {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(CLI, ['watch', `cni0@${node}`], (err, _out, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }));
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^netscope: watch draws a dashboard and needs a terminal/);
  });
});

d('netscope demo', () => {
  afterAll(() => {
    tryRun('tmux', ['-L', SOCK, 'kill-server']);
    cleanupPrefix(P);
  });

  test('in tmux: panes populated, q tears the lab down and leaves nothing', async () => {
    const name = `${P}d`;
    const session = `${P}demo`;
    const exitFile = path.join(tmpDir, 'demo.exit');
    startInTmux(session, [CLI, 'demo', '--name', name], exitFile);
    const text = await waitFor(
      session,
      'the demo panes',
      (t) =>
        /tcp\s+10\.244\.9\.2:\d+ ⇄ 10\.244\.9\.3:5001\s+\d+\S*\s+\S+\s+\S+ established/.test(t) &&
        /arp\s+10\.244\.9\.2 ⇄ 10\.244\.9\.99 .*ARP\?/.test(t) &&
        /10\.244\.9\.3:8080 .*FAIL/.test(t) &&
        /DROP\s+\+\d+/.test(t) &&
        /veth-pod-c\s+\S+ 10\.244\.9\.4 nst\w+-pod-c\/eth0/.test(t) &&
        /│\d+× failed TCP connects/.test(t),
      60_000,
    );
    expect(text).toContain('⇄ eth0 UP in namespace');
    expect(namespacesWith(`${name}-`).sort()).toEqual([`${name}-node`, `${name}-pod-a`, `${name}-pod-b`, `${name}-pod-c`]);
    expect(trafficProcesses().length).toBeGreaterThan(0);
    tmux('send-keys', '-t', session, 'q');
    expect(await waitExit(exitFile)).toBe(0);
    expect(namespacesWith(`${name}-`)).toEqual([]);
    expect(trafficProcesses()).toEqual([]);
    expect(sh('ip', ['-j', 'link', 'show']).includes(name)).toBe(false);
  }, TEST_MS);

  /** Starts a headless demo and resolves once its lab is up and its traffic runs. */
  async function startHeadless(name: string): Promise<{ child: ChildProcess; out: () => string; err: () => string }> {
    const child = spawn(CLI, ['demo', '--no-ui', '--duration', '120', '--name', name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    const until = Date.now() + WAIT_MS;
    while (!err.includes('traffic running')) {
      if (Date.now() > until || child.exitCode !== null) {
        // Stop it (it tears its lab down on SIGTERM) before failing, so nothing outlives the test.
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          await new Promise((r) => child.on('exit', r));
        }
        throw new Error(`demo did not come up: ${err}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { child, out: () => out, err: () => err };
  }

  test('--no-ui: SIGTERM prints the last screen and tears the lab down', async () => {
    const name = `${P}n`;
    const run = await startHeadless(name);
    expect(namespacesWith(`${name}-`)).toHaveLength(4);
    // "traffic running" comes after the dashboard opened: the screen printed on SIGTERM has every pane.
    run.child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => run.child.on('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(run.err()).toContain('lab removed');
    expect(run.out()).toMatch(/flows \d+ · sort bytes ▼/);
    expect(run.out()).toMatch(/MAC table cni0@nst\w+-node/);
    expect(run.out()).toMatch(/packets\/s/);
    expect(namespacesWith(`${name}-`)).toEqual([]);
    expect(trafficProcesses()).toEqual([]);
  }, TEST_MS);

  test('SIGKILL: the traffic dies with the demo and the next demo removes the leftover lab', async () => {
    const name = `${P}k`;
    const run = await startHeadless(name);
    expect(trafficProcesses().length).toBeGreaterThan(0);
    run.child.kill('SIGKILL');
    await new Promise((r) => run.child.on('exit', r));
    const gone = Date.now() + 5000;
    while (trafficProcesses().length > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    expect(trafficProcesses()).toEqual([]);
    expect(namespacesWith(`${name}-`)).toHaveLength(4);
    const again = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(CLI, ['demo', '--no-ui', '--duration', '1', '--name', name], { timeout: WAIT_MS }, (e, _o, stderr) =>
        resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    expect(again.stderr).toContain('removed 4 namespace(s) a previous demo left behind');
    expect(again.code).toBe(0);
    expect(namespacesWith(`${name}-`)).toEqual([]);
  }, TEST_MS);
});
