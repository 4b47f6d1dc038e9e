/**
 * Differential tests against independent implementations: files written by tcpdump (libpcap's writer) and by
 * editcap (Wireshark's wiretap) in several formats must read identically here, in npm pcap-parser (classic
 * pcap only) and in tshark.
 */
import type { EventEmitter } from 'events';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { openCaptureInput, readCapture } from '../../src/pcap/reader';
import { PcapWriter } from '../../src/pcap/writer';
import type { PacketRecord } from '../../src/pcap/record';
import { run } from '../../src/host/run';

// pcap-parser ships no types; this is the part of its API the oracle uses.
interface OraclePacket {
  header: { timestampSeconds: number; timestampMicroseconds: number; capturedLength: number; originalLength: number };
  data: Buffer;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pcapParser = require('pcap-parser') as { parse(input: string): EventEmitter };

interface Row {
  sec: number;
  nsec: number;
  caplen: number;
  len: number;
  data: string;
}

function oracle(file: string): Promise<Row[]> {
  return new Promise((resolve, reject) => {
    const rows: Row[] = [];
    const p = pcapParser.parse(file);
    p.on('packet', (pk: OraclePacket) =>
      rows.push({
        sec: pk.header.timestampSeconds,
        nsec: pk.header.timestampMicroseconds * 1000,
        caplen: pk.header.capturedLength,
        len: pk.header.originalLength,
        data: pk.data.toString('hex'),
      }),
    );
    p.on('error', reject);
    p.on('end', () => resolve(rows));
  });
}

async function ours(file: string): Promise<{ rows: Row[]; format: string | undefined; linktype: number | undefined }> {
  const rows: Row[] = [];
  const res = await readCapture(openCaptureInput(file), (r) =>
    rows.push({ sec: r.tsSec, nsec: r.tsNsec, caplen: r.caplen, len: r.len, data: r.buf.toString('hex', r.offset, r.offset + r.caplen) }),
  );
  expect(res.error).toBeNull();
  return { rows, format: res.format, linktype: res.interfaces[0]?.linktype };
}

/** Ethernet/IPv4/UDP frames with varied sizes, timestamps across a second boundary, and a few GSO-sized ones. */
function source(n: number): PacketRecord[] {
  const recs: PacketRecord[] = [];
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const payload = i % 97 === 5 ? 60000 : x % 1400;
    const f = Buffer.alloc(14 + 20 + 8 + payload);
    Buffer.from('02000a2c0001', 'hex').copy(f, 0);
    Buffer.from('02000a2c0002', 'hex').copy(f, 6);
    f.writeUInt16BE(0x0800, 12);
    f[14] = 0x45;
    f.writeUInt16BE(Math.min(65535, 28 + payload), 16);
    f[22] = 64;
    f[23] = 17;
    f.writeUInt32BE(0x0af40001, 26);
    f.writeUInt32BE(0x0af40002, 30);
    f.writeUInt16BE(40000 + (i % 100), 34);
    f.writeUInt16BE(53, 36);
    for (let j = 42; j < f.length; j++) f[j] = (x >>> (j & 15)) & 0xff;
    recs.push({
      buf: f,
      offset: 0,
      caplen: f.length,
      len: f.length,
      tsSec: 1795848999 + Math.floor(i / 300),
      tsNsec: (i * 3333331) % 1000000000,
      linktype: 1,
      ifIndex: 0,
      iface: undefined,
    });
  }
  return recs;
}

let dir: string;
const N = 1500;
let recs: PacketRecord[];
let original: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-pcapd-'));
  recs = source(N);
  original = path.join(dir, 'ours-ns.pcap');
  const w = new PcapWriter(fs.createWriteStream(original), { linktype: 1, nanosecond: true });
  for (const r of recs) w.write(r);
  await w.close();
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const expectRows = (nanos: boolean): Row[] =>
  recs.map((r) => ({
    sec: r.tsSec,
    nsec: nanos ? r.tsNsec : Math.floor(r.tsNsec / 1000) * 1000,
    caplen: r.caplen,
    len: r.len,
    data: r.buf.toString('hex', 0, r.caplen),
  }));

describe('classic pcap written by tcpdump (libpcap), checked against pcap-parser', () => {
  it('µs file from `tcpdump -r … -w …`', async () => {
    const file = path.join(dir, 'tcpdump-us.pcap');
    await run(['tcpdump', '-r', original, '-w', file]);
    const [mine, theirs] = await Promise.all([ours(file), oracle(file)]);
    expect(mine.format).toBe('pcap');
    expect(mine.rows).toHaveLength(N);
    expect(mine.rows).toEqual(theirs);
    expect(mine.rows).toEqual(expectRows(false));
  });

  it('snaplen-limited file (`editcap -s 96`, then rewritten by tcpdump)', async () => {
    const cut = path.join(dir, 'editcap-s96.pcap');
    const file = path.join(dir, 'tcpdump-s96.pcap');
    await run(['editcap', '-F', 'pcap', '-s', '96', original, cut]);
    await run(['tcpdump', '-r', cut, '-w', file]);
    const [mine, theirs] = await Promise.all([ours(file), oracle(file)]);
    expect(mine.rows).toEqual(theirs);
    expect(mine.rows.map((r) => r.caplen)).toEqual(recs.map((r) => Math.min(96, r.caplen)));
    expect(mine.rows.map((r) => r.len)).toEqual(recs.map((r) => r.len));
  });

  it('big-endian pcap (byte-swapped copy) reads like the original', async () => {
    const file = path.join(dir, 'tcpdump-us.pcap');
    const le = fs.readFileSync(file);
    const be = Buffer.from(le);
    const swap = (p: number): void => {
      be.writeUInt32BE(le.readUInt32LE(p), p);
    };
    for (const p of [0, 8, 12, 16, 20]) swap(p);
    be.writeUInt16BE(le.readUInt16LE(4), 4);
    be.writeUInt16BE(le.readUInt16LE(6), 6);
    for (let p = 24; p < le.length; ) {
      const caplen = le.readUInt32LE(p + 8);
      for (let k = 0; k < 16; k += 4) swap(p + k);
      p += 16 + caplen;
    }
    const beFile = path.join(dir, 'be.pcap');
    fs.writeFileSync(beFile, be);
    const [mine, theirs] = await Promise.all([ours(beFile), oracle(beFile)]);
    expect(mine.rows).toEqual(theirs);
    expect(mine.rows).toEqual(expectRows(false));
  });
});

describe('files converted by editcap (wiretap), checked against tshark', () => {
  async function tsharkRows(file: string): Promise<string[]> {
    const { stdout } = await run(['tshark', '-r', file, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len']);
    return stdout.trim().split('\n');
  }

  it.each([
    ['pcap', 'pcap', false],
    ['nsecpcap', 'pcap', true],
    ['modpcap', 'pcap', false], // Kuznetzov's patched format: 24-byte record headers
    ['pcapng', 'pcapng', true],
  ])('%s', async (fmt, expectFormat, nanos) => {
    const file = path.join(dir, `editcap.${fmt}`);
    await run(['editcap', '-F', fmt, original, file]);
    const mine = await ours(file);
    expect(mine.format).toBe(expectFormat);
    expect(mine.linktype).toBe(1);
    expect(mine.rows).toEqual(expectRows(nanos));
    const tshark = await tsharkRows(file);
    expect(mine.rows.map((r) => `${r.sec}.${String(r.nsec).padStart(9, '0')}|${r.len}|${r.caplen}`)).toEqual(tshark);
  });

  it('pcapng merged from two files by mergecap keeps both interfaces', async () => {
    const a = path.join(dir, 'a.pcapng');
    const b = path.join(dir, 'b.pcap');
    const m = path.join(dir, 'merged.pcapng');
    await run(['editcap', '-F', 'pcapng', '-r', original, a, '1-100']);
    await run(['editcap', '-F', 'pcap', '-T', 'rawip', '-C', '14', '-r', original, b, '101-200']);
    await run(['mergecap', '-F', 'pcapng', '-w', m, a, b]);
    const seen: Array<[number, number]> = [];
    const res = await readCapture(openCaptureInput(m), (r) => seen.push([r.ifIndex, r.linktype]));
    expect(res.error).toBeNull();
    expect(res.interfaces.map((i) => i.linktype).sort()).toEqual([1, 101]);
    expect(seen).toHaveLength(200);
    expect(new Set(seen.map(([i, lt]) => `${i}:${lt}`)).size).toBe(2);
  });
});
