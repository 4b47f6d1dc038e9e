/**
 * pcap and pcapng writers. Records are serialised into a large batch buffer and handed to the output stream
 * one batch at a time (few syscalls, no per-record allocation). A timer flushes a partly filled batch so a
 * slow live capture still reaches a pipe reader promptly. Backpressure: by default nothing is ever dropped
 * (the stream queues); with `maxQueuedBytes` a live capture sheds records instead of growing without bound,
 * counting them in `dropped`. Offline producers can await `waitForDrain()` while `congested` is true.
 */
import { isIP } from 'net';
import os from 'os';
import type { PacketRecord } from './record';
import { tsToNanos } from './timestamp';

const BATCH_BYTES = 1 << 20;
const DEFAULT_FLUSH_MS = 200;
const DEFAULT_SNAPLEN = 262144;

export interface WriterOutputOptions {
  /** Flush a partly filled batch this long after its first record (ms; 0 = only when full or on close). Default 200. */
  flushIntervalMs?: number;
  /** Drop records (counted in `dropped`) while more than this many bytes wait in the stream. Default: never drop. */
  maxQueuedBytes?: number;
  /** End the stream on close(). Default true, except for process.stdout/stderr which stay open. */
  endOutput?: boolean;
}

/** Batching, flushing, backpressure and close shared by both file formats. */
class BatchedOutput {
  private batch: Buffer = Buffer.allocUnsafe(BATCH_BYTES);
  private used = 0;
  private timer: NodeJS.Timeout | null = null;
  private congestedFlag = false;
  private drainWaiters: Array<() => void> = [];
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;
  dropped = 0;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly opts: WriterOutputOptions,
  ) {
    out.on('error', (e: Error) => {
      if (this.failure === null) this.failure = e;
      this.releaseWaiters();
    });
    out.on('drain', () => {
      this.congestedFlag = false;
      this.releaseWaiters();
    });
  }

  get error(): Error | null {
    return this.failure;
  }

  get congested(): boolean {
    return this.congestedFlag;
  }

  /** Whether the next record should be shed: output failed/closed, or the stream is too far behind. */
  shouldDrop(): boolean {
    const max = this.opts.maxQueuedBytes;
    if (this.failure !== null || this.closing !== null) return true;
    if (max === undefined || !this.congestedFlag) return false;
    const queued = (this.out as { writableLength?: number }).writableLength ?? 0;
    return queued + this.used > max;
  }

  /** Space for `n` contiguous bytes in `buf` (read it after this call: a flush swaps it); returns the offset. */
  reserve(n: number): number {
    if (this.used + n > this.batch.length) {
      this.flush();
      if (n > this.batch.length) this.batch = Buffer.allocUnsafe(n);
    }
    const at = this.used;
    this.used += n;
    if (this.timer === null && this.opts.flushIntervalMs !== 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.opts.flushIntervalMs ?? DEFAULT_FLUSH_MS);
      this.timer.unref();
    }
    return at;
  }

  get buf(): Buffer {
    return this.batch;
  }

  /** Hands the filled part of the batch to the stream; the stream owns it from now on. */
  flush(): void {
    if (this.used === 0 || this.failure !== null) return;
    const chunk = this.used === this.batch.length ? this.batch : this.batch.subarray(0, this.used);
    // A fresh batch: the stream (or a PassThrough's reader) may hold on to the old one.
    this.batch = Buffer.allocUnsafe(BATCH_BYTES);
    this.used = 0;
    if (!this.out.write(chunk)) this.congestedFlag = true;
  }

  waitForDrain(): Promise<void> {
    if (!this.congestedFlag || this.failure !== null) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private releaseWaiters(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.flush();
    const out = this.out;
    const endIt = this.opts.endOutput ?? (out !== process.stdout && out !== process.stderr);
    this.closing = new Promise<void>((resolve, reject) => {
      if (this.failure !== null) {
        reject(this.failure);
        return;
      }
      const done = (e?: Error | null): void => {
        const err = e ?? this.failure;
        if (err) reject(err);
        else resolve();
      };
      out.once('error', (e: Error) => done(e));
      // Node passes the stream's error (if any) to these callbacks; the WritableStream typing omits it.
      const cb = (e?: Error | null): void => done(e);
      if (endIt) (out.end as (cb: (e?: Error | null) => void) => void).call(out, cb);
      else out.write(Buffer.alloc(0), cb);
    });
    return this.closing;
  }
}

/** What both file formats expose about their output: counts, backpressure, flush and close. */
abstract class CaptureFileWriter {
  protected readonly o: BatchedOutput;
  protected count = 0;

  protected constructor(out: NodeJS.WritableStream, opts: WriterOutputOptions) {
    this.o = new BatchedOutput(out, opts);
  }

  /** Records written (not counting dropped ones). */
  get records(): number {
    return this.count;
  }
  /** Records shed because the output fell more than `maxQueuedBytes` behind. */
  get dropped(): number {
    return this.o.dropped;
  }
  /** True while the output stream asks us to slow down. */
  get congested(): boolean {
    return this.o.congested;
  }
  /** The output stream's error, if it failed (later writes are dropped). */
  get error(): Error | null {
    return this.o.error;
  }
  waitForDrain(): Promise<void> {
    return this.o.waitForDrain();
  }
  flush(): void {
    this.o.flush();
  }

  /** Flushes everything and waits until the stream has taken it (and ends it, see `endOutput`). */
  close(): Promise<void> {
    return this.o.close();
  }
}

/** Classic pcap writer (one link type per file). */
export class PcapWriter extends CaptureFileWriter {
  private readonly snaplen: number;
  private readonly nanosecond: boolean;

  constructor(
    out: NodeJS.WritableStream,
    opts: { linktype: number; snaplen?: number; nanosecond?: boolean } & WriterOutputOptions,
  ) {
    super(out, opts);
    this.snaplen = opts.snaplen !== undefined && opts.snaplen > 0 ? opts.snaplen : DEFAULT_SNAPLEN;
    this.nanosecond = opts.nanosecond === true;
    const at = this.o.reserve(24);
    const b = this.o.buf;
    b.writeUInt32LE(this.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4, at);
    b.writeUInt16LE(2, at + 4);
    b.writeUInt16LE(4, at + 6);
    b.writeInt32LE(0, at + 8); // thiszone
    b.writeUInt32LE(0, at + 12); // sigfigs
    b.writeUInt32LE(this.snaplen, at + 16);
    b.writeUInt32LE(opts.linktype >>> 0, at + 20);
  }

  /** Appends one record; a record longer than the snaplen is cut to it (len keeps the wire length). */
  write(rec: PacketRecord): void {
    if (this.o.shouldDrop()) {
      this.o.dropped++;
      return;
    }
    const caplen = clampCaplen(rec, this.snaplen);
    const at = this.o.reserve(16 + caplen);
    const b = this.o.buf;
    b.writeUInt32LE(rec.tsSec >>> 0, at);
    b.writeUInt32LE(this.nanosecond ? rec.tsNsec : Math.floor(rec.tsNsec / 1000), at + 4);
    b.writeUInt32LE(caplen, at + 8);
    b.writeUInt32LE(rec.len >>> 0, at + 12);
    rec.buf.copy(b, at + 16, rec.offset, rec.offset + caplen);
    this.count++;
  }
}

/** Bytes to store: caplen cut to the snaplen, and never past the end of the record's buffer. */
function clampCaplen(rec: PacketRecord, snaplen: number): number {
  let n = rec.caplen > snaplen ? snaplen : rec.caplen;
  const room = rec.buf.length - rec.offset;
  if (n > room) n = room > 0 ? room : 0;
  return n;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** pcapng writer: one section, any number of interfaces (each with its own link type), ns timestamps. */
export class PcapngWriter extends CaptureFileWriter {
  private readonly snaplens: number[] = [];
  private readonly ts = { hi: 0, lo: 0 };

  constructor(out: NodeJS.WritableStream, opts?: { application?: string } & WriterOutputOptions) {
    super(out, opts ?? {});
    const app = Buffer.from(opts?.application ?? 'netscope', 'utf8');
    const osName = Buffer.from(`${os.type()} ${os.release()}`, 'utf8');
    // SHB: type, length, byte-order magic, version 1.0, section length unknown (-1), options, length.
    const len = 28 + 4 + pad4(app.length) + 4 + pad4(osName.length) + 4;
    const at = this.o.reserve(len);
    const b = this.o.buf;
    b.fill(0, at, at + len);
    b.writeUInt32LE(0x0a0d0d0a, at);
    b.writeUInt32LE(len, at + 4);
    b.writeUInt32LE(0x1a2b3c4d, at + 8);
    b.writeUInt16LE(1, at + 12);
    b.writeUInt16LE(0, at + 14);
    b.writeInt32LE(-1, at + 16);
    b.writeInt32LE(-1, at + 20);
    let p = at + 24;
    p = writeOption(b, p, 3, osName); // shb_os
    p = writeOption(b, p, 4, app); // shb_userappl
    b.writeUInt32LE(0, p); // opt_endofopt
    b.writeUInt32LE(len, at + len - 4);
  }

  /** Declares an interface (IDB with if_name and if_tsresol 9); returns its id for `write`. */
  addInterface(name: string, linktype: number, snaplen?: number): number {
    const snap = snaplen !== undefined && snaplen > 0 ? snaplen : DEFAULT_SNAPLEN;
    const nameBuf = Buffer.from(name, 'utf8');
    const len = 16 + 4 + pad4(nameBuf.length) + 4 + 4 + 4 + 4;
    const at = this.o.reserve(len);
    const b = this.o.buf;
    b.fill(0, at, at + len);
    b.writeUInt32LE(1, at);
    b.writeUInt32LE(len, at + 4);
    b.writeUInt16LE(linktype & 0xffff, at + 8);
    b.writeUInt32LE(snap, at + 12);
    let p = at + 16;
    p = writeOption(b, p, 2, nameBuf); // if_name
    b.writeUInt16LE(9, p); // if_tsresol: 10^-9 s
    b.writeUInt16LE(1, p + 2);
    b[p + 4] = 9;
    p += 8;
    b.writeUInt32LE(0, p); // opt_endofopt
    b.writeUInt32LE(len, at + len - 4);
    this.snaplens.push(snap);
    return this.snaplens.length - 1;
  }

  /**
   * Writes a Name Resolution Block: each address (IPv4 or IPv6 text) with its names, e.g. a pod IP →
   * "web-0.default", which Wireshark and tshark -N n show in place of the address. Addresses that are not valid
   * IPs, and empty name lists, are skipped; nothing is written when nothing is left.
   */
  addNameResolution(entries: ReadonlyArray<{ ip: string; names: readonly string[] }>): void {
    const records: Buffer[] = [];
    for (const e of entries) {
      const addr = ipBytes(e.ip);
      const names = e.names.filter((n) => n !== '' && !n.includes('\0'));
      if (addr === null || names.length === 0) continue;
      const value = Buffer.concat([addr, ...names.map((n) => Buffer.from(`${n}\0`, 'utf8'))]);
      if (value.length > 0xffff) continue;
      const rec = Buffer.alloc(4 + pad4(value.length));
      rec.writeUInt16LE(addr.length === 4 ? 1 : 2, 0); // nrb_record_ipv4 / nrb_record_ipv6
      rec.writeUInt16LE(value.length, 2);
      value.copy(rec, 4);
      records.push(rec);
    }
    if (records.length === 0) return;
    const body = Buffer.concat([...records, Buffer.alloc(4)]); // nrb_record_end
    const len = 8 + body.length + 4;
    const at = this.o.reserve(len);
    const b = this.o.buf;
    b.writeUInt32LE(4, at);
    b.writeUInt32LE(len, at + 4);
    body.copy(b, at + 8);
    b.writeUInt32LE(len, at + len - 4);
  }

  /** Appends one record as an Enhanced Packet Block on interface `ifId` (from addInterface). */
  write(ifId: number, rec: PacketRecord): void {
    const snap = this.snaplens[ifId];
    if (snap === undefined) throw new RangeError(`pcapng write: interface ${ifId} was not added (have ${this.snaplens.length})`);
    if (this.o.shouldDrop()) {
      this.o.dropped++;
      return;
    }
    const caplen = clampCaplen(rec, snap);
    const len = 32 + pad4(caplen);
    const at = this.o.reserve(len);
    const b = this.o.buf;
    tsToNanos(rec.tsSec, rec.tsNsec, this.ts);
    b.writeUInt32LE(6, at);
    b.writeUInt32LE(len, at + 4);
    b.writeUInt32LE(ifId, at + 8);
    b.writeUInt32LE(this.ts.hi, at + 12);
    b.writeUInt32LE(this.ts.lo, at + 16);
    b.writeUInt32LE(caplen, at + 20);
    b.writeUInt32LE(rec.len >>> 0, at + 24);
    rec.buf.copy(b, at + 28, rec.offset, rec.offset + caplen);
    for (let p = at + 28 + caplen; p < at + len - 4; p++) b[p] = 0;
    b.writeUInt32LE(len, at + len - 4);
    this.count++;
  }
}

/** 4 (IPv4) or 16 (IPv6) address bytes, or null when `ip` is not an address. */
function ipBytes(ip: string): Buffer | null {
  const fam = isIP(ip);
  if (fam === 4) return Buffer.from(ip.split('.').map(Number));
  if (fam !== 6) return null;
  return ipv6Bytes(ip.replace(/%.*$/, ''));
}

function ipv6Bytes(ip: string): Buffer {
  const out = Buffer.alloc(16);
  let text = ip;
  // An IPv4 tail ("::ffff:1.2.3.4") becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1].split('.').map(Number);
    text = `${text.slice(0, -v4[1].length)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) & 0xffff, i * 2));
  return out;
}

/** Writes option `code` with `value` (zero-padded to 4) at p; returns the offset after it. */
function writeOption(b: Buffer, p: number, code: number, value: Buffer): number {
  b.writeUInt16LE(code, p);
  b.writeUInt16LE(value.length, p + 2);
  value.copy(b, p + 4);
  return p + 4 + pad4(value.length);
}
