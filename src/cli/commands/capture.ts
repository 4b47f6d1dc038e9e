/**
 * `netscope capture -i IFACE[@NETNS] [-i …] [filter…]`: live capture on interfaces in any namespaces, merged
 * in time order; printed like `netscope read` (text or --json) or written to a pcapng/pcap file (-w).
 */
import fs from 'fs';
import path from 'path';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { readTokenFile, TokenFileError } from '../../agent/auth';
import { RemoteCapture } from '../../agent/remoteCapture';
import { CaptureStartError, LiveCapture, TargetStats, type CapturedInterface } from '../../capture/live';
import { CaptureTarget, parseTarget, resolveTargets, selectorTargets, TargetError } from '../../capture/target';
import { closeSharedPodResolver, sharedPodResolver } from '../../k8s/pods';
import { PodNameIndex } from '../../k8s/podNames';
import { decodeRecord } from '../../decode/decode';
import { PacketView } from '../../decode/view';
import type { PacketRecord } from '../../pcap/record';
import { PcapngWriter, PcapWriter } from '../../pcap/writer';
import { PacketPrinter } from '../packetOutput';
import { addExamples, type Example } from '../help';
import { fail, usage } from '../userError';

interface CaptureArgs {
  filter?: string[];
  interface?: string | string[];
  selector?: string;
  ether?: boolean;
  count?: number;
  duration?: number;
  json?: boolean;
  write?: string;
  print?: boolean;
  quiet?: boolean;
  'window-ms': number;
  'buffer-size': number;
  snaplen: number;
  'no-promiscuous-mode'?: boolean;
  immediate?: boolean;
  agent?: string | string[];
  'token-file'?: string;
}

export const command = 'capture [filter..]';
export const describe = 'Capture live on interfaces in any network namespaces (merged in time order), print or write pcapng';

export function builder(y: Argv): Argv<CaptureArgs> {
  y
    .positional('filter', { type: 'string', array: true, describe: 'pcap-filter expression (compiled by libpcap, kernel BPF)' })
    .option('interface', {
      alias: 'i',
      // Not an array option: an array would swallow the filter words after the last -i.
      type: 'string',
      requiresArg: true,
      describe: 'IFACE (this namespace), IFACE@NETNS, IFACE@pid:PID, IFACE@POD / IFACE@NAMESPACE/POD, or NAMESPACE/POD (its eth0); repeat for several',
    })
    .option('selector', {
      alias: 'l',
      type: 'string',
      requiresArg: true,
      describe: 'every pod whose labels match (app=web,tier!=db): its eth0, merged with any -i',
    })
    .option('ether', { alias: 'e', type: 'boolean', describe: 'print link-level headers' })
    .option('count', { alias: 'c', type: 'number', describe: 'stop after N packets' })
    .option('duration', { type: 'number', describe: 'stop after S seconds' })
    .option('json', { type: 'boolean', describe: 'one JSON object per packet (as netscope read --json, with iface)' })
    .option('write', { alias: 'w', type: 'string', describe: 'write packets to FILE ("-" = stdout): pcapng (one interface block per -i), classic pcap if FILE ends in .pcap' })
    .option('print', { type: 'boolean', describe: 'with -w: print packets too' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'no per-interface counts at the end' })
    .option('window-ms', { type: 'number', default: 2000, describe: 'merging interfaces by kernel timestamp: how long a silent capture agent may hold the others back (ms)' })
    .option('buffer-size', { alias: 'B', type: 'number', default: 32768, describe: 'kernel capture ring per interface in KiB (as tcpdump -B)' })
    .option('snaplen', { alias: 's', type: 'number', default: 262144, describe: 'bytes captured per packet (as tcpdump -s; 0 = 262144)' })
    .option('no-promiscuous-mode', { alias: 'p', type: 'boolean', describe: 'do not put the interfaces into promiscuous mode (as tcpdump -p)' })
    .option('immediate', { type: 'boolean', describe: 'libpcap immediate mode: lowest latency, fewer frames per ring' })
    .option('agent', { type: 'string', requiresArg: true, describe: 'capture through netscope agents (http://HOST:PORT, repeat for several nodes); -i IFACE@NETNS goes to the agents that follow NETNS' })
    .option('token-file', { type: 'string', requiresArg: true, describe: 'with --agent: file holding the agents\' bearer token' });
  return addExamples(y, examples) as unknown as Argv<CaptureArgs>;
}

export const examples: readonly Example[] = [
  ['capture -i cni0@node1 -i eth0@pod-a icmp', 'bridge and pod side at once'],
  ['capture -i veth1 -w out.pcapng --duration 10', 'write 10 s of traffic'],
  ['capture -i default/web-0 -w web.pcapng', "a pod's eth0 by name (interface named default/web-0/eth0)"],
  ['capture --selector app=web tcp port 80', 'every app=web pod, merged'],
  ['capture --agent http://a:9465 --agent http://b:9465 -i eth0 -w x', 'one pcapng from two nodes'],
];

/** Opens FILE for writing: its descriptor, or the one line that says why it cannot be written. */
export function openOutputFile(file: string): number | string {
  try {
    if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) return `-w ${file}: is a directory, not a file`;
    return fs.openSync(file, 'w');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const dir = path.dirname(path.resolve(file));
    if (code === 'ENOENT') return `-w ${file}: directory ${dir} does not exist (create it first)`;
    if (code === 'ENOTDIR') return `-w ${file}: a part of ${dir} is not a directory`;
    if (code === 'EACCES' || code === 'EPERM') return `-w ${file}: permission denied`;
    if (code === 'EROFS') return `-w ${file}: read-only file system`;
    return `-w ${file}: cannot open for writing (${code ?? (e as Error).message})`;
  }
}

/** Where captured records go: a file writer (pcapng keeps one interface per target) and/or the printer. */
interface Sink {
  write(rec: PacketRecord): void;
  close(): Promise<void>;
}

/** "-w -" streams pcapng to stdout (e.g. into tshark -r -). */
function openFileSink(file: string, fd: number | undefined, capture: { interfaces(): CapturedInterface[] }, names: PodNameIndex | null): Sink {
  const out: NodeJS.WritableStream = fd === undefined ? process.stdout : fs.createWriteStream('', { fd });
  const ifs = capture.interfaces();
  if (file.endsWith('.pcap')) {
    const linktypes = new Set(ifs.map((i) => i.linktype));
    if (linktypes.size > 1) {
      out.end();
      throw new TargetError(`${file}: classic pcap holds one link type, these interfaces have ${[...linktypes].join(', ')}: use a .pcapng name`);
    }
    const w = new PcapWriter(out, { linktype: ifs[0].linktype, snaplen: ifs[0].snaplen, nanosecond: true });
    return { write: (rec) => w.write(rec), close: () => w.close() };
  }
  const w = new PcapngWriter(out);
  for (const i of ifs) w.addInterface(i.name, i.linktype, i.snaplen);
  // Pod IP → "web-0.default": Wireshark shows pod names in place of their addresses.
  if (names !== null && names.size > 0) w.addNameResolution(names.nameRecords());
  return { write: (rec) => w.write(rec.ifIndex, rec), close: () => w.close() };
}

/** tcpdump's closing accounting, per interface, plus what netscope itself dropped. */
export function closingLines(stats: TargetStats[]): string[] {
  return stats.map((s) => {
    const parts = [`${s.packets} packets captured (${s.bytes} bytes)`];
    if (s.kernelReceived !== undefined) parts.push(`${s.kernelReceived} received by filter`);
    if (s.kernelDropped !== undefined) parts.push(`${s.kernelDropped} dropped by kernel`);
    if (s.kernelIfDropped !== undefined) parts.push(`${s.kernelIfDropped} dropped by interface`);
    if (s.agentDropped > 0) parts.push(`${s.agentDropped} dropped by netscope (fell behind)`);
    if (s.truncated > 0) parts.push(`${s.truncated} cut at the snapshot length`);
    return `${s.target}: ${parts.join(', ')}`;
  });
}

function summaryOf(s: TargetStats): Record<string, number | string | undefined> {
  return {
    iface: s.target,
    captured: s.packets,
    bytes: s.bytes,
    received_by_filter: s.kernelReceived,
    dropped_by_kernel: s.kernelDropped,
    dropped_by_interface: s.kernelIfDropped,
    dropped_by_netscope: s.agentDropped,
    truncated: s.truncated,
  };
}

export async function handler(argv: ArgumentsCamelCase<CaptureArgs>): Promise<void> {
  if (argv.interface === undefined && argv.selector === undefined) return usage('name what to capture on: -i IFACE[@NETNS|@POD] (repeatable) or --selector LABEL=VALUE');
  let targets: CaptureTarget[];
  let names: PodNameIndex | null = null;
  try {
    targets = await resolveTargets(([] as string[]).concat(argv.interface ?? []).map(parseTarget));
    if (argv.selector !== undefined) targets.push(...(await selectorTargets(argv.selector)));
    // A pod named by -i and matched by --selector is captured once.
    const seen = new Set<string>();
    targets = targets.filter((t) => {
      const k = `${t.netns ?? ''}\0${t.iface}`;
      return seen.has(k) ? false : (seen.add(k), true);
    });
    if (argv.write !== undefined && !argv.write.endsWith('.pcap')) names = PodNameIndex.from(await sharedPodResolver().resolve());
  } catch (e) {
    if (e instanceof TargetError) return usage(e.message);
    throw e;
  } finally {
    closeSharedPodResolver();
  }
  if (argv.count !== undefined && !(Number.isInteger(argv.count) && argv.count > 0)) return usage('-c must be a positive integer');
  if (argv.duration !== undefined && !(argv.duration > 0)) return usage('--duration must be a positive number of seconds');
  if (!(argv['window-ms'] >= 0)) return usage('--window-ms must be 0 or more');
  if (!(argv['buffer-size'] >= 64 && argv['buffer-size'] <= 2 * 1024 * 1024)) return usage('-B must be between 64 and 2097152 KiB');
  if (!(Number.isInteger(argv.snaplen) && argv.snaplen >= 0 && argv.snaplen <= 262144)) return usage('-s must be an integer from 0 to 262144');
  if (argv.write === '-' && argv.print) return usage('-w - writes the capture to stdout: --print cannot share it');
  const agents = ([] as string[]).concat(argv.agent ?? []);
  let token: string | undefined;
  if (argv['token-file'] !== undefined) {
    if (agents.length === 0) return usage('--token-file is for --agent captures');
    try {
      token = readTokenFile(argv['token-file']);
    } catch (e) {
      if (e instanceof TokenFileError) return usage(e.message);
      throw e;
    }
  }
  // The output file is opened before the capture starts: a bad path is one clear line, and no capture is lost.
  let outFd: number | undefined;
  const createdOut = argv.write !== undefined && argv.write !== '-' && !fs.existsSync(argv.write);
  if (argv.write !== undefined && argv.write !== '-') {
    const opened = openOutputFile(argv.write);
    if (typeof opened === 'string') return fail(opened);
    outFd = opened;
  }
  const windowMs = argv['window-ms'];
  const capture =
    agents.length > 0
      ? new RemoteCapture(agents, ([] as string[]).concat(argv.interface ?? []), {
          filter: (argv.filter ?? []).join(' '),
          durationSec: argv.duration ?? 3600,
          token,
          reorderWindowMs: windowMs,
        })
      : new LiveCapture(targets, {
          filter: (argv.filter ?? []).join(' '),
          reorderWindowMs: argv['window-ms'],
          ringBytes: Math.round(argv['buffer-size'] * 1024),
          snaplen: argv.snaplen === 0 ? 262144 : argv.snaplen,
          promisc: argv['no-promiscuous-mode'] !== true,
          immediate: argv.immediate === true,
        });

  let stopRequested = false;
  let finishing: Promise<void> | null = null;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const requestStop = (): void => {
    stopRequested = true;
    if (started) void finish();
  };
  let started = false;
  process.on('SIGINT', requestStop);
  process.on('SIGTERM', requestStop);
  const detachSignals = (): void => {
    process.off('SIGINT', requestStop);
    process.off('SIGTERM', requestStop);
  };

  capture.on('warning', (m) => process.stderr.write(`netscope: warning: ${m}\n`));
  try {
    await capture.start();
  } catch (e) {
    detachSignals();
    if (outFd !== undefined) {
      // Nothing was captured: leave no empty file behind that this run created.
      fs.closeSync(outFd);
      if (createdOut) fs.rmSync(argv.write!, { force: true });
    }
    if (e instanceof CaptureStartError) {
      process.stderr.write(`netscope: ${e.message}\n`);
      process.exitCode = e.usage ? 2 : 1;
      return;
    }
    throw e;
  }
  started = true;

  let sink: Sink | null = null;
  if (argv.write !== undefined) {
    try {
      sink = openFileSink(argv.write, outFd, capture, names);
    } catch (e) {
      await capture.stop();
      detachSignals();
      process.stderr.write(`netscope: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = e instanceof TargetError ? 2 : 1;
      return;
    }
  }
  const printer = argv.write === undefined || argv.print ? new PacketPrinter(process.stdout, { json: argv.json === true, ether: argv.ether === true, iface: targets.length > 1 || agents.length > 0 }) : null;
  const view = new PacketView();
  const limit = argv.count ?? Infinity;
  let n = 0;
  let durationTimer: NodeJS.Timeout | null = null;

  const finish = async (): Promise<void> => {
    if (finishing) return finishing;
    finishing = (async () => {
      if (durationTimer) clearTimeout(durationTimer);
      await capture.stop();
      if (printer !== null) {
        // --json ends with the capture's accounting as one object (jq 'select(.summary)').
        if (argv.json) printer.writer.write(JSON.stringify({ summary: { interfaces: capture.stats().map(summaryOf), late: capture.lateRecords } }) + '\n');
        await printer.flush();
        printer.writer.detach();
        if (printer.writer.error) {
          process.stderr.write(`netscope: writing output: ${printer.writer.error.message}\n`);
          process.exitCode = 1;
        }
      }
      try {
        await sink?.close();
      } catch (e) {
        process.stderr.write(`netscope: writing ${argv.write}: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = 1;
      }
      if (!argv.quiet) {
        for (const line of closingLines(capture.stats())) process.stderr.write(`netscope: ${line}\n`);
        if (capture.lateRecords > 0) {
          process.stderr.write(`netscope: ${capture.lateRecords} packets arrived later than the ${windowMs} ms reorder window (kept, slightly out of order)\n`);
        }
      }
      detachSignals();
      resolveDone();
    })();
    return finishing;
  };

  capture.on('record', (rec) => {
    if (n >= limit) return;
    n++;
    sink?.write(rec);
    if (printer !== null) {
      decodeRecord(view, rec);
      // false with the count not reached: the reader went away (| head), nothing more to print.
      if (!printer.print(view, rec, n) && n < limit && sink === null) void finish();
    }
    if (n >= limit) void finish();
  });
  capture.on('end', () => {
    if (!stopRequested && finishing === null) {
      // Every interface went away: what was captured is kept, but the capture failed.
      process.exitCode = 1;
    }
    void finish();
  });
  if (argv.duration !== undefined) durationTimer = setTimeout(() => void finish(), argv.duration * 1000);
  if (!argv.quiet) {
    const names = capture.interfaces().map((i) => i.name).join(', ');
    const filter = (argv.filter ?? []).join(' ');
    process.stderr.write(`netscope: capturing on ${names}${filter ? ` (filter: ${filter})` : ''}${argv.write ? `, writing ${argv.write}` : ''}\n`);
  }
  if (stopRequested) void finish();
  await done;
}
