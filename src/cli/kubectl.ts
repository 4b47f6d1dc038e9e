/**
 * `kubectl netscope …` (bin/kubectl-netscope): finds the agents of the netscope DaemonSet through kubectl
 * (their pods use the host network, so pod IP = node address) and the bearer token in its Secret, then runs
 * netscope against them:
 *   kubectl netscope agents                       one line per node: node, agent URL, ready
 *   kubectl netscope capture [capture options…]   netscope capture --agent URL… --token-file … (all nodes)
 * Options: --namespace/-n (default netscope), --context, --port (default 9465).
 */
import { execFile } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

interface PodList {
  items: Array<{
    spec?: { nodeName?: string };
    status?: { podIP?: string; conditions?: Array<{ type: string; status: string }> };
  }>;
}

export interface AgentEndpoint {
  node: string;
  url: string;
  ready: boolean;
}

function kubectl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('kubectl', args, { encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException;
        reject(new Error(e.code === 'ENOENT' ? 'kubectl not found: install it or use "netscope capture --agent URL"' : `kubectl ${args.join(' ')}: ${lastLine(stderr || e.message)}`));
      } else resolve(stdout);
    });
  });
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}

/** Agent URLs from the DaemonSet's pods (kubectl get pods -o json). */
export function agentEndpoints(podsJson: string, port: number): AgentEndpoint[] {
  const list = JSON.parse(podsJson) as PodList;
  return (list.items ?? [])
    .filter((p) => p.status?.podIP)
    .map((p) => {
      const ip = p.status!.podIP!;
      const host = ip.includes(':') ? `[${ip}]` : ip;
      return {
        node: p.spec?.nodeName ?? '?',
        url: `http://${host}:${port}`,
        ready: (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
      };
    })
    .sort((a, b) => a.node.localeCompare(b.node));
}

export async function kubectlMain(argv: string[]): Promise<number> {
  const base: string[] = [];
  let ns = 'netscope';
  let port = 9465;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if ((a === '-n' || a === '--namespace') && i + 1 < argv.length) ns = argv[++i];
    else if (a === '--context' && i + 1 < argv.length) base.push('--context', argv[++i]);
    else if (a === '--port' && i + 1 < argv.length) port = Number(argv[++i]);
    else rest.push(a);
  }
  const sub = rest.shift();
  if (sub !== 'agents' && sub !== 'capture') {
    process.stderr.write('usage: kubectl netscope agents | capture [netscope capture options] [-n NAMESPACE] [--context CTX] [--port 9465]\n');
    return 2;
  }
  let agents: AgentEndpoint[];
  try {
    agents = agentEndpoints(await kubectl([...base, '-n', ns, 'get', 'pods', '-l', 'app.kubernetes.io/name=netscope-agent', '-o', 'json']), port);
  } catch (e) {
    process.stderr.write(`kubectl-netscope: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  if (agents.length === 0) {
    process.stderr.write(`kubectl-netscope: no netscope-agent pods in namespace ${ns}: kubectl apply -f deploy/netscope-agent.yaml\n`);
    return 1;
  }
  if (sub === 'agents') {
    for (const a of agents) process.stdout.write(`${a.node}\t${a.url}\t${a.ready ? 'ready' : 'not ready'}\n`);
    return 0;
  }
  let token: string;
  try {
    token = Buffer.from(await kubectl([...base, '-n', ns, 'get', 'secret', 'netscope-agent-token', '-o', 'jsonpath={.data.token}']), 'base64').toString('utf8').trim();
  } catch (e) {
    process.stderr.write(`kubectl-netscope: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubectl-netscope-'));
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const args = ['capture', ...agents.filter((a) => a.ready).flatMap((a) => ['--agent', a.url]), '--token-file', tokenFile, ...rest];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('./main') as { main: (a: string[]) => void }).main(args);
  return -1; // the capture command sets the exit code itself
}
