/**
 * `netscope diagnose FROM TO [--port N] [--proto icmp|tcp|udp] [--size BYTES] [--json]`: where pod-to-pod
 * traffic dies and why. Exit 0 connected, 1 not connected (or failure), 2 usage error.
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { DiagnoseAbortedError, DiagnoseUsageError, EndpointError, diagnose } from '../../diagnose/diagnose';
import { cleanupStaleTraces } from '../../host/nft-trace';
import { readNamedNetns } from '../../host/iproute';
import { renderReport } from '../../diagnose/render';
import type { DiagnoseReport, ProbeProto } from '../../diagnose/types';
import { setCommandLogger } from '../../host/run';
import { addExamples, type Example } from '../help';
import { usage } from '../userError';
import { useColor } from '../color';
import { progressFor, progressOption } from '../progress';

interface DiagnoseArgs {
  from?: string;
  to?: string;
  trace?: boolean;
  cleanup?: boolean;
  port?: number;
  proto?: string;
  size?: number;
  count?: number;
  timeout?: number;
  json?: boolean;
  verbose?: boolean;
  progress?: boolean;
}

export const command = 'diagnose [from] [to]';
export const describe = 'Find where traffic between two pods/namespaces stops and why (probes + capture on every hop + counters)';

export function builder(y: Argv): Argv<DiagnoseArgs> {
  y
    .positional('from', { type: 'string', describe: 'namespace, pod name or IPv4 address the probes leave from' })
    .positional('to', { type: 'string', describe: 'namespace, pod name or IPv4 address (an address nobody holds is allowed)' })
    .option('port', { type: 'number', requiresArg: true, describe: 'TCP/UDP destination port (implies --proto tcp)' })
    .option('proto', { type: 'string', describe: 'probe protocol: icmp (default), tcp or udp' })
    .option('size', { type: 'number', requiresArg: true, describe: 'payload bytes of each probe (icmp default 56, udp default 64); sent with DF' })
    .option('count', { alias: 'c', type: 'number', default: 2, describe: 'probes to send (1-20)' })
    .option('timeout', { type: 'number', default: 1000, describe: 'how long each probe waits for an answer, ms' })
    .option('trace', { type: 'boolean', default: true, describe: 'trace the probes through nftables in every namespace on the path (--no-trace: counters only)' })
    .option('cleanup', { type: 'boolean', describe: 'remove nft trace tables and monitors a killed diagnose left behind, then exit' })
    .option('json', { type: 'boolean', describe: 'print the report as one JSON document (docs/diagnose.md)' })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'print each step and every command run' })
    .option('progress', progressOption);
  return addExamples(y, examples) as unknown as Argv<DiagnoseArgs>;
}

async function cleanup(): Promise<void> {
  let namespaces: string[] = [''];
  try {
    namespaces = ['', ...(await readNamedNetns()).map((n) => n.name)];
  } catch {
    /* the host namespace alone */
  }
  const r = await cleanupStaleTraces(namespaces);
  process.stdout.write(
    r.tables.length + r.processes.length + r.records === 0
      ? 'nothing to clean up: no trace table or monitor of a dead diagnose found\n'
      : `removed ${r.tables.length} trace table(s)${r.tables.length ? ` (${r.tables.join(', ')})` : ''}, ended ${r.processes.length} monitor process(es), removed ${r.records} record(s)\n`,
  );
}

export const examples: readonly Example[] = [
  ['diagnose pod-a pod-b', 'ping pod-b from pod-a, watching every hop'],
  ['diagnose k8s-node-pod-a 10.244.1.3 --port 8080', 'TCP SYN to port 8080'],
  ['diagnose pod-a pod-c --size 1400 --json', 'MTU check with DF, JSON for scripts'],
  ['diagnose pod-a pod-b --no-trace', 'counters and capture only (nothing added to the kernel)'],
  ['diagnose --cleanup', 'remove what a killed diagnose left (trace tables, monitors)'],
];

export async function handler(argv: ArgumentsCamelCase<DiagnoseArgs>): Promise<void> {
  if (argv.cleanup) {
    if (argv.from !== undefined) return usage('--cleanup takes no FROM/TO: run it alone (netscope diagnose --cleanup)');
    if (typeof process.getuid === 'function' && process.getuid() !== 0) return usage('diagnose --cleanup needs root (it deletes nftables tables in namespaces): run it with sudo');
    return cleanup();
  }
  if (argv.from === undefined || argv.to === undefined) return usage('diagnose needs FROM and TO (a namespace, pod name or address each), e.g. netscope diagnose pod-a pod-b');
  if (argv.proto !== undefined && !['icmp', 'tcp', 'udp'].includes(argv.proto)) return usage(`--proto ${argv.proto}: use icmp, tcp or udp`);
  for (const [name, v] of [['port', argv.port], ['size', argv.size], ['count', argv.count], ['timeout', argv.timeout]] as const) {
    if (v !== undefined && Number.isNaN(v)) return usage(`--${name} takes a number`);
  }
  if (argv.verbose) {
    setCommandLogger((line) => process.stderr.write(`${line}\n`));
  }
  let report: DiagnoseReport;
  const t0 = Date.now();
  // Without -v, the current step on one line (a terminal only); -v prints every step instead.
  const progress = argv.verbose ? undefined : progressFor(argv);
  let step = 'starting';
  progress?.every(() => `diagnose: ${step} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  // Ctrl-C / SIGTERM: stop captures and remove the trace tables before exiting (exit 130).
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    report = await diagnose({
      from: String(argv.from),
      to: String(argv.to),
      proto: argv.proto as ProbeProto | undefined,
      port: argv.port,
      size: argv.size,
      count: argv.count,
      timeoutMs: argv.timeout,
      trace: argv.trace !== false,
      signal: abort.signal,
      onStep: argv.verbose
        ? (l) => process.stderr.write(`netscope: [+${((Date.now() - t0) / 1000).toFixed(2)}s] ${l}\n`)
        : progress && ((l) => void (step = l)),
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`netscope: ${msg.split('\n')[0]}\n`);
    process.exitCode = e instanceof DiagnoseAbortedError ? 130 : e instanceof EndpointError || e instanceof DiagnoseUsageError ? 2 : 1;
    return;
  } finally {
    progress?.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (argv.verbose) setCommandLogger(null);
  }
  if (argv.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else process.stdout.write(renderReport(report, { color: useColor(process.stdout) }));
  process.exitCode = report.verdict.connected ? 0 : 1;
}
