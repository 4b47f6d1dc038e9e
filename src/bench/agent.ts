/**
 * `npm run bench -- agent`: the node agent under a 100k frames/s flood on a lab bridge, for a soak of
 * NETSCOPE_AGENT_SOAK_SEC seconds (default 600) after 10 s of warm-up; a machine that cannot keep the rate
 * sends fewer frames (the achieved rate is printed). NETSCOPE_AGENT_PPS and NETSCOPE_AGENT_RING_MB (default 32, the agent's
 * default) change the rate and the capture ring. A scratch namespace holds bridge br0 with two veth ports;
 * `netscope replay --pps 100000` sends 60-byte UDP frames into one port (flooded over the bridge); the agent
 * follows the namespace and captures br0 (--capture-iface ^br0$); tcpdump captures br0 at the same time for
 * the ratio. Every 10 s: CPU of the agent process and of its capture processes, RSS of both, and the time a
 * /metrics scrape takes. Prints RSS at start (after 10 s of flood) and end, CPU, scrape times, and counts.
 */
import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import http from 'http';
import os from 'os';
import path from 'path';
import { Replay } from '../capture/replay';
import { run as runCommand } from '../host/run';
import { writeFrames } from './capture';

const NS = 'nsbench-ag';
const BIN = path.join(__dirname, '..', '..', 'bin', 'netscope');
const CLK = 100; // USER_HZ

async function setup(): Promise<void> {
  await runCommand(['ip', 'netns', 'del', NS]).catch(() => undefined);
  await runCommand(['ip', 'netns', 'add', NS]);
  const inNs = (args: string[]): Promise<unknown> => runCommand(args, { netns: NS });
  await inNs(['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  await inNs(['ip', 'link', 'add', 'br0', 'type', 'bridge']);
  for (const [a, b] of [['tx0', 'txp'], ['rx0', 'rxp']]) {
    await inNs(['ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
    await inNs(['ip', 'link', 'set', b, 'master', 'br0']);
    await inNs(['ip', 'link', 'set', b, 'up']);
    await inNs(['ip', 'link', 'set', a, 'up']);
  }
  await inNs(['ip', 'link', 'set', 'br0', 'up']);
}

function get(url: string): Promise<{ ms: number; body: string }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, body }));
      })
      .on('error', reject);
  });
}

/** utime+stime (clock ticks) and RSS (KiB) of a process, or null when it is gone. */
function procStat(pid: number): { ticks: number; rssKiB: number } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return { ticks: Number(f[11]) + Number(f[12]), rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) };
  } catch {
    return null;
  }
}

/** Every descendant of pid (the capture processes the agent started). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const kids = (p: number): number[] => {
    try {
      return fs
        .readFileSync(`/proc/${p}/task/${p}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter((x) => x !== '')
        .map(Number);
    } catch {
      return [];
    }
  };
  const walk = (p: number): void => {
    for (const k of kids(p)) {
      out.push(k);
      walk(k);
    }
  };
  walk(pid);
  return out;
}

function metric(body: string, re: RegExp): number {
  const m = re.exec(body);
  return m ? Number(m[1]) : NaN;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
}

export async function run(): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    process.stdout.write('agent bench needs root (namespaces, capture): skipped\n');
    return;
  }
  const soakSec = Number(process.env.NETSCOPE_AGENT_SOAK_SEC ?? 600);
  const pps = Number(process.env.NETSCOPE_AGENT_PPS ?? 100_000);
  const ringMb = Number(process.env.NETSCOPE_AGENT_RING_MB ?? 32);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-bench-ag-'));
  const fixture = path.join(dir, 'udp60.pcap');
  let agent: ChildProcess | null = null;
  let tcpdump: ChildProcess | null = null;
  try {
    await setup();
    await writeFrames(fixture);
    process.stdout.write(`agent soak: ${pps} frames/s of 60-byte UDP into bridge br0 (namespace ${NS}), soak ${soakSec} s after 10 s warm-up, agent ring ${ringMb} MiB, ${os.cpus().length} CPUs\n`);
    process.stdout.write(`load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    agent = spawn('node', [BIN, 'agent', '--listen', '127.0.0.1:0', '--netns', NS, '--capture-iface', '^br0$', '--poll', '5', '--ring-mb', String(ringMb)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    agent.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const t0 = Date.now();
    while (!/capturing on [1-9]/.test(err)) {
      if (agent.exitCode !== null || Date.now() - t0 > 120_000) throw new Error(`agent did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const url = /listening on (http:\/\/\S+)/.exec(err)![1];
    while (!/netscope_capture_interfaces\{state="running"\} 1/.test((await get(`${url}/metrics`)).body)) {
      if (Date.now() - t0 > 120_000) throw new Error(`agent capture did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    tcpdump = spawn('ip', ['netns', 'exec', NS, 'tcpdump', '-i', 'br0', '-n', '-B', String(128 * 1024), '-w', '/dev/null', 'udp'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let tdErr = '';
    tcpdump.stderr!.on('data', (c: Buffer) => (tdErr += c.toString()));
    while (!tdErr.includes('listening on')) await new Promise((r) => setTimeout(r, 50));
    const replayer = new Replay(fixture, { iface: 'tx0', netns: NS }, { pps, count: Math.round(pps * (soakSec + 10)), loops: 0 });
    const replay = replayer.run();
    // The soak is bounded by time: a loaded machine that cannot keep the rate sends fewer frames (printed).
    const soakTimer = setTimeout(() => void replayer.stop(), (soakSec + 10) * 1000);
    const pid = agent.pid!;
    const samples: Array<{ t: number; mainTicks: number; kidTicks: number; mainRss: number; kidRss: number; scrapeMs: number; captured: number }> = [];
    const sample = async (): Promise<void> => {
      const main = procStat(pid);
      let kidTicks = 0;
      let kidRss = 0;
      for (const k of descendants(pid)) {
        const s = procStat(k);
        if (s) {
          kidTicks += s.ticks;
          kidRss += s.rssKiB;
        }
      }
      const scrape = await get(`${url}/metrics`);
      samples.push({
        t: Date.now(),
        mainTicks: main?.ticks ?? NaN,
        kidTicks,
        mainRss: main?.rssKiB ?? NaN,
        kidRss,
        scrapeMs: scrape.ms,
        captured: metric(scrape.body, /^netscope_capture_packets_total\{netns="nsbench-ag",iface="br0"[^}]*\} (\d+)/m),
      });
    };
    let done = false;
    const replayDone = replay.then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 10_000));
    while (!done) {
      await sample();
      const last = samples[samples.length - 1];
      if (samples.length % 6 === 1) {
        process.stdout.write(
          `  t=${Math.round((last.t - samples[0].t) / 1000)} s: agent RSS ${(last.mainRss / 1024).toFixed(1)} MiB, capture processes ${(last.kidRss / 1024).toFixed(1)} MiB, scrape ${last.scrapeMs.toFixed(1)} ms, captured ${last.captured}, load ${os.loadavg()[0].toFixed(1)}\n`,
        );
      }
      await Promise.race([replayDone, new Promise((r) => setTimeout(r, 10_000))]);
    }
    const result = await replayDone;
    clearTimeout(soakTimer);
    await new Promise((r) => setTimeout(r, 2000));
    await sample();
    tcpdump.kill('SIGINT');
    await new Promise((r) => tcpdump!.once('close', r));
    const tdCaptured = Number(/(\d+) packets? captured/.exec(tdErr)?.[1] ?? NaN);
    const first = samples[0];
    const last = samples[samples.length - 1];
    const secs = (last.t - first.t) / 1000;
    const cpuMain = ((last.mainTicks - first.mainTicks) / CLK / secs) * 100;
    const cpuKids = ((last.kidTicks - first.kidTicks) / CLK / secs) * 100;
    const scrapes = samples.map((s) => s.scrapeMs);
    const rate = Math.round((result.sent * 1000) / Math.max(1, result.elapsedMs));
    process.stdout.write(
      `generator sent ${result.sent} frames in ${(result.elapsedMs / 1000).toFixed(0)} s = ${rate} frames/s (${result.failed} failed)\n` +
        `agent process:     CPU ${cpuMain.toFixed(1)} % of one core; RSS ${(first.mainRss / 1024).toFixed(1)} MiB at start, ${(last.mainRss / 1024).toFixed(1)} MiB at end (max ${(Math.max(...samples.map((s) => s.mainRss)) / 1024).toFixed(1)})\n` +
        `capture processes: CPU ${cpuKids.toFixed(1)} % of one core; RSS ${(first.kidRss / 1024).toFixed(1)} MiB at start, ${(last.kidRss / 1024).toFixed(1)} MiB at end\n` +
        `/metrics scrape: median ${median(scrapes).toFixed(1)} ms, max ${Math.max(...scrapes).toFixed(1)} ms over ${scrapes.length} scrapes\n` +
        `captured: agent ${last.captured}, tcpdump ${tdCaptured}; ratio agent/tcpdump ${(last.captured / tdCaptured).toFixed(3)}\n` +
        `load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
    );
  } finally {
    tcpdump?.kill('SIGINT');
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await new Promise((r) => agent!.once('exit', r));
    }
    await runCommand(['ip', 'netns', 'del', NS]).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
