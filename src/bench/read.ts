/**
 * `npm run bench -- read`: `netscope read` against tcpdump on the same generated file, in the same run.
 *
 *  1. `netscope read F --summary`   vs `tcpdump -r F -w /dev/null`   (read + decode + count vs read + copy; target ≤ 1.5×)
 *  2. `netscope read F > /dev/null` vs `tcpdump -nn -r F > /dev/null` (full text output; target netscope ≥ 3× faster)
 *  3. `netscope read F --json > /dev/null` (no tcpdump equivalent; for reference)
 *
 * The input is a 1,000,000-packet classic pcap (override: BENCH_READ_PACKETS) written to a temp dir and removed
 * afterwards: TCP (SYN/ACK/data of varied sizes), UDP, ICMP echo and errors, ARP, VXLAN-encapsulated ICMP, IPv6,
 * a few GSO super-frames. Each command runs 3 times; the best wall time counts (the file is in the page cache).
 */
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { arp, ether, icmp6, icmpEcho, icmpError, ipv4, ipv6, tcp, udp, vxlan } from '../decode/craft';

const MAC_A = '02:00:00:00:aa:01';
const MAC_B = '02:00:00:00:aa:02';

function payload(n: number): Buffer {
  return Buffer.alloc(n, 0x5a);
}

/** A few hundred distinct frames; the file cycles through them with a stride so neighbours differ. */
function templates(): Buffer[] {
  const t: Buffer[] = [];
  const ip = (src: string, dst: string, proto: number, body: Buffer, id: number): Buffer =>
    ether(MAC_B, MAC_A, 0x0800, ipv4({ src, dst, proto, id, df: true }, body));
  for (let f = 0; f < 40; f++) {
    const a = `10.244.${1 + (f % 4)}.${10 + f}`;
    const b = `10.244.9.${1 + (f % 7)}`;
    const sport = 30000 + f * 17;
    const dport = [80, 443, 8080, 6443, 53][f % 5];
    // TCP: data sizes from pure ACKs to full segments (TCP dominates real traffic: 5 of every 10 frames).
    t.push(ip(a, b, 6, tcp({ sport, dport, seq: f * 1000, flags: 'S' }), f));
    t.push(ip(b, a, 6, tcp({ sport: dport, dport: sport, seq: 7, ack: f * 1000 + 1, flags: 'SA' }), f + 1));
    t.push(ip(a, b, 6, tcp({ sport, dport, seq: f * 1000 + 1, ack: 8, flags: 'A' }), f + 2));
    t.push(ip(a, b, 6, tcp({ sport, dport, seq: f * 1000 + 1, ack: 8, flags: 'PA' }, payload(100 + f * 9)), f + 3));
    t.push(ip(b, a, 6, tcp({ sport: dport, dport: sport, seq: 8, ack: f * 1000 + 1, flags: 'PA' }, payload(1448)), f + 4));
    // UDP (2 of 10): DNS-sized and larger.
    t.push(ip(a, b, 17, udp(40000 + f, 53, payload(40 + f)), f + 5));
    t.push(ip(b, a, 17, udp(53, 40000 + f, payload(200 + f * 20)), f + 6));
    // ICMP echo (1 of 10), ARP (1 of 10 over the set), VXLAN with an inner echo (1 of 10).
    t.push(ip(a, b, 1, icmpEcho(f % 2 === 0 ? 8 : 0, 100 + f, f), f + 7));
    t.push(ether('ff:ff:ff:ff:ff:ff', MAC_A, 0x0806, arp(f % 2 === 0 ? 1 : 2, MAC_A, a, '00:00:00:00:00:00', b)));
    const inner = ether(MAC_B, MAC_A, 0x0800, ipv4({ src: a, dst: b, proto: 1, id: f }, icmpEcho(8, 7, f)));
    t.push(ip(`10.42.0.${1 + (f % 3)}`, '10.42.0.9', 17, udp(50000 + f, 4789, vxlan(42 + (f % 3), inner)), f + 8));
  }
  // Rarer kinds: ICMP errors quoting UDP, IPv6 echo, GSO super-frames.
  const quoted = ipv4({ src: '10.244.1.10', dst: '10.244.9.1', proto: 17 }, udp(40000, 33434, payload(0))).subarray(0, 28);
  t.push(ip('10.244.9.1', '10.244.1.10', 1, icmpError(3, 3, quoted), 9));
  t.push(ether(MAC_B, MAC_A, 0x86dd, ipv6({ src: 'fe80::1', dst: 'fe80::2', next: 58 }, icmp6('fe80::1', 'fe80::2', 128, 0, payload(60)))));
  t.push(ip('10.244.1.10', '10.244.9.1', 6, tcp({ sport: 41000, dport: 5001, seq: 1, ack: 1, flags: 'A' }, payload(32000)), 10));
  return t;
}

/** Writes an n-packet little-endian microsecond pcap; returns its size in bytes. */
export function writeBenchFile(file: string, n: number): number {
  const t = templates();
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.allocUnsafe(8 << 20);
  chunk.writeUInt32LE(0xa1b2c3d4, 0);
  chunk.writeUInt16LE(2, 4);
  chunk.writeUInt16LE(4, 6);
  chunk.writeUInt32LE(0, 8);
  chunk.writeUInt32LE(0, 12);
  chunk.writeUInt32LE(262144, 16);
  chunk.writeUInt32LE(1, 20);
  let used = 24;
  let total = 0;
  const stride = 7; // coprime with the template count below, so every template is used equally
  let k = 0;
  for (let i = 0; i < n; i++) {
    k = (k + stride) % t.length;
    // The GSO super-frames (last template) only once per ~5000 packets.
    const frame = k === t.length - 1 && i % 5000 !== 0 ? t[0] : t[k];
    if (used + 16 + frame.length > chunk.length) {
      fs.writeSync(fd, chunk, 0, used);
      total += used;
      used = 0;
    }
    const usec = i * 10; // 100,000 packets per second
    chunk.writeUInt32LE(1795848999 + Math.floor(usec / 1e6), used);
    chunk.writeUInt32LE(usec % 1e6, used + 4);
    chunk.writeUInt32LE(frame.length, used + 8);
    chunk.writeUInt32LE(frame.length, used + 12);
    frame.copy(chunk, used + 16);
    used += 16 + frame.length;
  }
  fs.writeSync(fd, chunk, 0, used);
  total += used;
  fs.closeSync(fd);
  return total;
}

interface Timing {
  wallMs: number;
  /** user + system CPU of the command, when /usr/bin/time is there to measure it. */
  cpuMs: number | undefined;
}

const GNU_TIME = '/usr/bin/time';
const haveGnuTime = fs.existsSync(GNU_TIME);

/**
 * Runs argv with stdout to /dev/null (argv array, no shell) and measures wall time, plus CPU time through
 * GNU time: on a shared machine the wall clock also measures everyone else's load.
 */
function timeCommand(argv: string[], env: NodeJS.ProcessEnv, cpuFile: string): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const devnull = fs.openSync('/dev/null', 'w');
    const full = haveGnuTime ? [GNU_TIME, '-f', '%U %S', '-o', cpuFile, ...argv] : argv;
    const t0 = process.hrtime.bigint();
    let stderr = '';
    const child = spawn(full[0], full.slice(1), { stdio: ['ignore', devnull, 'pipe'], env });
    fs.closeSync(devnull);
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      // tcpdump prints "reading from file …" on stderr; only the exit code says whether it worked.
      if (code !== 0) return reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr.trim().slice(0, 300)}`));
      let cpuMs: number | undefined;
      if (haveGnuTime) {
        const [u, sy] = fs.readFileSync(cpuFile, 'utf8').trim().split(/\s+/).map(Number);
        cpuMs = (u + sy) * 1000;
      }
      resolve({ wallMs, cpuMs });
    });
  });
}

/** Best of `runs` (lowest wall, lowest CPU, each on its own). */
async function best(argv: string[], env: NodeJS.ProcessEnv, cpuFile: string, runs = 3): Promise<Timing> {
  let wallMs = Infinity;
  let cpuMs: number | undefined;
  for (let i = 0; i < runs; i++) {
    const t = await timeCommand(argv, env, cpuFile);
    wallMs = Math.min(wallMs, t.wallMs);
    if (t.cpuMs !== undefined) cpuMs = Math.min(cpuMs ?? Infinity, t.cpuMs);
  }
  return { wallMs, cpuMs };
}

function mpps(packets: number, ms: number): string {
  return `${(packets / (ms / 1000) / 1e6).toFixed(2)} Mpps`;
}

export async function run(): Promise<void> {
  const n = Number(process.env.BENCH_READ_PACKETS ?? 1_000_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-bench-read-'));
  const file = path.join(dir, 'mixed.pcap');
  const tiny = path.join(dir, 'tiny.pcap');
  const cpuFile = path.join(dir, 'cpu');
  const cli = path.join(__dirname, '..', '..', 'bin', 'netscope');
  const readModule = path.join(__dirname, '..', 'cli', 'commands', 'read.js');
  const node = process.execPath;
  // The read command without the CLI around it (yargs loads every command module at startup).
  const direct = (args: string): string[] => [node, '-e', `require(${JSON.stringify(readModule)}).handler(${args})`];
  try {
    const t0 = Date.now();
    const bytes = writeBenchFile(file, n);
    writeBenchFile(tiny, 1);
    process.stdout.write(`input: ${n} packets, ${(bytes / 1e6).toFixed(1)} MB (generated in ${Date.now() - t0} ms)\n`);
    process.stdout.write(`timings: best of 3, wall${haveGnuTime ? ' and CPU (user+sys, GNU time)' : ' only (install GNU time for CPU)'}\n`);
    const env = process.env;
    const utc = { ...process.env, TZ: 'UTC' };
    const header = `  ${'command'.padEnd(52)} ${'wall ms'.padStart(8)} ${'rate'.padStart(11)} ${'CPU ms'.padStart(8)}\n`;
    const row = (label: string, t: Timing, packets = n): void => {
      const cpu = t.cpuMs === undefined ? '' : t.cpuMs.toFixed(0).padStart(8);
      process.stdout.write(`  ${label.padEnd(52)} ${t.wallMs.toFixed(0).padStart(8)} ${mpps(packets, t.wallMs).padStart(11)} ${cpu}\n`);
    };
    const ratio = (label: string, a: Timing, b: Timing): void => {
      const cpu = a.cpuMs !== undefined && b.cpuMs !== undefined ? `, CPU ${(a.cpuMs / b.cpuMs).toFixed(2)}×` : '';
      process.stdout.write(`  → ${label}: wall ${(a.wallMs / b.wallMs).toFixed(2)}×${cpu}\n`);
    };

    process.stdout.write(header);
    const startup = await best([node, cli, 'read', tiny, '--summary'], env, cpuFile);
    row('netscope read TINY --summary (CLI startup)', startup, 1);

    const sumNs = await best([node, cli, 'read', file, '--summary'], env, cpuFile);
    const sumDirect = await best(direct(`{file:${JSON.stringify(file)},summary:true}`), env, cpuFile);
    const sumTd = await best(['tcpdump', '-r', file, '-w', '/dev/null'], env, cpuFile);
    row('netscope read F --summary', sumNs);
    row('  (read command module only, no CLI startup)', sumDirect);
    row('tcpdump -r F -w /dev/null', sumTd);
    ratio('netscope/tcpdump (target ≤ 1.5×)', sumNs, sumTd);
    ratio('without CLI startup', sumDirect, sumTd);

    for (const [label, e] of [['TZ as set', env], ['TZ=UTC', utc]] as const) {
      const txtNs = await best([node, cli, 'read', file], e, cpuFile);
      const txtDirect = await best(direct(`{file:${JSON.stringify(file)}}`), e, cpuFile);
      const txtTd = await best(['tcpdump', '-nn', '-r', file], e, cpuFile);
      row(`netscope read F > /dev/null (${label})`, txtNs);
      row('  (read command module only, no CLI startup)', txtDirect);
      row(`tcpdump -nn -r F > /dev/null (${label})`, txtTd);
      ratio('tcpdump/netscope speedup (target ≥ 3×)', txtTd, txtNs);
      ratio('without CLI startup', txtTd, txtDirect);
    }
    row('netscope read F --json > /dev/null', await best([node, cli, 'read', file, '--json'], env, cpuFile));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
