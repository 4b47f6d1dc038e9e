/**
 * `netscope read FILE|- [filter…]`: prints a pcap/pcapng file (or stdin) tcpdump-style, as JSON lines,
 * as a summary, or as a flow table. The filter (pcap-filter subset) is compiled before anything is read.
 */
import fs from 'fs';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import type { FlowReport } from '../../views/flows/report';
import { decodePacket, decodeRecord } from '../../decode/decode';
import { PacketView, tunnelPortTable } from '../../decode/view';
import type { RecordFilter } from '../../filter/filter';
import { CaptureParser, openCaptureInput, readCapture } from '../../pcap/reader';
import type { PacketRecord, ReadError } from '../../pcap/record';
import { PacketPrinter, ProtocolSummary } from '../packetOutput';
import { addExamples, type Example } from '../help';
import { checkInput } from '../inputFile';
import { fail, usage } from '../userError';
import { ioGraphFromArgs, renderIoGraph } from '../ioGraphArgs';
import { progressOption } from '../progress';
import { readProgress } from '../readProgress';

const SORT_KEYS = ['packets', 'bytes', 'rate', 'start'] as const;
type SortKey = (typeof SORT_KEYS)[number];

interface ReadArgs {
  file?: string;
  r?: string;
  n?: boolean;
  S?: boolean;
  q?: boolean;
  t?: number;
  s?: number;
  x?: number;
  X?: number;
  vxlanPort?: number[];
  filter?: string[];
  count?: number;
  ether?: boolean;
  json?: boolean;
  summary?: boolean;
  flows?: boolean;
  sort?: SortKey;
  top?: number;
  problems?: string;
  ioGraph?: boolean;
  interval?: string;
  progress?: boolean;
}

export const command = 'read [file] [filter..]';
export const describe = 'Print the packets of a pcap/pcapng file (or - for stdin), optionally filtered';

export function builder(y: Argv): Argv<ReadArgs> {
  y
    .positional('file', { type: 'string', describe: 'pcap or pcapng file; - reads stdin (or give it with -r)' })
    .positional('filter', { type: 'string', array: true, describe: 'pcap-filter expression, e.g. tcp and port 80' })
    .option('count', { alias: 'c', type: 'number', describe: 'stop after N matching packets' })
    .option('ether', { alias: 'e', type: 'boolean', describe: 'show the link-layer header (MACs, ethertype, VLANs)' })
    .option('r', { type: 'string', describe: 'the file to read, as tcpdump -r (then every positional word is the filter)' })
    .option('n', { type: 'boolean', describe: 'accepted for tcpdump habits (-n, -nn): names are never resolved anyway' })
    .option('S', { type: 'boolean', describe: 'absolute TCP sequence numbers (default: relative to the connection, as tcpdump)' })
    .option('q', { type: 'boolean', describe: 'quiet: less protocol detail (TCP as "tcp LEN", UDP without its payload)' })
    .option('t', { type: 'count', describe: 'time stamps as tcpdump: -t none, -tt epoch, -ttt delta, -tttt date, -ttttt since first' })
    .option('x', { type: 'count', describe: 'hex dump of each packet without (-x) or with (-xx) its link-layer header' })
    .option('X', { type: 'count', describe: 'hex and ASCII dump, without (-X) or with (-XX) the link-layer header' })
    .option('s', { type: 'number', describe: 'decode only the first N bytes of each packet (snap length; 0 = all)' })
    .option('vxlan-port', {
      type: 'number',
      array: true,
      describe: 'also decode UDP to port N as VXLAN (repeatable; 4789 and 8472 always are, Geneve on 6081)',
    })
    .option('json', { type: 'boolean', describe: 'one JSON object per packet (docs/json-schema.md)' })
    .option('summary', { type: 'boolean', describe: 'only totals: packets, bytes, duration, protocols, problems' })
    .option('flows', { type: 'boolean', describe: 'a table of flows (bidirectional) with TCP/ICMP/ARP problems' })
    .option('sort', { choices: SORT_KEYS, describe: 'flow order, largest first (with --flows; default bytes)' })
    .option('problems', {
      type: 'string',
      describe: 'problems listed per kind in the text report (with --flows; default 5, fitted to 40 lines); "all" lists every one',
    })
    .option('top', { type: 'number', describe: `show only the first N flows (with --flows; 0 = all; default ${DEFAULT_TOP}, all with --json); with --io-graph: per flow, the N biggest` })
    .option('io-graph', { type: 'boolean', describe: 'packets and bytes per interval as a terminal chart, per protocol (per flow with --top N)' })
    .option('interval', { type: 'string', describe: 'with --io-graph: interval length, e.g. 1s, 100ms, 1m (default 1s, longer for long captures)' })
    .option('progress', progressOption);
  return addExamples(y, examples) as unknown as Argv<ReadArgs>;
}

export const examples: readonly Example[] = [
  ['read fixtures/pcap/icmp.pcap', 'tcpdump-like lines'],
  ['read -nn -r fixtures/pcap/tcp.pcap -tttt tcp', 'tcpdump habits: -r, -n, -S, -q, -t…, -x/-X, -s, -c, -e'],
  ['read trace.pcapng -e -c 10 icmp or arp', 'first 10 ICMP/ARP packets with MACs'],
  ['read overlay.pcap --vxlan-port 8999', 'VXLAN on a non-standard port, inner frames decoded'],
  ['cat x.pcap | $0 read - --json tcp port 80', 'JSON lines from stdin'],
  ['read trace.pcap --summary', 'totals per protocol'],
  ['read trace.pcap --flows --sort bytes --top 20', 'the 20 biggest flows'],
  ['read trace.pcap --flows --problems all', 'every problem, not only the most significant per kind'],
  ['read trace.pcap --io-graph --interval 100ms --top 5', 'traffic over time of the 5 biggest flows'],
];

/** Flows shown in a text report without --top. */
const DEFAULT_TOP = 50;

/** Thrown from the record handler to stop reading early (-c reached, output closed). */
class StopReading extends Error {}

function readErrorText(file: string, err: ReadError): string {
  const name = file === '-' ? 'stdin' : file;
  // Reader messages usually name the offset ("… at byte 1234: …"); add it when they don't.
  const msg = /\bbyte \d+/.test(err.message) ? err.message : `${err.message} (at byte ${err.offset})`;
  return `${name}: ${msg}`;
}

/**
 * Read size for files. Small enough that the buffer stays in the CPU cache: copying 1M-packet files out of
 * the page cache measured 28 ms CPU with 128 KiB reads against 42 ms with 1 MiB ones (the copy's
 * destination lines are already cached; the parser then reads the headers from cache too).
 */
const FILE_CHUNK = 128 * 1024;

/** The event loop gets a turn after this many bytes read (output sent, EPIPE noticed), not after every read. */
const YIELD_BYTES = 1 << 20;

/**
 * Reads FILE (or stdin) through the capture parser until the end, damage, or StopReading from the handler.
 * Regular files (also stdin redirected from one) are read with synchronous reads into one reused buffer:
 * from the page cache that is a memcpy, while a stream's async round trip per chunk left the CPU idle half
 * the time. Between chunks the event loop runs, so a closed or congested stdout is noticed. Pipes go
 * through readCapture (a stream that never blocks the process).
 */
async function readInput(
  file: string,
  onRecord: (rec: PacketRecord) => void,
  printer: PacketPrinter,
  signal: AbortSignal,
  onChunk?: (bytesRead: number) => void,
): Promise<ReadError | null> {
  let fd: number;
  if (file === '-') {
    if (!fs.fstatSync(0).isFile()) {
      try {
        return (await readCapture(openCaptureInput('-'), onRecord, { throttle: () => printer.waitForDrain(), signal })).error;
      } catch (e) {
        if (e instanceof StopReading) return null;
        throw e;
      } finally {
        // readCapture only pauses stdin (it is the caller's); an open pipe would keep the process alive
        // after -c when the writer (e.g. a live tcpdump -w -) never ends it.
        process.stdin.destroy();
      }
    }
    fd = 0;
  } else {
    fd = fs.openSync(file, 'r');
  }
  try {
    const parser = new CaptureParser(onRecord);
    const buf = Buffer.allocUnsafe(FILE_CHUNK);
    let sinceYield = 0;
    let total = 0;
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        return { offset: parser.offset, message: `read failed: ${(e as Error).message}` };
      }
      if (n === 0) return parser.end();
      try {
        if (!parser.push(n === buf.length ? buf : buf.subarray(0, n))) return parser.error;
      } catch (e) {
        if (e instanceof StopReading) return null;
        throw e;
      }
      if (onChunk !== undefined) onChunk((total += n));
      const congested = printer.waitForDrain();
      sinceYield += n;
      if (congested !== undefined || sinceYield >= YIELD_BYTES) {
        sinceYield = 0;
        await (congested ?? new Promise<void>((resolve) => setImmediate(resolve)));
      }
      if (!printer.writer.open || signal.aborted) return null;
    }
  } finally {
    if (fd !== 0) fs.closeSync(fd);
  }
}

export async function handler(argv: ArgumentsCamelCase<ReadArgs>): Promise<void> {
  const count = argv.count;
  if (count !== undefined && !(Number.isInteger(count) && count > 0)) return usage('-c must be a positive integer');
  // A text report of every flow of a big capture is 100k rows with the problems after them: by default show the
  // biggest flows (the summary line says how many more there are); JSON lines are for tools and keep them all.
  const top = argv.top ?? (argv.json ? 0 : DEFAULT_TOP);
  if (!(Number.isInteger(top) && top >= 0)) return usage('--top must be 0 or a positive integer');
  if (argv.summary && argv.flows) return usage('choose one of --summary and --flows (the flow report has its own totals)');
  const ioGraph = ioGraphFromArgs(argv);
  if (typeof ioGraph === 'string') return usage(ioGraph);
  if (!argv.flows && (argv.sort !== undefined || argv.problems !== undefined || (argv.top !== undefined && ioGraph === undefined))) {
    return usage('--sort, --top and --problems apply to --flows: add --flows');
  }
  const problems = argv.problems === undefined ? undefined : argv.problems === 'all' ? Infinity : Number(argv.problems);
  if (problems !== undefined && !(problems === Infinity || (Number.isInteger(problems) && problems >= 0))) {
    return usage('--problems must be "all" or a number of problems per kind (0 = counts only)');
  }
  const vxlanPorts = argv.vxlanPort ?? [];
  for (const p of vxlanPorts) {
    if (!(Number.isInteger(p) && p >= 1 && p <= 65535)) return usage(`--vxlan-port must be a UDP port 1..65535, got ${String(p)}`);
  }
  // tcpdump habits: with -r FILE every positional word is filter.
  const words = [...(argv.r !== undefined && argv.file !== undefined ? [argv.file] : []), ...(argv.filter ?? [])];
  const fileArg = argv.r ?? argv.file;
  if (fileArg === undefined) return usage('name the capture file: netscope read FILE (or -r FILE, or - for stdin)');
  const timeMode = argv.t ?? 0;
  if (timeMode > 5) return usage('-t may be given at most 5 times (-ttttt)');
  const snap = argv.s ?? 0;
  if (!(Number.isInteger(snap) && snap >= 0)) return usage('-s must be 0 or a positive number of bytes');

  const expr = words.join(' ').trim();
  let match: RecordFilter | undefined;
  // The filter compiler (libpcap through the binding) is loaded only when there is a filter.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const filters = expr === '' ? undefined : (require('../../filter/filter') as typeof import('../../filter/filter'));
  try {
    match = filters === undefined ? undefined : filters.RecordFilter.compile(expr);
  } catch (e) {
    if (filters !== undefined && e instanceof filters.FilterError) return usage(e.message);
    return fail(e instanceof Error ? e.message : String(e));
  }

  // yargs hands a lone "-" over as "" (no file can have an empty name).
  const file = fileArg === '' || fileArg === '-' ? '-' : fileArg;
  const problem = checkInput(file);
  if (problem !== undefined) return fail(problem);

  const printing = !argv.summary && !argv.flows && ioGraph === undefined;
  const printer = new PacketPrinter(process.stdout, {
    json: argv.json,
    ether: argv.ether,
    count: printing ? count : undefined,
    absoluteSeq: argv.S === true,
    quiet: argv.q === true,
    time: timeMode,
    hex: Math.min(Math.max(argv.x ?? 0, argv.X ?? 0), 2),
    hexAscii: (argv.X ?? 0) > 0,
  });
  const summary = argv.summary ? new ProtocolSummary() : undefined;
  let flows: FlowReport | undefined;
  if (argv.flows) {
    // Loaded only when asked for: printing packets does not need the flow engine.
    const { FlowReport: Report } = await import('../../views/flows/report');
    flows = new Report({ sort: argv.sort ?? 'bytes', top, json: argv.json === true, problems });
  }
  const limit = count ?? Infinity;

  const view = new PacketView();
  if (vxlanPorts.length > 0) view.setTunnelPorts(tunnelPortTable(vxlanPorts));
  let frame = 0;
  let matched = 0;
  const general = (rec: PacketRecord): void => {
    frame++;
    if (snap > 0 && rec.caplen > snap) decodePacket(view, rec.buf, rec.offset, snap, rec.len, rec.linktype);
    else decodeRecord(view, rec);
    if (match !== undefined && !match.matches(view, rec)) return;
    matched++;
    if (summary !== undefined) summary.add(view, rec);
    if (flows !== undefined) flows.add(view, rec);
    if (ioGraph !== undefined) ioGraph.add(view, rec);
    if (printing) {
      if (!printer.print(view, rec, frame)) throw new StopReading();
    } else if (matched >= limit) {
      throw new StopReading();
    }
  };
  // The two plain cases without the tests that do not apply (a million calls per second).
  const summaryOnly = (s: ProtocolSummary): ((rec: PacketRecord) => void) => (rec) => {
    if (snap > 0 && rec.caplen > snap) decodePacket(view, rec.buf, rec.offset, snap, rec.len, rec.linktype);
    else decodeRecord(view, rec);
    s.add(view, rec);
    if (++matched >= limit) throw new StopReading();
  };
  const printOnly = (rec: PacketRecord): void => {
    if (snap > 0 && rec.caplen > snap) decodePacket(view, rec.buf, rec.offset, snap, rec.len, rec.linktype);
    else decodeRecord(view, rec);
    if (!printer.print(view, rec, ++frame)) throw new StopReading();
  };
  const onRecord =
    match !== undefined || flows !== undefined || ioGraph !== undefined ? general : summary !== undefined ? summaryOnly(summary) : printing ? printOnly : general;

  // Ctrl-C stops reading and still prints what was read (the report of a live pipe is the point of it);
  // a second one quits at once.
  const interrupt = new AbortController();
  const onSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  // Progress only where it cannot mix with the packets printed to the same terminal.
  const progress = readProgress(file, argv, printing, () => Math.max(frame, matched));
  let readError: ReadError | null;
  try {
    readError = await readInput(file, onRecord, printer, interrupt.signal, progress && ((n) => progress.tick(n)));
  } catch (e) {
    await printer.flush();
    return fail(`${file === '-' ? 'stdin' : file}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    progress?.done();
    process.off('SIGINT', onSigint);
  }

  if (summary !== undefined) printer.writer.write(argv.json ? summary.renderJson() : summary.render());
  if (flows !== undefined) await flows.write(printer.writer);
  if (ioGraph !== undefined) printer.writer.write(renderIoGraph(ioGraph, argv.json === true));
  await printer.flush();
  printer.writer.detach();
  if (readError !== null) return fail(readErrorText(file, readError));
  const werr = printer.writer.error;
  if (werr !== null) return fail(`cannot write output: ${werr.message}`);
  if (interrupt.signal.aborted) {
    process.stderr.write(`netscope: interrupted after ${Math.max(frame, matched)} packets read${summary !== undefined || flows !== undefined || ioGraph !== undefined ? '; the report covers them' : ''}\n`);
    process.exitCode = 130;
  }
}
