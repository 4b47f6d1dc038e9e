/**
 * `netscope read FILE|- [filter…]`: prints a pcap/pcapng file (or stdin) tcpdump-style, as JSON lines,
 * as a summary, or as a flow table. The filter (pcap-filter subset) is compiled before anything is read.
 */
import fs from 'fs';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import type { FlowReport } from '../../analysis/report';
import { decodeRecord } from '../../decode/decode';
import { PacketView } from '../../decode/view';
import type { RecordFilter } from '../../filter/filter';
import { CaptureParser, openCaptureInput, readCapture } from '../../pcap/reader';
import type { PacketRecord, ReadError } from '../../pcap/record';
import { PacketPrinter, ProtocolSummary } from '../packetOutput';
import { addExamples, type Example } from '../help';
import { checkInput } from '../inputFile';
import { fail, usage } from '../userError';

const SORT_KEYS = ['packets', 'bytes', 'rate', 'start'] as const;
type SortKey = (typeof SORT_KEYS)[number];

interface ReadArgs {
  file: string;
  filter?: string[];
  count?: number;
  ether?: boolean;
  json?: boolean;
  summary?: boolean;
  flows?: boolean;
  sort?: SortKey;
  top?: number;
}

export const command = 'read <file> [filter..]';
export const describe = 'Print the packets of a pcap/pcapng file (or - for stdin), optionally filtered';

export function builder(y: Argv): Argv<ReadArgs> {
  y
    .positional('file', { type: 'string', demandOption: true, describe: 'pcap or pcapng file; - reads stdin' })
    .positional('filter', { type: 'string', array: true, describe: 'pcap-filter expression, e.g. tcp and port 80' })
    .option('count', { alias: 'c', type: 'number', describe: 'stop after N matching packets' })
    .option('ether', { alias: 'e', type: 'boolean', describe: 'show the link-layer header (MACs, ethertype, VLANs)' })
    .option('json', { type: 'boolean', describe: 'one JSON object per packet (docs/json-schema.md)' })
    .option('summary', { type: 'boolean', describe: 'only totals: packets, bytes, duration, protocols, problems' })
    .option('flows', { type: 'boolean', describe: 'a table of flows (bidirectional) with TCP/ICMP/ARP problems' })
    .option('sort', { choices: SORT_KEYS, describe: 'flow order, largest first (with --flows; default bytes)' })
    .option('top', { type: 'number', describe: `show only the first N flows (with --flows; 0 = all; default ${DEFAULT_TOP}, all with --json)` });
  return addExamples(y, examples) as unknown as Argv<ReadArgs>;
}

export const examples: readonly Example[] = [
  ['read fixtures/pcap/icmp.pcap', 'tcpdump-like lines'],
  ['read trace.pcapng -e -c 10 icmp or arp', 'first 10 ICMP/ARP packets with MACs'],
  ['cat x.pcap | $0 read - --json tcp port 80', 'JSON lines from stdin'],
  ['read trace.pcap --summary', 'totals per protocol'],
  ['read trace.pcap --flows --sort bytes --top 20', 'the 20 biggest flows'],
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
  if (!argv.flows && (argv.top !== undefined || argv.sort !== undefined)) {
    return usage('--sort and --top apply to --flows: add --flows');
  }

  const expr = (argv.filter ?? []).join(' ').trim();
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
  const file = argv.file === '' || argv.file === '-' ? '-' : argv.file;
  const problem = checkInput(file);
  if (problem !== undefined) return fail(problem);

  const printing = !argv.summary && !argv.flows;
  const printer = new PacketPrinter(process.stdout, {
    json: argv.json,
    ether: argv.ether,
    count: printing ? count : undefined,
  });
  const summary = argv.summary ? new ProtocolSummary() : undefined;
  let flows: FlowReport | undefined;
  if (argv.flows) {
    // Loaded only when asked for: printing packets does not need the flow engine.
    const { FlowReport: Report } = await import('../../analysis/report');
    flows = new Report({ sort: argv.sort ?? 'bytes', top, json: argv.json === true });
  }
  const limit = count ?? Infinity;

  const view = new PacketView();
  let frame = 0;
  let matched = 0;
  const general = (rec: PacketRecord): void => {
    frame++;
    decodeRecord(view, rec);
    if (match !== undefined && !match.matches(view, rec)) return;
    matched++;
    if (summary !== undefined) summary.add(view, rec);
    if (flows !== undefined) flows.add(view, rec);
    if (printing) {
      if (!printer.print(view, rec, frame)) throw new StopReading();
    } else if (matched >= limit) {
      throw new StopReading();
    }
  };
  // The two plain cases without the tests that do not apply (a million calls per second).
  const summaryOnly = (s: ProtocolSummary): ((rec: PacketRecord) => void) => (rec) => {
    decodeRecord(view, rec);
    s.add(view, rec);
    if (++matched >= limit) throw new StopReading();
  };
  const printOnly = (rec: PacketRecord): void => {
    decodeRecord(view, rec);
    if (!printer.print(view, rec, ++frame)) throw new StopReading();
  };
  const onRecord =
    match !== undefined || flows !== undefined ? general : summary !== undefined ? summaryOnly(summary) : printing ? printOnly : general;

  // Ctrl-C stops reading and still prints what was read (the report of a live pipe is the point of it);
  // a second one quits at once.
  const interrupt = new AbortController();
  const onSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  let readError: ReadError | null;
  try {
    readError = await readInput(file, onRecord, printer, interrupt.signal);
  } catch (e) {
    await printer.flush();
    return fail(`${file === '-' ? 'stdin' : file}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    process.off('SIGINT', onSigint);
  }

  if (summary !== undefined) printer.writer.write(argv.json ? summary.renderJson() : summary.render());
  if (flows !== undefined) printer.writer.write(flows.renderBytes());
  await printer.flush();
  printer.writer.detach();
  if (readError !== null) return fail(readErrorText(file, readError));
  const werr = printer.writer.error;
  if (werr !== null) return fail(`cannot write output: ${werr.message}`);
  if (interrupt.signal.aborted) {
    process.stderr.write(`netscope: interrupted after ${Math.max(frame, matched)} packets read${summary !== undefined || flows !== undefined ? '; the report covers them' : ''}\n`);
    process.exitCode = 130;
  }
}
