/**
 * `npm run bench -- read`: `netscope read` against tcpdump on the same generated file, in the same run.
 *
 *  1. `netscope read F --summary`   vs `tcpdump -r F -w /dev/null`   (read + decode + count vs read + copy; target ≤ 1.5× wall)
 *  2. `netscope read F > /dev/null` vs `tcpdump -nn -r F > /dev/null` (full text output; target netscope ≥ 3× faster)
 *     twice: with the time zone as the bench was started (usually TZ unset) and with TZ=UTC — glibc's localtime()
 *     re-checks /etc/localtime for every packet when TZ is unset, which is most of tcpdump's time then.
 *  3. `netscope read F --json > /dev/null` (no tcpdump equivalent; for reference)
 *
 * Fairness: both tools read the same file (in the page cache: one untimed run of each first), write to /dev/null,
 * and get the identical environment. Runs alternate between the two tools (A B A B …) so load changes on a shared
 * machine hit both alike. Reported per command: best and median wall time, packets/s at the best wall time, and
 * CPU time (user+sys of the child, from this process's cutime/cstime in /proc/self/stat, 10 ms resolution;
 * GNU time is not needed). Ratios are given for best wall, median wall and best CPU.
 *
 * The input is a 1,000,000-packet classic pcap (override: BENCH_READ_PACKETS; runs: BENCH_READ_RUNS, default 5)
 * written to a temp dir and removed afterwards: TCP (SYN/ACK/data of varied sizes, with the options Linux sends:
 * MSS/SACK/timestamps/window scale on SYNs, timestamps on every other segment), UDP, ICMP echo and errors, ARP,
 * VXLAN-encapsulated ICMP, IPv6, a few GSO super-frames.
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

/** MSS 1460, SACK permitted, timestamps, NOP, window scale 7: what a Linux SYN carries. */
function synOptions(tsval: number, tsecr: number): Buffer {
  const o = Buffer.from('020405b40402080a000000000000000001030307', 'hex');
  o.writeUInt32BE(tsval >>> 0, 8);
  o.writeUInt32BE(tsecr >>> 0, 12);
  return o;
}

/** NOP, NOP, timestamps: on every segment after the handshake. */
function tsOptions(tsval: number, tsecr: number): Buffer {
  const o = Buffer.from('0101080a0000000000000000', 'hex');
  o.writeUInt32BE(tsval >>> 0, 4);
  o.writeUInt32BE(tsecr >>> 0, 8);
  return o;
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
    // No port 53: tcpdump would dissect the filler payload as DNS, work netscope does not do (it prints no
    // application layer), so the comparison would flatter netscope.
    const dport = [80, 443, 8080, 6443, 10053][f % 5];
    const ts = 1000000 + f * 7919;
    // TCP: data sizes from pure ACKs to full segments (TCP dominates real traffic: 5 of every 10 frames).
    t.push(ip(a, b, 6, tcp({ sport, dport, seq: f * 1000, flags: 'S', options: synOptions(ts, 0) }), f));
    t.push(ip(b, a, 6, tcp({ sport: dport, dport: sport, seq: 7, ack: f * 1000 + 1, flags: 'SA', options: synOptions(ts + 3, ts) }), f + 1));
    t.push(ip(a, b, 6, tcp({ sport, dport, seq: f * 1000 + 1, ack: 8, flags: 'A', options: tsOptions(ts + 5, ts + 3) }), f + 2));
    t.push(ip(a, b, 6, tcp({ sport, dport, seq: f * 1000 + 1, ack: 8, flags: 'PA', options: tsOptions(ts + 6, ts + 3) }, payload(100 + f * 9)), f + 3));
    t.push(ip(b, a, 6, tcp({ sport: dport, dport: sport, seq: 8, ack: f * 1000 + 1, flags: 'PA', options: tsOptions(ts + 9, ts + 6) }, payload(1448)), f + 4));
    // UDP (2 of 10): DNS-sized and larger (a port without a tcpdump dissector, see above).
    t.push(ip(a, b, 17, udp(40000 + f, 10053, payload(40 + f)), f + 5));
    t.push(ip(b, a, 17, udp(10053, 40000 + f, payload(200 + f * 20)), f + 6));
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

/** One timed run. cpuMs is undefined where /proc/self/stat cannot be read (not Linux). */
interface Run {
  wallMs: number;
  cpuMs: number | undefined;
}

/** Clock ticks per second of /proc's cutime/cstime (USER_HZ, 100 on every Linux ABI). */
const USER_HZ = 100;

/**
 * CPU time (user+sys, ms) of this process's reaped children so far: cutime + cstime from /proc/self/stat.
 * A child's time is added when it is reaped, which Node does before the child's 'close' event.
 */
function childrenCpuMs(): number | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return undefined;
  }
  // Fields after "(comm) ": state is field 3, cutime field 16, cstime field 17.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cutime = Number(f[13]);
  const cstime = Number(f[14]);
  return Number.isFinite(cutime) && Number.isFinite(cstime) ? ((cutime + cstime) * 1000) / USER_HZ : undefined;
}

/** Runs argv (argv array, no shell) with stdout to /dev/null; measures wall time and the child's CPU time. */
function timeCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const devnull = fs.openSync('/dev/null', 'w');
    const cpu0 = childrenCpuMs();
    const t0 = process.hrtime.bigint();
    let stderr = '';
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', devnull, 'pipe'], env });
    fs.closeSync(devnull);
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const cpu1 = childrenCpuMs();
      // tcpdump prints "reading from file …" on stderr; only the exit code says whether it worked.
      if (code !== 0) return reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr.trim().slice(0, 300)}`));
      resolve({ wallMs, cpuMs: cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined });
    });
  });
}

interface Measured {
  label: string;
  runs: Run[];
}

const min = (xs: number[]): number => Math.min(...xs);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const walls = (m: Measured): number[] => m.runs.map((r) => r.wallMs);
const cpus = (m: Measured): number[] | undefined =>
  m.runs.every((r) => r.cpuMs !== undefined) ? m.runs.map((r) => r.cpuMs as number) : undefined;

/**
 * Runs the commands alternately (A B A B …), one untimed warm-up round first, then `runs` timed rounds,
 * so that a change in the machine's load affects every command alike.
 */
async function alternate(cmds: Array<{ label: string; argv: string[] }>, env: NodeJS.ProcessEnv, runs: number): Promise<Measured[]> {
  for (const c of cmds) await timeCommand(c.argv, env);
  const out: Measured[] = cmds.map((c) => ({ label: c.label, runs: [] }));
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < cmds.length; k++) out[k].runs.push(await timeCommand(cmds[k].argv, env));
  }
  return out;
}

function loadText(): string {
  return `load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`;
}

/** What time zone a child sees: TZ's value, or where /etc/localtime points. */
function tzText(env: NodeJS.ProcessEnv): string {
  if (env.TZ !== undefined) return `TZ=${env.TZ === '' ? '(empty)' : env.TZ}`;
  let zone = '';
  try {
    zone = fs.readlinkSync('/etc/localtime').replace(/^.*zoneinfo\//, '');
  } catch {
    zone = fs.existsSync('/etc/localtime') ? 'a copied zone file' : 'missing: UTC';
  }
  return `TZ unset (/etc/localtime: ${zone})`;
}

export async function run(): Promise<void> {
  const n = Number(process.env.BENCH_READ_PACKETS ?? 1_000_000);
  const runs = Math.max(1, Number(process.env.BENCH_READ_RUNS ?? 5) || 5);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-bench-read-'));
  const file = path.join(dir, 'mixed.pcap');
  const tiny = path.join(dir, 'tiny.pcap');
  const cli = path.join(__dirname, '..', '..', 'bin', 'netscope');
  const node = process.execPath;
  const out = (s: string): boolean => process.stdout.write(s + '\n');
  try {
    const t0 = Date.now();
    const bytes = writeBenchFile(file, n);
    writeBenchFile(tiny, 1);
    out(`input: ${n} packets, ${(bytes / 1e6).toFixed(1)} MB (generated in ${Date.now() - t0} ms)`);
    const haveCpu = childrenCpuMs() !== undefined;
    out(
      `timings: ${runs} alternating runs per command after a warm-up; best and median wall ms, rate at best wall` +
        (haveCpu ? ', CPU ms (user+sys, best and range; 10 ms resolution)' : ' (CPU: /proc/self/stat unreadable, not shown)'),
    );

    const row = (m: Measured, packets = n): void => {
      const w = walls(m);
      const c = cpus(m);
      const rate = `${(packets / (min(w) / 1000) / 1e6).toFixed(2)} Mpps`;
      const cpu = c === undefined ? '' : `${min(c).toFixed(0).padStart(6)} (${min(c).toFixed(0)}–${Math.max(...c).toFixed(0)})`;
      out(`  ${m.label.padEnd(44)} ${min(w).toFixed(0).padStart(7)} ${median(w).toFixed(0).padStart(7)} ${rate.padStart(10)} ${cpu}`);
    };
    const header = (): void => {
      out(`  ${'command'.padEnd(44)} ${'best'.padStart(7)} ${'median'.padStart(7)} ${'rate'.padStart(10)} ${haveCpu ? '   CPU (range)' : ''}`);
    };
    /** slow/fast ratios; `target` says which direction passes: 'max' = ratio ≤ goal, 'min' = ratio ≥ goal. */
    const ratio = (label: string, num: Measured, den: Measured, goal: number, kind: 'max' | 'min'): void => {
      const pass = (r: number): string => ((kind === 'max' ? r <= goal : r >= goal) ? 'meets' : 'MISSES');
      const wb = min(walls(num)) / min(walls(den));
      const wm = median(walls(num)) / median(walls(den));
      const cn = cpus(num);
      const cd = cpus(den);
      const cpu = cn !== undefined && cd !== undefined && min(cd) > 0 ? min(cn) / min(cd) : undefined;
      out(
        `  → ${label}: best wall ${wb.toFixed(2)}× (${pass(wb)} ${kind === 'max' ? '≤' : '≥'} ${goal}×), median wall ${wm.toFixed(2)}×` +
          (cpu === undefined ? '' : `, best CPU ${cpu.toFixed(2)}× (${pass(cpu)})`),
      );
    };

    const env = process.env;
    out(`\n[1] --summary vs tcpdump -w /dev/null (${tzText(env)} for both; ${loadText()})`);
    header();
    const [startup] = await alternate([{ label: 'netscope read TINY --summary (startup only)', argv: [node, cli, 'read', tiny, '--summary'] }], env, runs);
    row(startup, 1);
    const [sumNs, sumTd] = await alternate(
      [
        { label: 'netscope read F --summary', argv: [node, cli, 'read', file, '--summary'] },
        { label: 'tcpdump -r F -w /dev/null', argv: ['tcpdump', '-r', file, '-w', '/dev/null'] },
      ],
      env,
      runs,
    );
    row(sumNs);
    row(sumTd);
    ratio('netscope / tcpdump', sumNs, sumTd, 1.5, 'max');

    const zones: NodeJS.ProcessEnv[] = [env];
    if (env.TZ !== 'UTC') zones.push({ ...env, TZ: 'UTC' });
    let i = 2;
    for (const e of zones) {
      out(`\n[${i++}] text output, ${tzText(e)} for both (${loadText()})`);
      header();
      const [txtNs, txtTd] = await alternate(
        [
          { label: 'netscope read F > /dev/null', argv: [node, cli, 'read', file] },
          { label: 'tcpdump -nn -r F > /dev/null', argv: ['tcpdump', '-nn', '-r', file] },
        ],
        e,
        runs,
      );
      row(txtNs);
      row(txtTd);
      ratio('speed-up tcpdump / netscope', txtTd, txtNs, 3, 'min');
    }

    out(`\n[${i}] JSON lines, no tcpdump equivalent (${loadText()})`);
    header();
    const [json] = await alternate([{ label: 'netscope read F --json > /dev/null', argv: [node, cli, 'read', file, '--json'] }], env, Math.min(runs, 3));
    row(json);
    out(`\ndone (${loadText()})`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
