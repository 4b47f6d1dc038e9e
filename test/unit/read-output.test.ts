/**
 * The shared packet output (src/cli/packetOutput.ts): batching and EPIPE handling of BufferedWriter,
 * -c/--json/-e in PacketPrinter, and the ProtocolSummary counters — on crafted frames and fake streams.
 */
import { PassThrough, Writable } from 'stream';
import { BufferedWriter, PacketPrinter, ProtocolSummary } from '../../src/cli/packetOutput';
import { arp, ether, icmpEcho, ipv4, tcp, udp, vxlan } from '../../src/decode/craft';
import { decodeRecord } from '../../src/decode/decode';
import { formatLine, toJson } from '../../src/decode/format';
import { PacketView } from '../../src/decode/view';
import { LinkType, type PacketRecord } from '../../src/pcap/record';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';

function record(frame: Buffer, tsSec: number, tsNsec: number, opts: Partial<PacketRecord> = {}): PacketRecord {
  return { buf: frame, offset: 0, caplen: frame.length, len: frame.length, tsSec, tsNsec, linktype: LinkType.EN10MB, ifIndex: 0, iface: undefined, ...opts };
}

const echo = ether(B, A, 0x0800, ipv4({ src: '10.244.1.1', dst: '10.244.1.2', proto: 1, id: 7 }, icmpEcho(8, 42, 1)));
const syn = ether(B, A, 0x0800, ipv4({ src: '10.244.1.1', dst: '10.244.1.2', proto: 6 }, tcp({ sport: 40000, dport: 80, flags: 'S' })));
const who = ether('ff:ff:ff:ff:ff:ff', A, 0x0806, arp(1, A, '10.244.1.1', '00:00:00:00:00:00', '10.244.1.2'));
const dns = ether(B, A, 0x0800, ipv4({ src: '10.244.1.1', dst: '10.244.1.2', proto: 17 }, udp(5353, 53, Buffer.alloc(20))));
const overlay = ether(B, A, 0x0800, ipv4({ src: '10.42.0.1', dst: '10.42.0.2', proto: 17 }, udp(50000, 4789, vxlan(42, echo))));

/** A writable that records what it receives and can be told to fail or to apply backpressure. */
class Sink extends Writable {
  chunks: string[] = [];
  failWith: NodeJS.ErrnoException | undefined;
  constructor(highWaterMark = 1 << 20) {
    super({ highWaterMark, decodeStrings: false });
  }
  override _write(chunk: string | Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.failWith) return cb(this.failWith);
    this.chunks.push(chunk.toString());
    setImmediate(cb);
  }
  get text(): string {
    return this.chunks.join('');
  }
}

function epipe(): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error('write EPIPE');
  e.code = 'EPIPE';
  return e;
}

describe('BufferedWriter', () => {
  it('batches small writes into chunks of about 64 KiB and flushes the rest', async () => {
    const sink = new Sink();
    const w = new BufferedWriter(sink);
    const line = 'x'.repeat(99) + '\n';
    for (let i = 0; i < 2000; i++) w.write(line);
    await w.flush();
    expect(sink.text).toBe(line.repeat(2000));
    expect(sink.chunks.length).toBe(4); // 200,000 characters: three full chunks and the remainder
    expect(sink.chunks[0].length).toBeGreaterThanOrEqual(64 * 1024);
  });

  it('hands a lone line over when the event loop turns, without an explicit flush (live capture)', async () => {
    const sink = new Sink();
    const w = new BufferedWriter(sink);
    w.write('one line\n');
    expect(sink.chunks).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(sink.text).toBe('one line\n');
    w.detach();
  });

  it('closes quietly on EPIPE and drops later output', async () => {
    const sink = new Sink();
    sink.failWith = epipe();
    sink.on('error', () => undefined); // the stream's own default would rethrow; the writer has its listener too
    const w = new BufferedWriter(sink);
    w.write('a'.repeat(70_000));
    await w.flush();
    expect(w.open).toBe(false);
    expect(w.error).toBeNull();
    w.write('more');
    await w.flush();
    expect(sink.chunks).toEqual([]);
  });

  it('keeps other write errors for the caller', async () => {
    const sink = new Sink();
    const e: NodeJS.ErrnoException = new Error('no space left on device');
    e.code = 'ENOSPC';
    sink.failWith = e;
    sink.on('error', () => undefined);
    const w = new BufferedWriter(sink);
    w.write('a');
    await w.flush();
    expect(w.open).toBe(false);
    expect(w.error?.message).toBe('no space left on device');
  });

  it('asks the producer to wait while the stream is congested', async () => {
    const slow = new PassThrough({ highWaterMark: 1024 });
    const w = new BufferedWriter(slow);
    expect(w.waitForDrain()).toBeUndefined();
    w.write('y'.repeat(70_000));
    const wait = w.waitForDrain();
    expect(wait).toBeInstanceOf(Promise);
    let drained = false;
    void wait?.then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(false);
    slow.resume(); // the reader catches up
    await wait;
    expect(drained).toBe(true);
    w.detach();
  });
});

describe('PacketPrinter', () => {
  it('prints formatLine text, or toJson with the frame number given', async () => {
    const view = new PacketView();
    const rec = record(echo, 1795848999, 566651000);
    decodeRecord(view, rec);
    const text = new Sink();
    const p = new PacketPrinter(text, { ether: true });
    expect(p.print(view, rec, 1)).toBe(true);
    await p.flush();
    expect(text.text).toBe(formatLine(view, rec, { ether: true }) + '\n');
    expect(text.text).toContain('02:00:00:00:00:0a > 02:00:00:00:00:0b');
    const json = new Sink();
    const pj = new PacketPrinter(json, { json: true });
    pj.print(view, rec, 17);
    await pj.flush();
    expect(json.text).toBe(toJson(view, rec, 17) + '\n');
    expect(JSON.parse(json.text).n).toBe(17);
  });

  it('starts text lines with the interface when asked (capture on several interfaces)', async () => {
    const view = new PacketView();
    const rec = record(echo, 1795848999, 566651000, { iface: 'node/cni0' });
    decodeRecord(view, rec);
    const sink = new Sink();
    const p = new PacketPrinter(sink, { iface: true });
    p.print(view, rec, 1);
    await p.flush();
    expect(sink.text).toBe('node/cni0 ' + formatLine(view, rec) + '\n');
    const plain = new Sink();
    const q = new PacketPrinter(plain);
    q.print(view, rec, 1);
    await q.flush();
    expect(plain.text).toBe(formatLine(view, rec) + '\n');
  });

  it('returns false once -c packets are printed and prints nothing after', async () => {
    const view = new PacketView();
    const rec = record(syn, 1, 0);
    decodeRecord(view, rec);
    const sink = new Sink();
    const p = new PacketPrinter(sink, { count: 2 });
    expect(p.print(view, rec, 1)).toBe(true);
    expect(p.print(view, rec, 2)).toBe(false);
    expect(p.print(view, rec, 3)).toBe(false);
    await p.flush();
    expect(p.printed).toBe(2);
    expect(sink.text.split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('returns false after the output pipe closed', async () => {
    const view = new PacketView();
    const rec = record(syn, 1, 0);
    decodeRecord(view, rec);
    const sink = new Sink();
    sink.failWith = epipe();
    sink.on('error', () => undefined);
    const p = new PacketPrinter(sink);
    const big = 'z'.repeat(70_000);
    p.writer.write(big);
    await p.flush();
    expect(p.print(view, rec, 1)).toBe(false);
  });
});

describe('ProtocolSummary', () => {
  it('counts packets, bytes, time span, protocols and problems', () => {
    const view = new PacketView();
    const s = new ProtocolSummary();
    const add = (r: PacketRecord): void => {
      decodeRecord(view, r);
      s.add(view, r);
    };
    add(record(echo, 100, 500_000_000));
    add(record(syn, 101, 0));
    add(record(who, 99, 999_999_999)); // earlier than the first: merged captures can be out of order
    add(record(dns, 102, 250_000_000));
    add(record(overlay, 102, 250_000_001));
    add(record(syn.subarray(0, 40), 102, 300_000_000, { len: syn.length })); // cut inside the TCP header
    const j = s.toJSON();
    expect(j.packets).toBe(6);
    expect(j.bytes).toBe(echo.length + 2 * syn.length + who.length + dns.length + overlay.length);
    expect(j.capturedBytes).toBe(j.bytes - (syn.length - 40));
    expect(j.first).toBe('99.999999999');
    expect(j.last).toBe('102.300000000');
    expect(j.durationSec).toBeCloseTo(2.300000001, 9);
    expect(j.protocols).toEqual({
      arp: { packets: 1, bytes: who.length },
      icmp: { packets: 1, bytes: echo.length },
      tcp: { packets: 1, bytes: syn.length },
      udp: { packets: 1, bytes: dns.length },
      vxlan: { packets: 1, bytes: overlay.length },
      ipv4: { packets: 1, bytes: syn.length },
    });
    expect(j.truncated).toEqual({ tcp: 1 });
    expect(j.malformed).toEqual({});
    expect(j.interfaces).toBeUndefined();
    const text = s.render();
    expect(text).toMatch(/^packets +6$/m);
    expect(text).toMatch(/^duration +2\.300000 s$/m);
    expect(text).toMatch(/^truncated +1 \(tcp 1\)$/m);
    expect(JSON.parse(s.renderJson()).summary.packets).toBe(6);
  });

  it('lists interfaces when there are several or they have names', () => {
    const view = new PacketView();
    const s = new ProtocolSummary();
    for (const [i, name] of [[0, 'node1/cni0'], [1, 'node2/cni0'], [1, 'node2/cni0']] as const) {
      const r = record(echo, 1, 0, { ifIndex: i, iface: name });
      decodeRecord(view, r);
      s.add(view, r);
    }
    expect(s.toJSON().interfaces).toEqual([
      { index: 0, name: 'node1/cni0', packets: 1, bytes: echo.length },
      { index: 1, name: 'node2/cni0', packets: 2, bytes: 2 * echo.length },
    ]);
    expect(s.render()).toMatch(/^node2\/cni0 +2 +196$/m);
  });

  it('says zero for an empty input', () => {
    const j = new ProtocolSummary().toJSON();
    expect(j).toEqual({ packets: 0, bytes: 0, capturedBytes: 0, durationSec: 0, protocols: {}, truncated: {}, malformed: {} });
    expect(new ProtocolSummary().render()).toMatch(/^packets +0\n/);
  });
});
