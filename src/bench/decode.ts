/**
 * Decoder micro-benchmark: decode (and filter, and format) a generated mix of the crafted sample frames
 * laid out back to back in one large buffer, as a reader would deliver them. Compares with tcpdump
 * reading the same frames from a pcap file in the same run.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { decodePacket } from '../decode/decode';
import { pcapFile } from '../decode/craft';
import { formatLine } from '../decode/format';
import { sampleFrames } from '../decode/samples';
import { PacketView } from '../decode/view';
import { RecordFilter } from '../filter/filter';
import { LinkType, type PacketRecord } from '../pcap/record';

const FRAMES = 200_000;

/** Rate by wall clock, and by this process's CPU time (steadier when other work shares the cores). */
function timeIt(label: string, frames: number, fn: () => number): number {
  fn(); // warm-up
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const sink = fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  const rate = frames / s;
  process.stdout.write(
    `${label.padEnd(34)} ${(rate / 1e6).toFixed(2).padStart(7)} M frames/s wall, ${(frames / cpu / 1e6).toFixed(2)} M/s per CPU-second  (${sink})\n`,
  );
  return rate;
}

export async function run(): Promise<void> {
  const eth = sampleFrames().filter((s) => s.linktype === LinkType.EN10MB && s.frame.length < 2000);
  const offs = new Int32Array(FRAMES);
  const lens = new Int32Array(FRAMES);
  let total = 0;
  for (let i = 0; i < FRAMES; i++) total += eth[i % eth.length].frame.length;
  const buf = Buffer.alloc(total);
  for (let i = 0, o = 0; i < FRAMES; i++) {
    const f = eth[i % eth.length].frame;
    f.copy(buf, o);
    offs[i] = o;
    lens[i] = f.length;
    o += f.length;
  }
  process.stdout.write(`${FRAMES} frames, ${eth.length} kinds, mean ${(total / FRAMES).toFixed(0)} bytes\n`);
  const v = new PacketView();
  const rounds = 10;
  const decodeRate = timeIt('decode', FRAMES * rounds, () => {
    let x = 0;
    for (let r = 0; r < rounds; r++)
      for (let i = 0; i < FRAMES; i++) x += decodePacket(v, buf, offs[i], lens[i], lens[i], LinkType.EN10MB).layers;
    return x;
  });
  // The filter of `read`: libpcap's program for the expression, run as JavaScript over the record's bytes.
  const filter = RecordFilter.compile('tcp port 80 or (udp and not port 53) or vlan and icmp')!;
  const frec: PacketRecord = { buf, offset: 0, caplen: 0, len: 0, tsSec: 0, tsNsec: 0, linktype: LinkType.EN10MB, ifIndex: 0, iface: undefined };
  timeIt('decode + filter', FRAMES * rounds, () => {
    let x = 0;
    for (let r = 0; r < rounds; r++)
      for (let i = 0; i < FRAMES; i++) {
        frec.offset = offs[i];
        frec.caplen = frec.len = lens[i];
        if (filter.matches(decodePacket(v, buf, offs[i], lens[i], lens[i], LinkType.EN10MB), frec)) x++;
      }
    return x;
  });
  const rec: PacketRecord = { buf, offset: 0, caplen: 0, len: 0, tsSec: 1795848999, tsNsec: 0, linktype: LinkType.EN10MB, ifIndex: 0, iface: undefined };
  const lineRate = timeIt('decode + formatLine', FRAMES, () => {
    let x = 0;
    for (let i = 0; i < FRAMES; i++) {
      rec.offset = offs[i];
      rec.caplen = rec.len = lens[i];
      x += formatLine(decodePacket(v, buf, offs[i], lens[i], lens[i], LinkType.EN10MB), rec).length;
    }
    return x;
  });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-bench-'));
  try {
    const file = path.join(dir, 'mix.pcap');
    fs.writeFileSync(file, pcapFile(LinkType.EN10MB, Array.from({ length: FRAMES }, (_, i) => ({ frame: eth[i % eth.length].frame }))));
    const tcpdump = (args: string[]): number => {
      const t0 = process.hrtime.bigint();
      execFileSync('tcpdump', args, { stdio: ['ignore', 'ignore', 'ignore'], maxBuffer: 1 << 30 });
      return FRAMES / (Number(process.hrtime.bigint() - t0) / 1e9);
    };
    const tdFilter = tcpdump(['-nn', '-r', file, '-w', '/dev/null', 'tcp port 80 or (udp and not port 53) or vlan and icmp']);
    const tdPrint = tcpdump(['-nn', '-r', file]);
    process.stdout.write(`tcpdump -r F -w /dev/null FILTER      ${(tdFilter / 1e6).toFixed(2).padStart(7)} M frames/s (read + BPF, whole process)\n`);
    process.stdout.write(`tcpdump -nn -r F (prints)            ${(tdPrint / 1e6).toFixed(2).padStart(7)} M frames/s\n`);
    process.stdout.write(`ratio decode / tcpdump read+BPF:     ${(decodeRate / tdFilter).toFixed(2)}x\n`);
    process.stdout.write(`ratio formatLine / tcpdump printing: ${(lineRate / tdPrint).toFixed(2)}x\n`);
  } catch (e) {
    process.stdout.write(`tcpdump comparison unavailable: ${e instanceof Error ? e.message : String(e)}\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
