import fs from 'fs';
import os from 'os';
import path from 'path';
import { PassThrough, Writable } from 'stream';
import { openCaptureInput, readCapture } from '../../src/pcap/reader';
import { PcapngWriter, PcapWriter } from '../../src/pcap/writer';
import type { PacketRecord } from '../../src/pcap/record';
import { run } from '../../src/host/run';
import { parseCapture } from '../helpers/pcap';
import { ether, icmpEcho, ipv4, ipv6, udp } from '../../src/decode/craft';

function record(data: Buffer, tsSec: number, tsNsec: number, len = data.length): PacketRecord {
  // Put the frame at a non-zero offset inside a larger buffer, as the reader does.
  const buf = Buffer.concat([Buffer.alloc(7, 0xff), data, Buffer.alloc(5, 0xff)]);
  return { buf, offset: 7, caplen: data.length, len, tsSec, tsNsec, linktype: 1, ifIndex: 0, iface: undefined };
}

function frames(n: number, seed: number): PacketRecord[] {
  const out: PacketRecord[] = [];
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const size = i % 50 === 7 ? 65000 : 14 + (x % 1500); // an occasional GSO-sized super-frame
    const data = Buffer.alloc(size);
    for (let j = 0; j < size; j++) data[j] = (x >>> (j % 24)) & 0xff;
    out.push(record(data, 1795848999 + i, (x % 1000000000) | 0, size + (i % 3)));
  }
  return out;
}

/** Collects everything written to a PassThrough. */
function sink(): { stream: PassThrough; bytes: () => Buffer } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, bytes: () => Buffer.concat(chunks) };
}

const hex = (r: PacketRecord): string => r.buf.toString('hex', r.offset, r.offset + r.caplen);

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-pcapw-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('PcapWriter', () => {
  it.each([false, true])('round-trips records (nanosecond=%s)', async (nanosecond) => {
    const recs = frames(120, 3);
    const { stream, bytes } = sink();
    const w = new PcapWriter(stream, { linktype: 276, nanosecond });
    for (const r of recs) w.write(r);
    await w.close();
    expect(w.records).toBe(120);
    const back = parseCapture(bytes());
    expect(back.error).toBeNull();
    expect(back.p.interfaces).toEqual([{ linktype: 276, snaplen: 262144, name: undefined }]);
    expect(back.recs).toEqual(
      recs.map((r) => ({
        data: hex(r),
        caplen: r.caplen,
        len: r.len,
        tsSec: r.tsSec,
        tsNsec: nanosecond ? r.tsNsec : Math.floor(r.tsNsec / 1000) * 1000,
        linktype: 276,
        ifIndex: 0,
        iface: undefined,
      })),
    );
  });

  it('cuts records to the snaplen, keeping the wire length', async () => {
    const { stream, bytes } = sink();
    const w = new PcapWriter(stream, { linktype: 1, snaplen: 96 });
    w.write(record(Buffer.alloc(200, 9), 1, 0));
    // A record claiming more bytes than its buffer holds stores only what exists.
    w.write({ ...record(Buffer.alloc(10, 8), 2, 0), buf: Buffer.alloc(30, 8), offset: 0, caplen: 50, len: 50 });
    await w.close();
    const back = parseCapture(bytes());
    expect(back.recs[0]).toMatchObject({ caplen: 96, len: 200, data: Buffer.alloc(96, 9).toString('hex') });
    expect(back.recs[1]).toMatchObject({ caplen: 30, len: 50, data: Buffer.alloc(30, 8).toString('hex') });
  });

  it('flushes a partly filled batch on a timer, without close()', async () => {
    const { stream, bytes } = sink();
    const w = new PcapWriter(stream, { linktype: 1, flushIntervalMs: 20 });
    w.write(record(Buffer.alloc(60, 1), 1, 0));
    expect(bytes().length).toBe(0); // batched, not yet written
    // Poll rather than sleep a fixed time: CI machines are loaded.
    const deadline = Date.now() + 5000;
    while (bytes().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(bytes().length).toBe(24 + 16 + 60);
    await w.close();
  });

  it('queues without loss under backpressure by default, and waitForDrain lets a producer pace itself', async () => {
    const got: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 4096,
      write(chunk: Buffer, _enc, cb) {
        got.push(chunk);
        setTimeout(cb, 2);
      },
    });
    const w = new PcapWriter(slow, { linktype: 1, flushIntervalMs: 0 });
    const recs = frames(2000, 11); // several 1 MiB batches
    let sawCongestion = false;
    for (const r of recs) {
      w.write(r);
      if (w.congested) {
        sawCongestion = true;
        await w.waitForDrain();
      }
    }
    await w.close();
    expect(sawCongestion).toBe(true);
    expect(w.dropped).toBe(0);
    const back = parseCapture(Buffer.concat(got));
    expect(back.error).toBeNull();
    expect(back.recs.map((r) => r.data)).toEqual(recs.map(hex));
  });

  it('with maxQueuedBytes sheds whole records while congested and stays a valid file', async () => {
    const got: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        got.push(chunk);
        setTimeout(cb, 5);
      },
    });
    const w = new PcapWriter(slow, { linktype: 1, flushIntervalMs: 0, maxQueuedBytes: 2 << 20 });
    const recs = frames(300, 5);
    for (let k = 0; k < 4; k++) for (const r of recs) w.write(r); // ~36 MiB offered at once
    await w.close();
    expect(w.dropped).toBeGreaterThan(0);
    expect(w.records + w.dropped).toBe(1200);
    const back = parseCapture(Buffer.concat(got));
    expect(back.error).toBeNull();
    expect(back.recs).toHaveLength(w.records);
  });

  it('reports an output error from close() instead of crashing', async () => {
    const broken = new Writable({
      write(_c, _e, cb) {
        cb(new Error('EPIPE: broken pipe'));
      },
    });
    const w = new PcapWriter(broken, { linktype: 1 });
    w.write(record(Buffer.alloc(10), 1, 0));
    await expect(w.close()).rejects.toThrow('EPIPE');
    expect(w.error?.message).toMatch(/EPIPE/);
    w.write(record(Buffer.alloc(10), 1, 0)); // ignored, counted
    expect(w.dropped).toBe(1);
  });

  it('leaves the stream open when endOutput is false', async () => {
    const { stream, bytes } = sink();
    const w = new PcapWriter(stream, { linktype: 1, endOutput: false });
    w.write(record(Buffer.alloc(10), 1, 0));
    await w.close();
    expect(stream.writableEnded).toBe(false);
    expect(bytes().length).toBe(24 + 26);
    stream.end();
  });
});

describe('PcapngWriter', () => {
  it('round-trips records on several interfaces with nanosecond timestamps', async () => {
    const { stream, bytes } = sink();
    const w = new PcapngWriter(stream, { application: 'netscope test' });
    expect(w.addInterface('pod-a/eth0', 1)).toBe(0);
    expect(w.addInterface('node/cni0', 276, 128)).toBe(1);
    const recs = frames(60, 9);
    recs.forEach((r, i) => w.write(i % 2, r));
    await w.close();
    const back = parseCapture(bytes());
    expect(back.error).toBeNull();
    expect(back.p.interfaces).toEqual([
      { linktype: 1, snaplen: 262144, name: 'pod-a/eth0' },
      { linktype: 276, snaplen: 128, name: 'node/cni0' },
    ]);
    expect(back.recs).toEqual(
      recs.map((r, i) => {
        const caplen = i % 2 ? Math.min(128, r.caplen) : r.caplen;
        return {
          data: r.buf.toString('hex', r.offset, r.offset + caplen),
          caplen,
          len: r.len,
          tsSec: r.tsSec,
          tsNsec: r.tsNsec,
          linktype: i % 2 ? 276 : 1,
          ifIndex: i % 2,
          iface: i % 2 ? 'node/cni0' : 'pod-a/eth0',
        };
      }),
    );
  });

  it('refuses an interface id that was never added', () => {
    const w = new PcapngWriter(new PassThrough());
    expect(() => w.write(0, record(Buffer.alloc(1), 0, 0))).toThrow(RangeError);
  });
});

describe('files written here open in tshark and capinfos', () => {
  async function fields(file: string): Promise<string[]> {
    const { stdout } = await run([
      'tshark', '-r', file, '-T', 'fields', '-E', 'separator=|',
      '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.interface_name',
    ]);
    return stdout.trim().split('\n');
  }

  function expected(recs: PacketRecord[], nanos: boolean, names?: (i: number) => string): string[] {
    return recs.map((r, i) => {
      const frac = nanos ? String(r.tsNsec).padStart(9, '0') : String(Math.floor(r.tsNsec / 1000)).padStart(6, '0') + '000';
      return `${r.tsSec}.${frac}|${r.len}|${r.caplen}|${names ? names(i) : ''}`;
    });
  }

  it.each([false, true])('pcap (nanosecond=%s)', async (nanosecond) => {
    const file = path.join(dir, `w${nanosecond ? 'ns' : 'us'}.pcap`);
    const recs = frames(200, 21);
    const w = new PcapWriter(fs.createWriteStream(file), { linktype: 1, nanosecond });
    for (const r of recs) w.write(r);
    await w.close();
    const info = await run(['capinfos', '-M', '-t', '-E', '-c', file]);
    expect(info.stdout).toMatch(nanosecond ? /File type:\s+nsecpcap\n/ : /File type:\s+pcap\n/);
    expect(info.stdout).toMatch(/File encapsulation:\s+ether\n/);
    expect(info.stdout).toMatch(/Number of packets:\s+200\n/);
    expect(await fields(file)).toEqual(expected(recs, nanosecond));
  });

  it('pcapng with two interfaces', async () => {
    const file = path.join(dir, 'w.pcapng');
    const recs = frames(100, 33);
    const w = new PcapngWriter(fs.createWriteStream(file));
    w.addInterface('ns1/veth0', 1);
    w.addInterface('ns2/eth0', 1);
    recs.forEach((r, i) => w.write(i % 2, r));
    await w.close();
    const info = await run(['capinfos', '-M', '-t', '-c', file]);
    expect(info.stdout).toMatch(/File type:\s+pcapng\n/);
    expect(info.stdout).toMatch(/Number of packets:\s+100\n/);
    expect(await fields(file)).toEqual(expected(recs, true, (i) => (i % 2 ? 'ns2/eth0' : 'ns1/veth0')));
    // …and our own reader agrees, streaming from the file.
    const seen: string[] = [];
    const res = await readCapture(openCaptureInput(file), (r) => seen.push(`${r.iface}:${r.tsSec}.${r.tsNsec}:${r.caplen}`));
    expect(res).toMatchObject({ records: 100, error: null, format: 'pcapng' });
    expect(seen).toEqual(recs.map((r, i) => `${i % 2 ? 'ns2/eth0' : 'ns1/veth0'}:${r.tsSec}.${r.tsNsec}:${r.caplen}`));
  });

  it('pcapng name resolution: tshark -N n shows pod names for pod IPs (IPv4 and IPv6), our reader skips the block', async () => {
    const file = path.join(dir, 'nrb.pcapng');
    const w = new PcapngWriter(fs.createWriteStream(file));
    w.addInterface('default/web-0/eth0', 1);
    w.addNameResolution([
      { ip: '10.244.5.2', names: ['web-0.default'] },
      { ip: '10.244.5.3', names: ['db-0.default'] },
      { ip: 'fd00:244::5', names: ['web-1.default'] },
      { ip: 'not-an-ip', names: ['skipped'] },
      { ip: '10.244.5.9', names: [] },
    ]);
    const mac = '02:00:00:00:00:01';
    const v4 = ether(mac, mac, 0x0800, ipv4({ src: '10.244.5.2', dst: '10.244.5.3', proto: 1 }, icmpEcho(8, 1, 1)));
    const v6 = ether(mac, mac, 0x86dd, ipv6({ src: 'fd00:244::5', dst: 'fd00:244::6', next: 17 }, udp(1000, 2000, Buffer.alloc(4))));
    w.write(0, record(v4, 1795848999, 1));
    w.write(0, record(v6, 1795848999, 2));
    await w.close();
    const { stdout } = await run(['tshark', '-r', file, '-N', 'n', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_name', '-e', 'ip.src_host', '-e', 'ip.dst_host', '-e', 'ipv6.src_host']);
    expect(stdout.trim().split('\n')).toEqual(['default/web-0/eth0|web-0.default|db-0.default|', 'default/web-0/eth0|||web-1.default']);
    const res = await readCapture(openCaptureInput(file), () => undefined);
    expect(res).toMatchObject({ records: 2, error: null, format: 'pcapng' });
  });

  it('writes no name resolution block when nothing is resolvable', async () => {
    const { stream, bytes } = sink();
    const w = new PcapngWriter(stream);
    const before = w.addInterface('x', 1);
    w.addNameResolution([{ ip: 'x', names: ['y'] }]);
    await w.close();
    expect(before).toBe(0);
    expect(parseCapture(bytes()).error).toBeNull();
    expect(bytes().includes(Buffer.from([4, 0, 0, 0]))).toBe(false);
  });
});
