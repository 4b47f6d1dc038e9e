/**
 * `npm run bench -- capture`: floods a veth pair inside a scratch namespace and captures on the receiving end
 * with netscope (LiveCapture, agent + merge path) and tcpdump at the same time; prints both counts and the
 * ratio. The generator is `netscope replay --loop 0` (pcap_inject in a tight loop in an agent) with small UDP
 * frames: at a fixed 100k frames/s and at top speed; tcpdump gets a 32 MiB kernel ring, netscope 32 (its
 * default) and 128 MiB. Also the capture agent's CPU time per packet.
 */
import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { LiveCapture } from '../capture/live';
import { Replay, ReplayOptions } from '../capture/replay';
import { ether, ipv4, udp } from '../decode/craft';
import { run as runCommand } from '../host/run';
import { PcapWriter } from '../pcap/writer';

const NS = 'nsbench-cp';
const TX = 'nsbcp-tx';
const RX = 'nsbcp-rx';
const RING_KIB = 32 * 1024;

async function setup(): Promise<void> {
  await runCommand(['ip', 'netns', 'del', NS]).catch(() => undefined);
  await runCommand(['ip', 'netns', 'add', NS]);
  await runCommand(['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { netns: NS });
  await runCommand(['ip', 'link', 'add', TX, 'type', 'veth', 'peer', 'name', RX], { netns: NS });
  await runCommand(['ip', 'link', 'set', TX, 'up'], { netns: NS });
  await runCommand(['ip', 'link', 'set', RX, 'up'], { netns: NS });
}

/** 16 small UDP frames (60 bytes on the wire) for the generator to loop over; also used by the agent bench. */
export async function writeFrames(file: string): Promise<void> {
  const w = new PcapWriter(fs.createWriteStream(file), { linktype: 1 });
  for (let i = 0; i < 16; i++) {
    const f = ether('02:00:00:00:0b:0b', '02:00:00:00:0a:0a', 0x0800, ipv4({ src: '10.244.9.1', dst: '10.244.9.2', proto: 17, id: i }, udp(5000 + i, 6000, Buffer.alloc(18, i))));
    w.write({ buf: f, offset: 0, caplen: f.length, len: f.length, tsSec: 0, tsNsec: i, linktype: 1, ifIndex: 0, iface: undefined });
  }
  await w.close();
}

/** Runs tcpdump on RX; resolves its "N packets captured / M dropped by kernel" after SIGINT. */
function startTcpdump(): { child: ChildProcess; ready: Promise<void>; result: Promise<{ captured: number; kernelDrops: number }> } {
  const child = spawn('ip', ['netns', 'exec', NS, 'tcpdump', '-i', RX, '-n', '-B', String(RING_KIB), '-w', '/dev/null', 'udp'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
    if (err.includes('listening on')) onReady();
  });
  const result = new Promise<{ captured: number; kernelDrops: number }>((resolve) =>
    child.on('close', () => {
      const cap = /(\d+) packets? captured/.exec(err);
      const drop = /(\d+) packets? dropped by kernel/.exec(err);
      resolve({ captured: cap ? Number(cap[1]) : -1, kernelDrops: drop ? Number(drop[1]) : -1 });
    }),
  );
  return { child, ready, result };
}

/** CPU seconds (user + system) used so far by every capture agent process of this benchmark. */
function agentCpuSeconds(): number {
  const tick = 100; // USER_HZ on Linux
  let total = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('capture/agent.js')) continue;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) / tick;
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

async function round(label: string, fixture: string, opts: ReplayOptions, netscopeRingMiB: number): Promise<void> {
  const capture = new LiveCapture([{ iface: RX, netns: NS }], { filter: 'udp', ringBytes: netscopeRingMiB * 1024 * 1024 });
  let netscopeCount = 0;
  capture.on('record', () => {
    netscopeCount++;
  });
  await capture.start();
  const td = startTcpdump();
  await td.ready;
  await new Promise((r) => setTimeout(r, 300));
  const cpu0 = agentCpuSeconds();
  const result = await new Replay(fixture, { iface: TX, netns: NS }, opts).run();
  await new Promise((r) => setTimeout(r, 500)); // let both drain their rings
  const agentCpu = agentCpuSeconds() - cpu0;
  await capture.stop();
  td.child.kill('SIGINT');
  const tcpdump = await td.result;
  const stats = capture.stats()[0];
  const rate = Math.round((result.sent * 1000) / Math.max(1, result.elapsedMs));
  const lostNs = result.sent - netscopeCount;
  const lostTd = result.sent - tcpdump.captured;
  process.stdout.write(
    `${label}, netscope ring ${netscopeRingMiB} MiB, tcpdump ring ${RING_KIB / 1024} MiB:\n` +
      `  generator sent ${result.sent} frames in ${result.elapsedMs} ms = ${rate} frames/s (${result.failed} send failures)\n` +
      `  netscope captured ${netscopeCount} (lost ${lostNs}, ${((100 * lostNs) / result.sent).toFixed(2)}%; "dropped by kernel" ${stats.kernelDropped ?? '?'}, interface rx_dropped +${stats.ifaceDrops ?? '?'})\n` +
      `  tcpdump  captured ${tcpdump.captured} (lost ${lostTd}, ${((100 * lostTd) / result.sent).toFixed(2)}%; "dropped by kernel" ${tcpdump.kernelDrops})\n` +
      `  capture agent CPU ${agentCpu.toFixed(2)} s = ${((agentCpu * 1e9) / Math.max(1, netscopeCount)).toFixed(0)} ns per captured packet\n` +
      `  ratio netscope/tcpdump captured: ${(netscopeCount / Math.max(1, tcpdump.captured)).toFixed(3)}\n`,
  );
}

export async function run(): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    process.stdout.write('capture bench needs root (namespaces, CAP_NET_RAW): skipped\n');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-bench-cp-'));
  const fixture = path.join(dir, 'udp60.pcap');
  try {
    await setup();
    await writeFrames(fixture);
    process.stdout.write(`veth ${TX} -> ${RX} in namespace ${NS}, 60-byte UDP frames, ${os.cpus().length} CPUs\n`);
    process.stdout.write(`load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    // Both use libpcap's TPACKET_V3 ring (small frames packed into blocks). The cap engine this replaced
    // measured, on this bench: 3.2–4.8 µs of agent CPU per packet and 0.4–0.7% loss where tcpdump lost none.
    for (const ring of (process.env.BENCH_RINGS ?? '32,128').split(',').map(Number)) {
      await round('100k frames/s', fixture, { pps: 100_000, count: 300_000, loops: 0 }, ring);
      await round('top speed', fixture, { topSpeed: true, count: 2_000_000, loops: 0 }, ring);
    }
  } finally {
    await runCommand(['ip', 'netns', 'del', NS]).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
