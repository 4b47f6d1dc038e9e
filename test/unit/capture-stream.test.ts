import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { PcapBatchEncoder, PCAP_NSEC_MAGIC } from '../../src/capture/pcapStream';
import { CaptureParser } from '../../src/pcap/reader';
import { ArrivalClock, measureWallOffsetNs } from '../../src/capture/clock';

describe('PcapBatchEncoder', () => {
  it('produces a nanosecond pcap stream that CaptureParser and tcpdump read back exactly', () => {
    const enc = new PcapBatchEncoder(1, 65535, 4096);
    const frames: Buffer[] = [];
    const chunks: Buffer[] = [enc.header()];
    for (let i = 0; i < 300; i++) {
      const f = Buffer.alloc(60 + ((i * 37) % 9000), i & 0xff);
      frames.push(f);
      if (!enc.fits(f.length)) chunks.push(enc.take());
      enc.append(f, f.length, f.length + (i % 2), 1_700_000_000 + i, 999_999_000 + i);
    }
    chunks.push(enc.take());
    expect(enc.pendingBytes).toBe(0);
    const stream = Buffer.concat(chunks);
    expect(stream.readUInt32LE(0)).toBe(PCAP_NSEC_MAGIC);

    const got: Array<{ bytes: Buffer; sec: number; nsec: number; len: number }> = [];
    const p = new CaptureParser((r) => got.push({ bytes: Buffer.from(r.buf.subarray(r.offset, r.offset + r.caplen)), sec: r.tsSec, nsec: r.tsNsec, len: r.len }));
    // Feed in odd-sized pieces, as a pipe would deliver them.
    for (let o = 0; o < stream.length; o += 1531) p.push(stream.subarray(o, Math.min(stream.length, o + 1531)));
    expect(p.end()).toBeNull();
    expect(got.length).toBe(300);
    got.forEach((g, i) => {
      expect(g.bytes.equals(frames[i])).toBe(true);
      expect(g.sec).toBe(1_700_000_000 + i);
      expect(g.nsec).toBe(999_999_000 + i);
      expect(g.len).toBe(frames[i].length + (i % 2));
    });

    const file = path.join(os.tmpdir(), `netscope-cp-stream-${process.pid}.pcap`);
    fs.writeFileSync(file, stream);
    try {
      const out = execFileSync('tcpdump', ['-r', file, '-nn', '--count'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(out).toMatch(/300 packets/);
    } finally {
      fs.unlinkSync(file);
    }
  });

  it('drops a pending batch and says how many records it held', () => {
    const enc = new PcapBatchEncoder(1, 65535, 4096);
    const f = Buffer.alloc(100, 1);
    for (let i = 0; i < 7; i++) enc.append(f, f.length, f.length, 1, i);
    expect(enc.dropPending()).toBe(7);
    expect(enc.pendingBytes).toBe(0);
    enc.append(f, f.length, f.length, 2, 0);
    expect(enc.take().length).toBe(116);
    expect(enc.dropPending()).toBe(0);
  });

  it('grows the batch for a record larger than the batch', () => {
    const enc = new PcapBatchEncoder(1, 65535, 128);
    const big = Buffer.alloc(65535, 7);
    enc.append(big, big.length, big.length, 1, 2);
    const out = enc.take();
    expect(out.length).toBe(16 + 65535);
    expect(out.readUInt32LE(8)).toBe(65535);
  });
});

describe('ArrivalClock', () => {
  it('stamps the wall clock, monotonic, with nanoseconds in range', () => {
    const c = new ArrivalClock(measureWallOffsetNs());
    // Between two wall-clock reads (ms resolution), however long the machine took between them.
    const before = Date.now() / 1000;
    c.stamp();
    const after = Date.now() / 1000;
    const t = c.sec + c.nsec / 1e9;
    expect(t).toBeGreaterThanOrEqual(before - 0.002);
    expect(t).toBeLessThanOrEqual(after + 0.002);
    let prevS = c.sec;
    let prevN = c.nsec;
    for (let i = 0; i < 100_000; i++) {
      c.stamp();
      expect(c.nsec >= 0 && c.nsec < 1e9).toBe(true);
      if (c.sec < prevS || (c.sec === prevS && c.nsec < prevN)) throw new Error('clock went backwards');
      prevS = c.sec;
      prevN = c.nsec;
    }
  });
  it('two clocks built from one offset agree (agents and parent share the time base)', () => {
    const off = measureWallOffsetNs();
    const a = new ArrivalClock(off);
    const b = new ArrivalClock(off);
    const t0 = process.hrtime.bigint();
    a.stamp();
    b.stamp();
    const elapsedNs = Number(process.hrtime.bigint() - t0);
    const diffNs = (b.sec - a.sec) * 1e9 + (b.nsec - a.nsec);
    // b stamped after a, no later than the time the two stamps took; each anchor carries well under 1 µs of
    // error (a loaded machine may pause between the stamps: that pause is in elapsedNs).
    expect(diffNs).toBeGreaterThan(-2_000);
    expect(diffNs).toBeLessThan(elapsedNs + 2_000);
  });
});
