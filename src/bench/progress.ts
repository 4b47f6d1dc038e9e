/**
 * `npm run bench -- progress`: what the progress line costs `netscope read FILE --summary` on the 1M-packet
 * input of the read bench, with stderr a terminal (script(1) gives the run a pseudo-terminal; stdout goes to
 * /dev/null). Runs alternate (progress on, --no-progress, tcpdump -r for scale); CPU is user+sys of the command
 * as /usr/bin/time reports it (10 ms resolution).
 */
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { writeBenchFile } from './read';

interface Timed {
  wall: number;
  cpu: number;
}

function quote(a: string): string {
  return `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Runs `argv` under a pty with stdout to /dev/null; returns wall and CPU seconds from /usr/bin/time. */
function timedInPty(argv: string[]): Promise<Timed> {
  const line = `/usr/bin/time -f 'TIMED %e %U %S' ${argv.map(quote).join(' ')} > /dev/null`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', line, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /TIMED ([\d.]+) ([\d.]+) ([\d.]+)/.exec(out);
      if (code !== 0 || m === null) return reject(new Error(`${argv.join(' ')}: exit ${code}: ${out.slice(-300)}`));
      resolve({ wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]) });
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(): Promise<void> {
  const n = Number(process.env.BENCH_READ_PACKETS ?? 1_000_000);
  const runs = Math.max(3, Number(process.env.BENCH_PROGRESS_RUNS ?? 7) || 7);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-bench-progress-'));
  const file = path.join(dir, 'mixed.pcap');
  const cli = path.join(__dirname, '..', '..', 'bin', 'netscope');
  const out = (s: string): boolean => process.stdout.write(s + '\n');
  try {
    const bytes = writeBenchFile(file, n);
    out(`progress: read --summary of ${n} packets (${(bytes / 1e6).toFixed(0)} MB), stderr a pty, ${runs} alternating runs, load ${os.loadavg()[0].toFixed(2)}`);
    const on: Timed[] = [];
    const off: Timed[] = [];
    const tcpdump: Timed[] = [];
    for (let i = 0; i < runs; i++) {
      on.push(await timedInPty([process.execPath, cli, 'read', file, '--summary']));
      off.push(await timedInPty([process.execPath, cli, 'read', file, '--summary', '--no-progress']));
      tcpdump.push(await timedInPty(['tcpdump', '-r', file, '-w', '/dev/null']));
    }
    const row = (name: string, t: Timed[]): string =>
      `  ${name.padEnd(28)} wall median ${median(t.map((x) => x.wall)).toFixed(2)} s, CPU median ${median(t.map((x) => x.cpu)).toFixed(2)} s (min ${Math.min(...t.map((x) => x.cpu)).toFixed(2)})`;
    out(row('netscope (progress)', on));
    out(row('netscope --no-progress', off));
    out(row('tcpdump -r F -w /dev/null', tcpdump));
    const cpuOn = median(on.map((x) => x.cpu));
    const cpuOff = median(off.map((x) => x.cpu));
    out(`  progress costs ${(((cpuOn - cpuOff) / cpuOff) * 100).toFixed(1)}% CPU (median vs median; noise on a shared machine is larger than that)`);
    out(`  netscope/tcpdump CPU ratio: ${(cpuOff / median(tcpdump.map((x) => x.cpu))).toFixed(2)} (no progress), ${(cpuOn / median(tcpdump.map((x) => x.cpu))).toFixed(2)} (progress)`);
    out(`  load after: ${os.loadavg()[0].toFixed(2)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
