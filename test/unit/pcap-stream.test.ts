import fs from 'fs';
import os from 'os';
import path from 'path';
import { PassThrough, Readable } from 'stream';
import { openCaptureInput, readCapture } from '../../src/pcap/reader';
import { craftPcap, pngInterface, pngPacket, pngSection } from '../../src/pcap/craft';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-pcaps-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const file = craftPcap(
  { nanos: true, linktype: 113 },
  Array.from({ length: 50 }, (_, i) => ({ data: Buffer.alloc(10 + i * 3, i), tsSec: 100 + i, tsFrac: i })),
);

describe('readCapture', () => {
  it('reads a pipe-like stream delivered in small pieces', async () => {
    const input = new PassThrough();
    const seen: number[] = [];
    const done = readCapture(input, (r) => seen.push(r.caplen));
    for (let p = 0; p < file.length; p += 13) input.write(file.subarray(p, p + 13));
    input.end();
    const res = await done;
    expect(res).toEqual({ records: 50, error: null, format: 'pcap', interfaces: [{ linktype: 113, snaplen: 262144, name: undefined }] });
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => 10 + i * 3));
  });

  it('streams a file opened with openCaptureInput, and stops at damage with what came before', async () => {
    const damaged = path.join(dir, 'damaged.pcap');
    fs.writeFileSync(damaged, file.subarray(0, file.length - 7));
    const res = await readCapture(openCaptureInput(damaged), () => undefined);
    expect(res.records).toBe(49);
    expect(res.error?.message).toMatch(/^truncated record at byte \d+: header says 173 bytes \(16-byte header \+ 157 captured\), 166 present$/);
  });

  it('turns an unreadable path into a one-line error, not an exception', async () => {
    const res = await readCapture(openCaptureInput(path.join(dir, 'missing.pcap')), () => undefined);
    expect(res.records).toBe(0);
    expect(res.error).toEqual({ offset: 0, message: `cannot read ${path.join(dir, 'missing.pcap')}: no such file or directory` });
    const res2 = await readCapture(openCaptureInput(dir), () => undefined);
    expect(res2.error?.message).toMatch(/^cannot read .*: illegal operation on a directory/);
  });

  it('stops reading at the first error (the rest of the stream is not consumed)', async () => {
    let pulled = 0;
    const junk = new Readable({
      read() {
        pulled++;
        this.push(pulled > 1000 ? null : Buffer.alloc(65536, 0x42));
      },
    });
    const res = await readCapture(junk, () => undefined);
    expect(res.error?.message).toMatch(/^not a pcap or pcapng file/);
    expect(pulled).toBeLessThan(10);
  });

  it('rejects (and stops) when the record handler throws', async () => {
    const input = Readable.from([file]);
    await expect(
      readCapture(input, (r) => {
        if (r.tsSec === 103) throw new Error('handler bug');
      }),
    ).rejects.toThrow('handler bug');
  });

  it('pauses while throttle() returns a pending promise', async () => {
    const input = new PassThrough();
    let gate: (() => void) | null = null;
    let calls = 0;
    const done = readCapture(input, () => undefined, {
      throttle: () => {
        calls++;
        if (calls !== 1) return undefined;
        return new Promise<void>((r) => {
          gate = r;
        });
      },
    });
    input.write(file.subarray(0, 100));
    await new Promise((r) => setImmediate(r));
    expect(gate).not.toBeNull();
    expect(input.isPaused()).toBe(true);
    input.end(file.subarray(100));
    (gate as unknown as () => void)();
    const res = await done;
    expect(res.records).toBe(50);
  });

  it('reads pcapng from a stream and reports its interfaces', async () => {
    const ng = Buffer.concat([
      pngSection(true),
      pngInterface(true, { linktype: 1, name: 'veth1' }),
      pngPacket(true, 0, 1n, Buffer.alloc(4)),
    ]);
    const res = await readCapture(Readable.from([ng.subarray(0, 30), ng.subarray(30)]), () => undefined);
    expect(res).toEqual({ records: 1, error: null, format: 'pcapng', interfaces: [{ linktype: 1, snaplen: 0, name: 'veth1' }] });
  });

  it('keeps memory flat on a large stream (records in place, one carry buffer)', async () => {
    // ~60 MB of records through the parser; what it holds must not grow with the data.
    const one = craftPcap({}, Array.from({ length: 1000 }, (_, i) => ({ data: Buffer.alloc(1000 + (i % 500), 7) }))).subarray(24);
    let sent = 0;
    const big = new Readable({
      read() {
        if (sent === 0) this.push(craftPcap({}, []));
        if (sent++ < 48) this.push(one);
        else this.push(null);
      },
    });
    const used = (): number => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    let n = 0;
    let lo = Infinity;
    let hi = 0;
    const res = await readCapture(big, () => {
      if (++n % 2000 === 0) {
        const u = used();
        lo = Math.min(lo, u);
        hi = Math.max(hi, u);
      }
    });
    expect(res.error).toBeNull();
    expect(res.records).toBe(48000);
    expect(hi - lo).toBeLessThan(32 * 1024 * 1024);
  });
});
