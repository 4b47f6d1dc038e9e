/**
 * Reader/writer benchmark (not part of the default `npm run bench` set: the read command has its own).
 * Run: `npm run build && node dist/bench/_pcap.js [packets]` (default 1,000,000).
 *
 * Generates a pcap with a traffic-like size mix, then measures in the same run:
 *  - framing rate of CaptureParser over the file held in memory (pcap and pcapng),
 *  - readCapture streaming the file from disk vs `tcpdump -r F -w /dev/null` (wall time, best of 3),
 *  - writer throughput.
 */
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { CaptureParser, openCaptureInput, readCapture } from '../pcap/reader';
import { PcapngWriter, PcapWriter } from '../pcap/writer';
import type { PacketRecord } from '../pcap/record';

function frameSize(i: number): number {
  // Half small (ACKs, DNS), a third full-size, the rest in between; every 1000th a GSO super-frame.
  if (i % 1000 === 999) return 65226;
  const k = (i * 2654435761) % 100;
  if (k < 50) return 66;
  if (k < 83) return 1514;
  return 100 + ((i * 7919) % 500);
}

async function writeFile(file: string, n: number, pcapng: boolean): Promise<{ ms: number; bytes: number }> {
  const buf = Buffer.alloc(65536);
  for (let j = 0; j < buf.length; j++) buf[j] = (j * 31) & 0xff;
  const rec: PacketRecord = { buf, offset: 0, caplen: 0, len: 0, tsSec: 1795848999, tsNsec: 0, linktype: 1, ifIndex: 0, iface: undefined };
  const out = fs.createWriteStream(file);
  const t0 = process.hrtime.bigint();
  const w = pcapng ? new PcapngWriter(out) : new PcapWriter(out, { linktype: 1, nanosecond: true });
  const ifId = w instanceof PcapngWriter ? w.addInterface('bench0', 1) : 0;
  for (let i = 0; i < n; i++) {
    rec.caplen = rec.len = frameSize(i);
    rec.tsSec = 1795848999 + Math.floor(i / 100000);
    rec.tsNsec = (i % 100000) * 10000 + (i % 7);
    if (w instanceof PcapngWriter) w.write(ifId, rec);
    else w.write(rec);
    if (w.congested) await w.waitForDrain();
  }
  await w.close();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: fs.statSync(file).size };
}

function frameInMemory(data: Buffer): { ms: number; records: number; bytes: number } {
  let bytes = 0;
  const p = new CaptureParser((r) => {
    bytes += r.caplen;
  });
  const t0 = process.hrtime.bigint();
  // 1 MiB slices, as a file stream delivers them, so chunk-spanning records are part of the measurement.
  for (let off = 0; off < data.length; off += 1 << 20) p.push(data.subarray(off, off + (1 << 20)));
  const err = p.end();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (err) throw new Error(`bench file unreadable: ${err.message}`);
  return { ms, records: p.records, bytes };
}

async function readFromDisk(file: string): Promise<{ ms: number; records: number }> {
  let sum = 0;
  const t0 = process.hrtime.bigint();
  const res = await readCapture(openCaptureInput(file), (r) => {
    sum += r.caplen;
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (res.error || sum === 0) throw new Error(`bench read failed: ${res.error?.message}`);
  return { ms, records: res.records };
}

function tcpdumpRead(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('tcpdump', ['-r', file, '-w', '/dev/null'], { stdio: ['ignore', 'ignore', 'ignore'] });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`tcpdump exited ${code}`));
      else resolve(Number(process.hrtime.bigint() - t0) / 1e6);
    });
  });
}

const best = (xs: number[]): number => Math.min(...xs);
const mpps = (records: number, ms: number): string => `${(records / ms / 1000).toFixed(2)} M records/s`;

export async function run(packets = 1_000_000): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-bench-pcap-'));
  try {
    const pcap = path.join(dir, 'bench.pcap');
    const pcapng = path.join(dir, 'bench.pcapng');
    const wp = await writeFile(pcap, packets, false);
    const wn = await writeFile(pcapng, packets, true);
    const mb = (b: number): string => `${(b / 1048576).toFixed(0)} MiB`;
    console.log(`generated ${packets} packets: pcap ${mb(wp.bytes)}, pcapng ${mb(wn.bytes)} (load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs)`);
    console.log(`write pcap   : ${wp.ms.toFixed(0)} ms  ${mpps(packets, wp.ms)}  ${(wp.bytes / wp.ms / 1e6).toFixed(2)} GB/s (incl. disk)`);
    console.log(`write pcapng : ${wn.ms.toFixed(0)} ms  ${mpps(packets, wn.ms)}`);

    for (const [name, file] of [['pcap', pcap], ['pcapng', pcapng]]) {
      const data = fs.readFileSync(file);
      const runs = [frameInMemory(data), frameInMemory(data), frameInMemory(data)];
      const ms = best(runs.map((r) => r.ms));
      console.log(`frame ${name.padEnd(6)} in memory: ${ms.toFixed(0)} ms  ${mpps(runs[0].records, ms)}`);
    }

    // Warm the page cache so both readers see the same conditions.
    await tcpdumpRead(pcap);
    const ours: number[] = [];
    const theirs: number[] = [];
    let records = 0;
    for (let i = 0; i < 3; i++) {
      const r = await readFromDisk(pcap);
      records = r.records;
      ours.push(r.ms);
      theirs.push(await tcpdumpRead(pcap));
    }
    const o = best(ours);
    const t = best(theirs);
    console.log(`readCapture file        : ${o.toFixed(0)} ms  ${mpps(records, o)}`);
    console.log(`tcpdump -r F -w /dev/null: ${t.toFixed(0)} ms  ${mpps(records, t)}`);
    console.log(`ratio readCapture / tcpdump: ${(o / t).toFixed(2)}  (load average ${os.loadavg()[0].toFixed(1)})`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const n = Number(process.argv[2] ?? 1_000_000);
  run(Number.isInteger(n) && n > 0 ? n : 1_000_000).catch((e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
