/**
 * A two-node lab for agent tests: namespaces `<P>n1` and `<P>n2` are the nodes, joined by an underlay veth
 * (10.42.<k>.1/.2) with a VXLAN (VNI 42) between them; each node has a bridge `br0` holding the VXLAN and the
 * host end of a pod's veth; pods `<P>p1` (10.244.<k>.11) and `<P>p2` (10.244.<k>.12) share one L2 overlay.
 * Agents run in the test's own namespace with --netns selecting a node and its pod, listening on loopback.
 */
import { ChildProcess, spawn } from 'child_process';
import path from 'path';
import { nsExec, sh } from './netns';

export interface Lab {
  prefix: string;
  n1: string;
  n2: string;
  p1: string;
  p2: string;
  ip1: string;
  ip2: string;
}

export function buildLab(prefix: string, k: number): Lab {
  const lab: Lab = { prefix, n1: `${prefix}n1`, n2: `${prefix}n2`, p1: `${prefix}p1`, p2: `${prefix}p2`, ip1: `10.244.${k}.11`, ip2: `10.244.${k}.12` };
  for (const ns of [lab.n1, lab.n2, lab.p1, lab.p2]) {
    sh('ip', ['netns', 'add', ns]);
    nsExec(ns, 'ip', ['link', 'set', 'lo', 'up']);
    nsExec(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  }
  // Underlay between the nodes.
  sh('ip', ['-n', lab.n1, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u0', 'netns', lab.n2]);
  for (const [ns, i] of [[lab.n1, 1], [lab.n2, 2]] as const) {
    nsExec(ns, 'ip', ['addr', 'add', `10.42.${k}.${i}/24`, 'dev', 'u0']);
    nsExec(ns, 'ip', ['link', 'set', 'u0', 'up']);
    const remote = `10.42.${k}.${3 - i}`;
    nsExec(ns, 'ip', ['link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'local', `10.42.${k}.${i}`, 'remote', remote, 'dstport', '4789', 'dev', 'u0']);
    nsExec(ns, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
    nsExec(ns, 'ip', ['link', 'set', 'vx0', 'master', 'br0']);
    nsExec(ns, 'ip', ['link', 'set', 'vx0', 'up']);
    nsExec(ns, 'ip', ['link', 'set', 'br0', 'up']);
  }
  for (const [node, pod, ip] of [[lab.n1, lab.p1, lab.ip1], [lab.n2, lab.p2, lab.ip2]] as const) {
    sh('ip', ['-n', node, 'link', 'add', 'vpod', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod]);
    nsExec(node, 'ip', ['link', 'set', 'vpod', 'master', 'br0']);
    nsExec(node, 'ip', ['link', 'set', 'vpod', 'up']);
    nsExec(pod, 'ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    nsExec(pod, 'ip', ['link', 'set', 'eth0', 'up']);
  }
  return lab;
}

export interface RunningAgent {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  stop: () => Promise<number | null>;
}

const BIN = path.join(__dirname, '..', '..', 'bin', 'netscope');

/** Starts `netscope agent ARGS` (optionally in a namespace) and waits for its "listening on" line. */
export async function startAgent(args: string[], opts: { netns?: string; timeoutMs?: number } = {}): Promise<RunningAgent> {
  const argv = ['node', BIN, 'agent', ...args];
  const full = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv;
  const child = spawn(full[0], full.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const t0 = Date.now();
    const timer = setInterval(() => {
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) {
        clearInterval(timer);
        resolve(m[1]);
      } else if (child.exitCode !== null || Date.now() - t0 > (opts.timeoutMs ?? 30000)) {
        clearInterval(timer);
        reject(new Error(`agent did not start: ${err}`));
      }
    }, 50);
  });
  return {
    child,
    url,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Polls `check` until it returns a value (not undefined), bounded by elapsed time. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30000, everyMs = 200): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${Date.now() - t0} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
