/**
 * `netscope agent [--listen HOST:PORT]`: the per-node agent (Prometheus /metrics, /capture pcapng streams,
 * /healthz) over every network namespace of the node, or those chosen with --netns. Wiring only: the agent
 * lives in src/agent.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { BearerAuth, isLoopbackHost, readTokenFile, TokenFileError } from '../../agent/auth';
import { NodeEngine } from '../../agent/engine';
import { isValidNetnsPattern, netnsMatcher } from '../../agent/follow';
import { AgentMetrics } from '../../agent/metrics';
import { AgentServer } from '../../agent/server';
import { podLabel } from '../../k8s/pods';
import { addExamples, type Example } from '../help';
import { fail, usage } from '../userError';

interface AgentArgs {
  listen: string;
  netns?: string | string[];
  'token-file'?: string;
  'node-name'?: string;
  poll: number;
  discover: number;
  'capture-iface'?: string;
  filter?: string;
  'pod-labels': boolean;
  'max-series': number;
  'max-captures': number;
  'stream-buffer-mb': number;
  'max-capture-seconds': number;
  'ring-mb': number;
  'max-flows': number;
}

export const command = 'agent';
export const describe = 'Per-node agent: Prometheus /metrics, /capture pcapng streams and /healthz over the node\'s namespaces';

export function builder(y: Argv): Argv<AgentArgs> {
  const y2 = y
    .option('listen', { type: 'string', default: '127.0.0.1:9465', describe: 'HOST:PORT to serve on (port 0 = any free port); not loopback needs --token-file' })
    .option('netns', { type: 'string', describe: 'follow only these namespaces: name, host, pid:N, * wildcards; repeat or comma-separate (default: all)' })
    .option('token-file', { type: 'string', describe: 'file holding the bearer token /capture requires (mode 600)' })
    .option('node-name', { type: 'string', describe: 'node name in metrics and stream interface names (default: $NODE_NAME or the hostname)' })
    .option('poll', { type: 'number', default: 5, describe: 'seconds between rule counter and FDB reads' })
    .option('discover', { type: 'number', default: 10, describe: 'seconds between namespace discoveries (namespaces and interfaces coming and going)' })
    .option('capture-iface', { type: 'string', describe: 'capture only interfaces whose name matches this regex (default: all but lo and bridge ports)' })
    .option('filter', { type: 'string', describe: 'pcap-filter for the metrics captures (default: all traffic)' })
    .option('pod-labels', { type: 'boolean', default: true, describe: 'add a pod label to per-interface metrics (--no-pod-labels drops it)' })
    .option('max-series', { type: 'number', default: 2000, describe: 'label sets per metric family; more are refused and counted' })
    .option('max-captures', { type: 'number', default: 4, describe: '/capture streams served at once (429 beyond)' })
    .option('stream-buffer-mb', { type: 'number', default: 4, describe: 'MiB a /capture stream may hold for a slow client before dropping packets' })
    .option('max-capture-seconds', { type: 'number', default: 3600, describe: 'longest /capture duration accepted' })
    .option('ring-mb', { type: 'number', default: 32, describe: 'kernel capture ring per captured interface (MiB)' })
    .option('max-flows', { type: 'number', default: 100000, describe: 'flows held by the flow engine' });
  return addExamples(y2, examples) as unknown as Argv<AgentArgs>;
}

export const examples: readonly Example[] = [
  ['agent', 'serve on 127.0.0.1:9465, all namespaces'],
  ['agent --listen 0.0.0.0:9465 --token-file /etc/netscope/token', 'serve the network (token for /capture)'],
  ["agent --netns node1 --netns 'pod-*' --listen 127.0.0.1:0", 'some namespaces, any free port'],
];

function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** "HOST:PORT", "[::1]:9465"; null when malformed. */
export function parseListen(s: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: m[1] ?? m[2], port };
}

function log(line: string): void {
  process.stderr.write(`netscope agent: ${new Date().toISOString()} ${line}\n`);
}

export async function handler(argv: ArgumentsCamelCase<AgentArgs>): Promise<void> {
  const listen = parseListen(argv.listen);
  if (listen === null) return usage(`--listen ${argv.listen}: use HOST:PORT (127.0.0.1:9465, [::1]:9465, 0.0.0.0:9465)`);
  const patterns = ([] as string[]).concat(argv.netns ?? []).flatMap((p) => p.split(',')).map((p) => p.trim()).filter((p) => p !== '');
  const badNs = patterns.find((p) => !isValidNetnsPattern(p));
  if (badNs !== undefined) return usage(`--netns ${badNs}: use a namespace name, host, pid:N, with * wildcards`);
  let ifaceRe: RegExp | undefined;
  if (argv['capture-iface'] !== undefined) {
    try {
      ifaceRe = new RegExp(argv['capture-iface']);
    } catch (e) {
      return usage(`--capture-iface: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (argv.filter !== undefined && !/^[\x20-\x7e]*$/.test(argv.filter)) return usage('--filter must be a printable pcap-filter expression');
  for (const [name, v, min, max] of [
    ['poll', argv.poll, 0.2, 3600],
    ['discover', argv.discover, 0.2, 3600],
    ['max-series', argv['max-series'], 1, 1e6],
    ['max-captures', argv['max-captures'], 0, 1000],
    ['stream-buffer-mb', argv['stream-buffer-mb'], 0.0625, 1024],
    ['max-capture-seconds', argv['max-capture-seconds'], 1, 86400 * 7],
    ['ring-mb', argv['ring-mb'], 1, 2048],
    ['max-flows', argv['max-flows'], 1, 1e8],
  ] as const) {
    if (!(v >= min && v <= max)) return usage(`--${name} must be between ${min} and ${max}`);
  }
  let auth: BearerAuth | undefined;
  if (argv['token-file'] !== undefined) {
    try {
      auth = new BearerAuth(readTokenFile(argv['token-file']));
    } catch (e) {
      if (e instanceof TokenFileError) return usage(e.message);
      throw e;
    }
  } else if (!isLoopbackHost(listen.host)) {
    return usage(`--listen ${argv.listen} is reachable from the network: /capture streams packet contents, so give --token-file FILE (a bearer token, mode 600), or listen on 127.0.0.1`);
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return fail('the agent captures in every namespace and reads firewall counters: run it as root (or with CAP_NET_RAW, CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_SYS_PTRACE)');
  }
  const node = argv['node-name'] ?? process.env.NODE_NAME ?? os.hostname();
  if (!/^[A-Za-z0-9_.-]{1,253}$/.test(node)) return usage(`--node-name ${node}: use letters, digits, ".", "-", "_"`);
  const version = packageVersion();

  const engine = new NodeEngine({
    policy: { netns: netnsMatcher(patterns), iface: ifaceRe },
    pollSec: argv.poll,
    discoverSec: argv.discover,
    filter: argv.filter,
    ringBytes: Math.round(argv['ring-mb'] * 1024 * 1024),
    maxFlows: argv['max-flows'],
    // Discovery names a pod's namespace through the container runtime (or the kubelet's files).
    podOf: argv['pod-labels'] ? (ns) => (ns.pod ? podLabel(ns.pod) : undefined) : undefined,
  });
  engine.on('log', log);
  const server = new AgentServer(engine, {
    host: listen.host,
    port: listen.port,
    node,
    version,
    auth,
    maxStreams: argv['max-captures'],
    streamBufferBytes: Math.round(argv['stream-buffer-mb'] * 1024 * 1024),
    limits: { maxDurationSec: argv['max-capture-seconds'] },
    log,
  });
  server.attachMetrics(new AgentMetrics(engine, server.counters, { node, version, podLabels: argv['pod-labels'], maxSeries: argv['max-series'] }));

  let addr;
  try {
    addr = await server.listen();
  } catch (e) {
    return fail(`cannot listen on ${argv.listen}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  log(`listening on http://${host}:${addr.port} (node ${node}${auth ? ', /capture needs a bearer token' : ''})`);

  let stopping: Promise<void> | null = null;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const stop = (sig: string): void => {
    if (stopping) return;
    log(`${sig}: stopping (ending capture streams)`);
    stopping = (async () => {
      await server.close();
      await engine.stop();
      log('stopped');
      resolveDone();
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await engine.start();
  log(`following ${engine.followed.length} namespace(s), capturing on ${engine.sources.size} interface(s)`);
  await done;
}
