/**
 * `netscope replay FILE -i IFACE[@NETNS]`: injects a capture file's frames with libpcap.
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { CaptureStartError } from '../../capture/live';
import { Replay } from '../../capture/replay';
import { parseTarget, TargetError } from '../../capture/target';
import { addExamples, type Example } from '../help';
import { checkInput } from '../inputFile';
import { fail, usage } from '../userError';

interface ReplayArgs {
  file: string;
  interface: string;
  pps?: number;
  speed?: number;
  'top-speed'?: boolean;
  count?: number;
  loop: number;
  json?: boolean;
}

export const command = 'replay <file>';
export const describe = "Send a capture file's frames out of an interface (in any namespace) with libpcap";

export function builder(y: Argv): Argv<ReplayArgs> {
  y
    .positional('file', { type: 'string', demandOption: true, describe: 'pcap or pcapng file' })
    .option('interface', { alias: 'i', type: 'string', demandOption: true, describe: 'IFACE, IFACE@NETNS or IFACE@pid:PID' })
    .option('pps', { type: 'number', describe: 'frames per second' })
    .option('speed', { type: 'number', describe: "multiplier on the file's timing (default 1)" })
    .option('top-speed', { type: 'boolean', describe: 'as fast as possible' })
    .option('count', { alias: 'c', type: 'number', describe: 'stop after N frames' })
    .option('loop', { type: 'number', default: 1, describe: 'passes over the file (0 = until -c N or Ctrl-C)' })
    .option('json', { type: 'boolean', describe: 'print the result as JSON' });
  return addExamples(y, examples) as unknown as Argv<ReplayArgs>;
}

export const examples: readonly Example[] = [
  ['replay fixtures/pcap/icmp.pcap -i veth1@pod1 --pps 100', "a fixture's frames, 100 per second"],
  ['replay flood.pcap -i eth0@pid:4242 --top-speed -c 1000000 --loop 0', 'a million frames, as fast as possible'],
];

export async function handler(argv: ArgumentsCamelCase<ReplayArgs>): Promise<void> {
  const modes = [argv.pps !== undefined, argv.speed !== undefined, argv['top-speed'] === true].filter(Boolean).length;
  if (modes > 1) return usage('choose one of --pps, --speed, --top-speed');
  if (argv.pps !== undefined && !(argv.pps > 0)) return usage('--pps must be a positive number');
  if (argv.speed !== undefined && !(argv.speed > 0)) return usage('--speed must be a positive number');
  if (argv.count !== undefined && !(Number.isInteger(argv.count) && argv.count > 0)) return usage('-c must be a positive integer');
  if (!(Number.isInteger(argv.loop) && argv.loop >= 0)) return usage('--loop must be 0 or a positive integer');
  if (argv.loop === 0 && argv.count === undefined) return usage("--loop 0 repeats the file until -c N frames are sent: give -c N");
  const problem = checkInput(argv.file);
  if (problem !== undefined) return fail(problem);
  let replay: Replay;
  try {
    replay = new Replay(argv.file, parseTarget(argv.interface), {
      pps: argv.pps,
      speed: argv.speed,
      topSpeed: argv['top-speed'],
      count: argv.count,
      loops: argv.loop,
    });
  } catch (e) {
    if (e instanceof TargetError) return usage(e.message);
    throw e;
  }
  const onSignal = (): void => void replay.stop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const r = await replay.run();
    if (argv.json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else {
      const rate = r.elapsedMs > 0 ? ` in ${(r.elapsedMs / 1000).toFixed(3)} s (${Math.round((r.sent * 1000) / r.elapsedMs)} frames/s)` : '';
      process.stdout.write(`${r.target}: ${r.sent} frames sent (${r.bytes} bytes)${rate}, ${r.failed} failed\n`);
      for (const err of r.errors) process.stdout.write(`  send error: ${err}\n`);
    }
    if (r.failed > 0) process.exitCode = 1;
  } catch (e) {
    if (e instanceof CaptureStartError) {
      process.stderr.write(`netscope: ${e.message}\n`);
      process.exitCode = e.usage ? 2 : 1;
      return;
    }
    process.stderr.write(`netscope: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
