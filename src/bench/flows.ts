/**
 * `npm run bench -- flows`:
 *  1. Generated 1M-packet pcaps, each measured in the same run against `tcpdump -r F -w /dev/null`, best of
 *     NETSCOPE_BENCH_ROUNDS (default 3) interleaved rounds, with the load average (the machine may be shared):
 *       - MANY FLOWS (the headline input): ~300k short flows, random directions, 30% of TCP handshakes
 *         incomplete, echo ids varied, ARP for absent hosts (generateManyFlows);
 *       - realistic traffic, whole packets: 100k flows visited in trains of 1..15 packets;
 *       - the same cut to a 128-byte snaplen (a truncated capture);
 *       - the worst case: every packet a random one of 100k flows.
 *     For each: tcpdump, `netscope read F --flows` (text: the 50 biggest flows and the problem digest),
 *     `--flows --json` (every flow and problem), `--top 0`, `--summary` (no flow engine) and `-c 1` (start-up
 *     floor), run as the user runs them (the bin, a fresh process, output to /dev/null) under /usr/bin/time:
 *     wall time, CPU time and peak RSS, with the limits checked (--flows ≤ 2.0× tcpdump; --json ≤ 1.5× the
 *     text report in time and in RSS); then the CPU time of each stage in this (warm) process.
 *  2. Memory: 1M distinct flows held in one FlowTable, in a fresh child process, RSS before and after.
 * Files go to a temp directory that is removed afterwards.
 */
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { FlowTable } from '../analysis/flows';
import { LineBuffer } from '../decode/format';
import { FlowReport, ReportSink } from '../views/flows/report';
import { decodeRecord } from '../decode/decode';
import { PacketView } from '../decode/view';
import { openCaptureInput, readCapture } from '../pcap/reader';
import { generate, generateManyFlows, generateRealistic } from './_flowInputs';

const PACKETS = 1_000_000;
const FLOWS = 100_000;
const MEM_FLOWS = 1_000_000;
/** Snaplen of the truncated capture. */
const SHORT_SNAPLEN = 128;

/** What one run of a child process cost: wall time, CPU time (user + system) and peak RSS. */
interface Run {
  ms: number;
  cpuMs: number;
  /** Peak resident set, KiB (0 when /usr/bin/time is missing). */
  rssKb: number;
}

const TIME_BIN = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : '';

/** Runs a child (stdout to /dev/null) under /usr/bin/time for its peak RSS and CPU; rejects on a non-zero exit. */
function timeProcess(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const argv = TIME_BIN === '' ? args : ['-f', 'NSBENCH %M %U %S', cmd, ...args];
    const child = spawn(TIME_BIN === '' ? cmd : TIME_BIN, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) return reject(new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${code}: ${err.trim().split('\n')[0]}`));
      const m = /NSBENCH (\d+) ([\d.]+) ([\d.]+)/.exec(err);
      resolve({ ms, rssKb: m ? Number(m[1]) : 0, cpuMs: m ? (Number(m[2]) + Number(m[3])) * 1000 : ms });
    });
  });
}

const tcpdumpRead = (file: string): Promise<Run> => timeProcess('tcpdump', ['-r', file, '-w', '/dev/null']);
/** The bin itself (its sh launcher included), a fresh process, as the user runs it. */
const NETSCOPE = path.join(__dirname, '..', '..', 'bin', 'netscope');
const cli =
  (...args: string[]) =>
  (file: string): Promise<Run> =>
    timeProcess(NETSCOPE, ['read', file, ...args]);

/** A report sink that drops what it is given (the report's own cost, without output). */
class NullSink implements ReportSink {
  readonly lines = new LineBuffer(1 << 16);
  readonly open = true;
  bytes = 0;
  commit(): void {
    this.bytes += this.lines.pending;
    this.lines.take();
    this.lines.recycle();
  }
  write(chunk: string | Buffer): void {
    this.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
  }
  waitForDrain(): undefined {
    return undefined;
  }
}

interface Stages {
  read: number;
  decode: number;
  flows: number;
  text: number;
  json: number;
  flowCount: number;
}

/** In this (warm) process, CPU ms of each stage: read only, read+decode, read+decode+FlowTable, then the text and JSON reports. */
async function stages(file: string): Promise<Stages> {
  const cpu = (t0: NodeJS.CpuUsage): number => {
    const c = process.cpuUsage(t0);
    return (c.user + c.system) / 1000;
  };
  const view = new PacketView();
  let t = process.cpuUsage();
  let n = 0;
  await readCapture(openCaptureInput(file), () => n++);
  const read = cpu(t);
  t = process.cpuUsage();
  await readCapture(openCaptureInput(file), (rec) => decodeRecord(view, rec));
  const decode = cpu(t);
  const text = new FlowReport({ sort: 'bytes', top: 50, json: false });
  t = process.cpuUsage();
  await readCapture(openCaptureInput(file), (rec) => {
    decodeRecord(view, rec);
    text.add(view, rec);
  });
  const flows = cpu(t);
  t = process.cpuUsage();
  await text.write(new NullSink());
  const textMs = cpu(t);
  // The JSON report of the same table: same flows, every one written.
  const json = new FlowReport({ sort: 'bytes', top: 0, json: true });
  (json as unknown as { table: FlowTable }).table = text.table;
  t = process.cpuUsage();
  await json.write(new NullSink());
  const jsonMs = cpu(t);
  if (n !== text.table.counters().packets) throw new Error('stage runs disagree');
  return { read, decode, flows, text: textMs, json: jsonMs, flowCount: text.table.size };
}

const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');

/** Child mode: read `file` into one FlowTable, print RSS before/after as JSON. */
async function rssChild(file: string): Promise<void> {
  const g = global as { gc?: () => void };
  g.gc?.();
  const before = process.memoryUsage();
  const view = new PacketView();
  const table = new FlowTable({ idleTimeoutSec: Infinity, maxFlows: MEM_FLOWS });
  await readCapture(openCaptureInput(file), (rec) => {
    decodeRecord(view, rec);
    table.add(view, rec);
  });
  // Buffers outgrown by the table are released by V8's sweeper after a GC, not inside it: give it a moment.
  for (let i = 0; i < 3; i++) {
    g.gc?.();
    await new Promise((r) => setTimeout(r, 200));
  }
  const after = process.memoryUsage();
  const peak = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(
    JSON.stringify({ flows: table.size, evicted: table.counters().evicted, rssBefore: before.rss, rssAfter: after.rss, rssPeak: peak, arrayBuffers: after.arrayBuffers, heapUsed: after.heapUsed }) + '\n',
  );
}

function runChild(file: string): Promise<{ flows: number; evicted: number; rssBefore: number; rssAfter: number; rssPeak: number; arrayBuffers: number; heapUsed: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', __filename, '--rss-child', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`memory child exited ${code}`));
      else resolve(JSON.parse(out) as never);
    });
  });
}

interface Contender {
  label: string;
  run: (file: string) => Promise<Run>;
}

const CONTENDERS: Contender[] = [
  { label: 'tcpdump -r F -w /dev/null', run: tcpdumpRead },
  { label: 'netscope read F --flows', run: cli('--flows') },
  { label: 'netscope read F --flows --json', run: cli('--flows', '--json') },
  { label: 'netscope read F --flows --top 0', run: cli('--flows', '--top', '0') },
  { label: 'netscope read F --summary (no flows)', run: cli('--summary') },
  { label: 'netscope read F -c 1 (start-up floor)', run: cli('-c', '1') },
];
const TCPDUMP = 0;
const TEXT = 1;
const JSON_REPORT = 2;

const ROUNDS = Number(process.env.NETSCOPE_BENCH_ROUNDS) > 0 ? Number(process.env.NETSCOPE_BENCH_ROUNDS) : 3;

async function compare(file: string, label: string): Promise<void> {
  console.log(`input (${label}): ${(fs.statSync(file).size / 1e6).toFixed(1)} MB; load average ${load()} on ${os.cpus().length} CPUs`);
  // Warm-up: page cache for everyone, JIT of this process.
  await stages(file);
  for (const c of CONTENDERS.slice(0, 3)) await c.run(file);
  const runs: Run[][] = CONTENDERS.map(() => []);
  const st: Stages[] = [];
  // Interleaved rounds, so a burst of load from other users hits every contender alike.
  for (let i = 0; i < ROUNDS; i++) {
    for (let c = 0; c < CONTENDERS.length; c++) runs[c].push(await CONTENDERS[c].run(file));
    st.push(await stages(file));
  }
  const best = (xs: Run[], k: 'ms' | 'cpuMs' | 'rssKb'): number => Math.min(...xs.map((r) => r[k]));
  const t = best(runs[TCPDUMP], 'ms');
  const tc = best(runs[TCPDUMP], 'cpuMs');
  const col = (s: string): string => `${s}:`.padEnd(42);
  console.log(`  flows: ${st[0].flowCount}; best of ${ROUNDS}: wall (range), ratio to tcpdump; CPU (user+sys), ratio; peak RSS`);
  CONTENDERS.forEach((c, i) => {
    const x = best(runs[i], 'ms');
    const xc = best(runs[i], 'cpuMs');
    const xs = runs[i].map((r) => r.ms);
    console.log(
      `  ${col(c.label)}${x.toFixed(0).padStart(6)} ms (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}) ${(x / t).toFixed(2).padStart(5)}×` +
        `  cpu ${xc.toFixed(0).padStart(5)} ms ${(xc / tc).toFixed(2).padStart(5)}×  RSS ${(best(runs[i], 'rssKb') / 1024).toFixed(0).padStart(4)} MiB`,
    );
  });
  const text = best(runs[TEXT], 'ms');
  const json = best(runs[JSON_REPORT], 'ms');
  const rssText = best(runs[TEXT], 'rssKb');
  const rssJson = best(runs[JSON_REPORT], 'rssKb');
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  console.log(
    `  limits: --flows ≤ 2.0× tcpdump: ${verdict(text <= 2 * t)} (${(text / t).toFixed(2)}×; target 1.0×: ${verdict(text <= t)}); ` +
      `--json time ≤ 1.5× text: ${verdict(json <= 1.5 * text)} (${(json / text).toFixed(2)}×); ` +
      `--json RSS ≤ 1.5× text: ${verdict(rssJson <= 1.5 * rssText)} (${(rssJson / rssText).toFixed(2)}×)`,
  );
  const bs = (k: keyof Stages): string => Math.min(...st.map((x) => x[k])).toFixed(0).padStart(5);
  console.log(
    `  in process (warm, CPU ms, best): read ${bs('read')}  read+decode ${bs('decode')}  +FlowTable ${bs('flows')}  ` +
      `text report ${bs('text')}  JSON report ${bs('json')}`,
  );
  console.log(`  load average after: ${load()}`);
}

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-bench-flows-'));
  try {
    const file = path.join(dir, 'flows.pcap');
    const many = generateManyFlows(file, PACKETS);
    await compare(
      file,
      `MANY FLOWS: ${many.flows} flows in ${many.packets} packets, random directions; TCP ${many.tcp} (${many.tcpIncomplete} handshakes incomplete), ` +
        `UDP ${many.udp}, ICMP echo ${many.icmp} (${many.icmpUnanswered} unanswered), ARP ${many.arp} (${many.arpAbsent} for absent hosts)`,
    );
    generateRealistic(file, PACKETS, FLOWS);
    await compare(file, `realistic, whole packets: ${FLOWS} TCP/UDP/ICMP flows in trains of 1-15 packets`);
    generateRealistic(file, PACKETS, FLOWS, SHORT_SNAPLEN);
    await compare(file, `the same cut to snaplen ${SHORT_SNAPLEN}: a truncated capture`);
    generate(file, PACKETS, FLOWS, false, 1);
    await compare(file, `WORST CASE: every packet a random one of ${FLOWS} flows`);
    fs.unlinkSync(file);

    const memFile = path.join(dir, 'distinct.pcap');
    generate(memFile, MEM_FLOWS, MEM_FLOWS, true);
    const m = await runChild(memFile);
    const mb = (x: number): string => `${(x / 1048576).toFixed(1)} MiB`;
    console.log(
      `memory: ${m.flows} flows held (evicted ${m.evicted}): RSS ${mb(m.rssAfter)}, peak ${mb(m.rssPeak)} ` +
        `(process before: ${mb(m.rssBefore)}; typed arrays ${mb(m.arrayBuffers)}, heap ${mb(m.heapUsed)})  (target < 250 MB)`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module && process.argv[2] === '--rss-child') {
  rssChild(process.argv[3]).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
