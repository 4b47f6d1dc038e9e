/**
 * `npm run bench -- flows`:
 *  1. Throughput: a generated 1M-packet pcap with ~100k flows (TCP/UDP/ICMP echo) read through
 *     readCapture + decodeRecord + FlowTable.add, against `tcpdump -r F -w /dev/null` on the same file
 *     (wall time, best of 3 each, same run). Also reader+decoder alone, to show what the flow table costs.
 *  2. Memory: 1M distinct flows held in one FlowTable, in a fresh child process, RSS before and after.
 * Files go to a temp directory that is removed afterwards.
 */
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { FlowTable } from '../analysis/flows';
import { decodeRecord } from '../decode/decode';
import { PacketView } from '../decode/view';
import { openCaptureInput, readCapture } from '../pcap/reader';

const PACKETS = 1_000_000;
const FLOWS = 100_000;
const MEM_FLOWS = 1_000_000;

/**
 * Writes a classic pcap of `packets` Ethernet/IPv4 frames over `flows` flows (6 in 10 TCP, 3 UDP, 1 ICMP echo).
 * distinct: packet i is flow i. Otherwise flows are picked uniformly at random, one packet at a time
 * (burst = 1: the worst case for any cache), or in runs of 1..2×burst-1 packets (trains, as TCP sends them).
 */
export function generate(file: string, packets: number, flows: number, distinct: boolean, burst = 1): void {
  const fd = fs.openSync(file, 'w');
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(65535, 16);
  hdr.writeUInt32LE(1, 20);
  fs.writeSync(fd, hdr);
  const chunkPkts = 65536;
  const maxFrame = 14 + 20 + 20 + 64;
  const chunk = Buffer.alloc(chunkPkts * (16 + maxFrame));
  let seed = 0x2545f491;
  let t = 1_700_000_000 * 1e6;
  let run = 0;
  let runs = 0;
  let cur = 0;
  for (let done = 0; done < packets; ) {
    let o = 0;
    const n = Math.min(chunkPkts, packets - done);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      if (run === 0) {
        // Runs visit flows in a scrambled order that still reaches every flow.
        cur = burst <= 1 ? seed % flows : (Math.imul(runs++, 40503) >>> 0) % flows;
        run = burst <= 1 ? 1 : 1 + ((seed >>> 7) % (2 * burst - 1));
      }
      run--;
      const f = distinct ? done + i : cur;
      const kind = f % 10; // 6 TCP, 3 UDP, 1 ICMP echo
      const reverse = (seed >>> 20) & 1;
      const payload = (seed >>> 8) & 63;
      const l4 = kind < 6 ? 20 : 8;
      const frame = 14 + 20 + l4 + payload;
      t += 1;
      chunk.writeUInt32LE(Math.floor(t / 1e6), o);
      chunk.writeUInt32LE(t % 1e6, o + 4);
      chunk.writeUInt32LE(frame, o + 8);
      chunk.writeUInt32LE(frame, o + 12);
      const e = o + 16;
      chunk.fill(0, e, e + frame);
      chunk[e] = 2;
      chunk[e + 5] = 1 + reverse;
      chunk[e + 6] = 2;
      chunk[e + 11] = 2 - reverse;
      chunk[e + 12] = 0x08;
      const ip = e + 14;
      chunk[ip] = 0x45;
      chunk.writeUInt16BE(frame - 14, ip + 2);
      chunk[ip + 8] = 64;
      chunk[ip + 9] = kind < 6 ? 6 : kind < 9 ? 17 : 1;
      // Client 10.244.x.y (flow id low 16 bits), server 10.42.x.y (next bits): distinct flows up to 2^32.
      const client = (0x0af40000 | (f & 0xffff)) >>> 0;
      const server = (0x0a2a0000 | ((f >>> 16) & 0xffff)) >>> 0;
      chunk.writeUInt32BE(reverse ? server : client, ip + 12);
      chunk.writeUInt32BE(reverse ? client : server, ip + 16);
      const l = ip + 20;
      const cport = 10000 + (f % 50000);
      const sport = kind < 6 ? 443 : 53;
      if (kind === 9) {
        chunk[l] = reverse ? 0 : 8;
        chunk.writeUInt16BE(f & 0xffff, l + 4);
        chunk.writeUInt16BE(seed & 0xffff, l + 6);
      } else {
        chunk.writeUInt16BE(reverse ? sport : cport, l);
        chunk.writeUInt16BE(reverse ? cport : sport, l + 2);
        if (kind < 6) {
          chunk[l + 12] = 0x50;
          chunk[l + 13] = 0x10;
        } else {
          chunk.writeUInt16BE(8 + payload, l + 4);
        }
      }
      o += 16 + frame;
    }
    fs.writeSync(fd, chunk, 0, o);
    done += n;
  }
  fs.closeSync(fd);
}

function tcpdumpRead(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('tcpdump', ['-r', file, '-w', '/dev/null'], { stdio: ['ignore', 'ignore', 'ignore'] });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`tcpdump exited ${code}`));
      else resolve(Number(process.hrtime.bigint() - t0) / 1e6);
    });
  });
}

async function ours(file: string, withFlows: boolean): Promise<{ ms: number; flows: number; packets: number }> {
  const view = new PacketView();
  const table = new FlowTable({ idleTimeoutSec: Infinity });
  let packets = 0;
  const t0 = process.hrtime.bigint();
  await readCapture(
    openCaptureInput(file),
    withFlows
      ? (rec) => {
          decodeRecord(view, rec);
          table.add(view, rec);
        }
      : (rec) => {
          decodeRecord(view, rec);
          packets++;
        },
  );
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, flows: table.size, packets: withFlows ? table.counters().packets : packets };
}

const mpps = (n: number, ms: number): string => `${(n / ms / 1000).toFixed(2)} Mpps`;

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

async function compare(file: string, label: string): Promise<void> {
  console.log(`input (${label}): ${PACKETS} packets over ${FLOWS} flows, ${(fs.statSync(file).size / 1e6).toFixed(1)} MB`);
  await ours(file, true); // warm-up (JIT, page cache)
  await tcpdumpRead(file);
  const mine: number[] = [];
  const decodeOnly: number[] = [];
  const theirs: number[] = [];
  let flows = 0;
  for (let i = 0; i < 3; i++) {
    const r = await ours(file, true);
    flows = r.flows;
    mine.push(r.ms);
    decodeOnly.push((await ours(file, false)).ms);
    theirs.push(await tcpdumpRead(file));
  }
  const o = Math.min(...mine);
  const d = Math.min(...decodeOnly);
  const t = Math.min(...theirs);
  console.log(`  read+decode+FlowTable: ${o.toFixed(0)} ms  ${mpps(PACKETS, o)}  (${flows} flows)`);
  console.log(`  read+decode only:      ${d.toFixed(0)} ms  ${mpps(PACKETS, d)}`);
  console.log(`  tcpdump -r F -w /dev/null: ${t.toFixed(0)} ms  ${mpps(PACKETS, t)}`);
  console.log(`  ratio flows / tcpdump: ${(o / t).toFixed(2)}  (target ≤ 1.0, limit 2.0)`);
}

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-bench-flows-'));
  try {
    const file = path.join(dir, 'flows.pcap');
    generate(file, PACKETS, FLOWS, false, 8);
    await compare(file, 'trains of 1-15 packets per flow');
    generate(file, PACKETS, FLOWS, false, 1);
    await compare(file, 'every packet a random flow: worst case');
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
