/**
 * `npm run bench -- hops`: one ICMP echo path across four capture points (pod A eth0 → node veth A → node
 * veth B → pod B eth0), captured at once by `netscope capture` (four namespace agents, merged) and by four
 * tcpdump processes (kernel timestamps, same clock), in the same run. Prints, for both: echoes seen on every
 * hop, consecutive-hop pairs out of physical order, and the median hop-to-hop delta.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { CaptureParser } from '../pcap/reader';
import { buildHopLab, destroyHopLab, EchoSightings, HopLab, HopOrder, hopOrder, startTcpdump, stopTcpdump } from './_hops';

const PREFIX = 'nsbench-h';
const ECHOES = Number(process.env.BENCH_HOPS_ECHOES ?? 1000);

function netscopeBin(): string {
  return path.resolve(__dirname, '..', '..', 'bin', 'netscope');
}

function startNetscope(lab: HopLab, file: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [netscopeBin(), 'capture', ...lab.hops.flatMap((h) => ['-i', h]), '-w', file, 'icmp'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.includes('capturing on')) resolve(child);
    });
    // Rejects only a start that fails (a settled promise ignores the later close).
    child.once('close', (code) => reject(new Error(`netscope capture exited (${code}): ${err.trim()}`)));
  });
}

function read(file: string, s: EchoSightings, point: (iface: string | undefined) => number): void {
  const p = new CaptureParser((r) => s.add(r, point(r.iface)));
  p.push(fs.readFileSync(file));
  p.end();
}

/** byPosition: the sightings share one stream (netscope's merged file), so their order in it means something. */
function line(who: string, o: HopOrder, byPosition: boolean): string {
  const pos = byPosition ? ` ${o.streamInversions} (by position in the file)` : '';
  return `  ${who.padEnd(9)} echoes on all 4 hops ${String(o.complete).padStart(5)}, hop pairs ${o.pairs}, out of order ${o.inversions} (by timestamp)${pos}, median hop delta ${(o.medianDeltaNs / 1000).toFixed(1)} µs\n`;
}

export async function run(): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    process.stdout.write('hops bench needs root (namespaces, CAP_NET_RAW): skipped\n');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-bench-hops-'));
  let lab: HopLab | null = null;
  try {
    lab = await buildHopLab(PREFIX, '10.244.78');
    process.stdout.write(`${ECHOES} echo requests at 200/s, pod A → pod B across a bridge; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    const nsFile = path.join(dir, 'netscope.pcapng');
    const tdFiles = lab.hops.map((_, i) => path.join(dir, `tcpdump-${i}.pcap`));
    const netscope = await startNetscope(lab, nsFile);
    const nsDone = new Promise<void>((r) => netscope.on('close', () => r()));
    const points: Array<[string, string]> = [
      [lab.podA, 'eth0'],
      [lab.node, lab.vethA],
      [lab.node, lab.vethB],
      [lab.podB, 'eth0'],
    ];
    const tcpdumps = await Promise.all(points.map(([ns, ifc], i) => startTcpdump(ns, ifc, tdFiles[i], 'icmp')));
    spawnSync('ip', ['netns', 'exec', lab.podA, 'ping', '-q', '-c', String(ECHOES), '-i', '0.005', lab.ipB]);
    await Promise.all(tcpdumps.map(stopTcpdump));
    netscope.kill('SIGINT');
    await nsDone;
    const ns = new EchoSightings();
    read(nsFile, ns, (iface) => lab!.labels.indexOf(iface ?? ''));
    // tcpdump: one file per hop; positions are per file, so only the timestamp order is meaningful.
    const td = new EchoSightings();
    tdFiles.forEach((f, i) => read(f, td, () => i));
    const a = hopOrder(ns, 4);
    const b = hopOrder(td, 4);
    process.stdout.write(line('netscope', a, true) + line('tcpdump', b, false));
    process.stdout.write(`  median hop delta: netscope − tcpdump = ${((a.medianDeltaNs - b.medianDeltaNs) / 1000).toFixed(1)} µs (limit ±10 µs: ${Math.abs(a.medianDeltaNs - b.medianDeltaNs) <= 10_000 ? 'met' : 'NOT met'}); inversions: ${a.inversions + a.streamInversions === 0 ? 'none' : 'SOME'}\n`);
  } finally {
    if (lab) await destroyHopLab(lab);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
