/**
 * `netscope diagnose FROM TO [--port N] [--proto icmp|tcp|udp] [--size BYTES] [--json]`: where pod-to-pod
 * traffic dies and why. Exit 0 connected, 1 not connected (or failure), 2 usage error.
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { DiagnoseUsageError, EndpointError, diagnose } from '../../diagnose/diagnose';
import { renderReport } from '../../diagnose/render';
import type { DiagnoseReport, ProbeProto } from '../../diagnose/types';
import { setCommandLogger } from '../../host/run';
import { addExamples, type Example } from '../help';
import { usage } from '../userError';

interface DiagnoseArgs {
  from: string;
  to: string;
  port?: number;
  proto?: string;
  size?: number;
  count?: number;
  timeout?: number;
  json?: boolean;
  color?: boolean;
  verbose?: boolean;
}

export const command = 'diagnose <from> <to>';
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
    .option('json', { type: 'boolean', describe: 'print the report as one JSON document (docs/diagnose.md)' })
    .option('color', { type: 'boolean', describe: 'colour the verdict (default: when output is a terminal)' })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'print each step and every command run' });
  return addExamples(y, examples) as unknown as Argv<DiagnoseArgs>;
}

export const examples: readonly Example[] = [
  ['diagnose pod-a pod-b', 'ping pod-b from pod-a, watching every hop'],
  ['diagnose k8s-node-pod-a 10.244.1.3 --port 8080', 'TCP SYN to port 8080'],
  ['diagnose pod-a pod-c --size 1400 --json', 'MTU check with DF, JSON for scripts'],
];

export async function handler(argv: ArgumentsCamelCase<DiagnoseArgs>): Promise<void> {
  if (argv.proto !== undefined && !['icmp', 'tcp', 'udp'].includes(argv.proto)) return usage(`--proto ${argv.proto}: use icmp, tcp or udp`);
  for (const [name, v] of [['port', argv.port], ['size', argv.size], ['count', argv.count], ['timeout', argv.timeout]] as const) {
    if (v !== undefined && Number.isNaN(v)) return usage(`--${name} takes a number`);
  }
  if (argv.verbose) {
    setCommandLogger((line) => process.stderr.write(`${line}\n`));
  }
  let report: DiagnoseReport;
  const t0 = Date.now();
  try {
    report = await diagnose({
      from: String(argv.from),
      to: String(argv.to),
      proto: argv.proto as ProbeProto | undefined,
      port: argv.port,
      size: argv.size,
      count: argv.count,
      timeoutMs: argv.timeout,
      onStep: argv.verbose ? (l) => process.stderr.write(`netscope: [+${((Date.now() - t0) / 1000).toFixed(2)}s] ${l}\n`) : undefined,
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`netscope: ${msg.split('\n')[0]}\n`);
    process.exitCode = e instanceof EndpointError || e instanceof DiagnoseUsageError ? 2 : 1;
    return;
  } finally {
    if (argv.verbose) setCommandLogger(null);
  }
  if (argv.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else process.stdout.write(renderReport(report, { color: argv.color ?? process.stdout.isTTY === true }));
  process.exitCode = report.verdict.connected ? 0 : 1;
}
