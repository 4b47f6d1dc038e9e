/**
 * Streaming reader for classic pcap and pcapng: a push parser (`CaptureParser`) fed chunks of any size, so the
 * same code reads a file, a pipe or an agent's stdout without seeking. Records that lie wholly inside a chunk
 * are delivered in place (no copy); only a record that spans two chunks is assembled in a reused carry buffer.
 * Every length is checked before it is trusted; damage ends the stream with one `ReadError` after every
 * complete record before it has been delivered.
 */
import fs from 'fs';
import { blankRecord, type InterfaceInfo, type PacketRecord, type ReadError, type RecordHandler } from './record';
import { parseTsResol, unitsToTs } from './timestamp';

/** libpcap's MAXIMUM_SNAPLEN: no sane capture has a larger record. */
export const DEFAULT_MAX_CAPLEN = 262144;
/** Largest pcapng block we buffer (libpcap uses the same 16 MiB ceiling). */
const MAX_BLOCK = 16 * 1024 * 1024;
/** Carry buffer size kept between records (a maximum-size record fits). */
const CARRY_KEEP = 512 * 1024;

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
/** Alexey Kuznetzov's patched libpcap: 8 more bytes per record header (ifindex, protocol, pkt_type). */
const PCAP_MAGIC_KUZNETZOV = 0xa1b2cd34;
const PCAP_FILE_HEADER = 24;

const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 1;
const BT_OPB = 2;
const BT_SPB = 3;
const BT_EPB = 6;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPT_ENDOFOPT = 0;
const OPT_IF_NAME = 2;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

export type CaptureFormat = 'pcap' | 'pcapng';

export interface CaptureParserOptions {
  /** Hard maximum for a record's captured length; larger is treated as corruption. Default 262144. */
  maxCaplen?: number;
}

function u16(b: Buffer, p: number, le: boolean): number {
  return le ? b[p] | (b[p + 1] << 8) : (b[p] << 8) | b[p + 1];
}

function u32(b: Buffer, p: number, le: boolean): number {
  return le
    ? (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)) + b[p + 3] * 0x1000000
    : b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
}

function blockName(type: number): string {
  switch (type) {
    case BT_SHB:
      return 'section header block';
    case BT_IDB:
      return 'interface description block';
    case BT_EPB:
      return 'enhanced packet block';
    case BT_SPB:
      return 'simple packet block';
    case BT_OPB:
      return 'packet block';
    default:
      return `block (type 0x${type.toString(16)})`;
  }
}

/** Push parser for pcap and pcapng; the format is recognised from the first 4 bytes. */
export class CaptureParser {
  private readonly onRecord: RecordHandler;
  private readonly maxCaplen: number;
  private readonly maxBlock: number;
  private readonly rec: PacketRecord;

  private fmt: CaptureFormat | undefined = undefined;
  private err: ReadError | null = null;
  private ended = false;
  private delivered = 0;
  private consumed = 0;

  /** Bytes of a unit that spans chunks, gathered until it is complete. */
  private carry: Buffer = Buffer.allocUnsafe(0);
  private carryLen = 0;

  // Classic pcap state.
  private headerDone = false;
  private le = true;
  private nanos = false;
  private recHdr = 16;
  private snaplen = 0;
  private linktype = 0;

  // pcapng state: interfaces of all sections (global index), and the current section's slice of them.
  private readonly ifs: InterfaceInfo[] = [];
  private readonly ifSnap: number[] = [];
  private readonly ifPow2: boolean[] = [];
  private readonly ifExp: number[] = [];
  private readonly ifOffset: number[] = [];
  private sectionBase = 0;
  private sectionSeen = false;

  constructor(onRecord: RecordHandler, opts?: CaptureParserOptions) {
    this.onRecord = onRecord;
    const max = opts?.maxCaplen;
    this.maxCaplen = max !== undefined && Number.isInteger(max) && max > 0 ? max : DEFAULT_MAX_CAPLEN;
    this.maxBlock = Math.max(MAX_BLOCK, this.maxCaplen + 4096);
    // All fields initialised in a fixed order so every record has one hidden class.
    this.rec = blankRecord(this.carry);
  }

  get error(): ReadError | null {
    return this.err;
  }
  get format(): CaptureFormat | undefined {
    return this.fmt;
  }
  /** Interfaces seen so far; `rec.ifIndex` indexes this array. A classic pcap file has exactly one. */
  get interfaces(): InterfaceInfo[] {
    return this.ifs;
  }
  get records(): number {
    return this.delivered;
  }
  /** Bytes consumed: the stream offset of the first byte not yet part of a delivered/skipped unit. */
  get offset(): number {
    return this.consumed;
  }

  /** Feeds the next bytes of the stream. Returns false once the stream is known to be damaged. */
  push(chunk: Buffer): boolean {
    if (this.err !== null) return false;
    if (this.ended) return this.fail(this.consumed + this.carryLen, 'data pushed after end()');
    const n = chunk.length;
    if (n === 0) return true;
    let pos = 0;
    if (this.carryLen > 0) {
      pos = this.fillCarry(chunk);
      if (this.err !== null) return false;
      if (this.carryLen > 0) return true; // the chunk went entirely into the pending unit
    }
    pos = this.frame(chunk, pos, n);
    if (this.err !== null) return false;
    if (pos < n) {
      const rest = n - pos;
      this.ensureCarry(rest);
      chunk.copy(this.carry, 0, pos, n);
      this.carryLen = rest;
    }
    return true;
  }

  /** Call at end of input: null if the stream ended cleanly at a unit boundary, else the error. */
  end(): ReadError | null {
    if (this.err !== null) return this.err;
    if (this.ended) return null;
    this.ended = true;
    if (this.fmt === undefined && this.carryLen === 0) {
      this.fail(0, 'empty input: no pcap or pcapng file header');
    } else if (this.carryLen > 0) {
      this.fail(this.consumed, this.describeTruncation());
    }
    return this.err;
  }

  private fail(offset: number, message: string): false {
    if (this.err === null) this.err = { offset, message };
    return false;
  }

  private ensureCarry(n: number): void {
    if (this.carry.length >= n) return;
    let size = Math.max(this.carry.length * 2, CARRY_KEEP);
    while (size < n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    if (this.carryLen > 0) this.carry.copy(next, 0, 0, this.carryLen);
    this.carry = next;
  }

  /** Tops up the pending unit from `chunk`; processes it once complete. Returns bytes taken from the chunk. */
  private fillCarry(chunk: Buffer): number {
    let taken = 0;
    for (;;) {
      const need = this.unitSize(this.carry, 0, this.carryLen);
      if (need < 0) return taken;
      if (need <= this.carryLen) {
        // Units are only ever gathered up to their exact size, so carryLen === need here.
        this.carryLen = 0;
        this.unit(this.carry, 0, need);
        // Don't keep a multi-MiB buffer for the rest of the stream because one block was huge.
        if (this.carry.length > CARRY_KEEP) this.carry = Buffer.allocUnsafe(CARRY_KEEP);
        return taken;
      }
      const avail = chunk.length - taken;
      if (avail === 0) return taken;
      this.ensureCarry(need);
      const n = Math.min(need - this.carryLen, avail);
      chunk.copy(this.carry, this.carryLen, taken, taken + n);
      this.carryLen += n;
      taken += n;
    }
  }

  /** Processes every complete unit in buf[pos, end); returns where the first incomplete unit starts. */
  private frame(buf: Buffer, pos: number, end: number): number {
    for (;;) {
      // Re-read each time: the unit below may have just recognised the format or read the pcap header.
      const fmt = this.fmt as CaptureFormat | undefined;
      if (fmt === 'pcapng') return this.framePcapng(buf, pos, end);
      if (fmt === 'pcap' && this.headerDone) return this.framePcapRecords(buf, pos, end);
      if (pos >= end) return pos;
      const need = this.unitSize(buf, pos, end - pos);
      if (need < 0 || need > end - pos) return pos;
      this.unit(buf, pos, need);
      if (this.err !== null) return pos;
      pos += need;
    }
  }

  /**
   * pcapng blocks lying wholly inside buf[pos, end). A well-formed EPB (the bulk of any file) is handled
   * inline; every other block, and any EPB that fails a check, takes the general path, which also
   * produces the error message.
   */
  private framePcapng(buf: Buffer, pos: number, end: number): number {
    const rec = this.rec;
    const onRecord = this.onRecord;
    const max = this.maxCaplen;
    while (end - pos >= 8) {
      const le = this.le;
      if (this.sectionSeen && u32(buf, pos, le) === BT_EPB) {
        const len = u32(buf, pos + 4, le);
        if (len >= 32 && (len & 3) === 0 && len <= this.maxBlock) {
          if (end - pos < len) return pos;
          const idx = this.sectionBase + u32(buf, pos + 8, le);
          const caplen = u32(buf, pos + 20, le);
          if (idx < this.ifs.length && caplen <= max && 32 + ((caplen + 3) & ~3) <= len && u32(buf, pos + len - 4, le) === len) {
            unitsToTs(u32(buf, pos + 12, le), u32(buf, pos + 16, le), this.ifPow2[idx], this.ifExp[idx], this.ifOffset[idx], rec);
            const snap = this.ifSnap[idx];
            const info = this.ifs[idx];
            rec.buf = buf;
            rec.offset = pos + 28;
            rec.caplen = caplen > snap ? snap : caplen;
            rec.len = u32(buf, pos + 24, le);
            rec.linktype = info.linktype;
            rec.ifIndex = idx;
            rec.iface = info.name;
            pos += len;
            this.consumed += len;
            this.delivered++;
            onRecord(rec);
            continue;
          }
        }
      }
      const need = this.unitSize(buf, pos, end - pos);
      if (need < 0 || need > end - pos) return pos;
      this.unit(buf, pos, need);
      if (this.err !== null) return pos;
      pos += need;
    }
    return pos;
  }

  /**
   * Hot loop for classic pcap records lying wholly inside buf[pos, end): no calls but the handler, no
   * allocation. Also delivers a single record assembled in the carry buffer.
   */
  private framePcapRecords(buf: Buffer, pos: number, end: number): number {
    const le = this.le;
    const h = this.recHdr;
    const max = this.maxCaplen;
    const rec = this.rec;
    const onRecord = this.onRecord;
    // Fixed once the file header is read: locals spare two loads per record (the handler call in the
    // loop keeps the compiler from hoisting them).
    const nanos = this.nanos;
    const snaplen = this.snaplen;
    rec.buf = buf;
    while (end - pos >= h) {
      const caplen = u32(buf, pos + 8, le);
      if (caplen > max) {
        this.fail(this.consumed, `record at byte ${this.consumed}: captured length ${caplen} exceeds the maximum ${max} (corrupt file?)`);
        return pos;
      }
      const total = h + caplen;
      if (end - pos < total) break;
      let sec = u32(buf, pos, le);
      let frac = u32(buf, pos + 4, le);
      if (nanos) {
        if (frac > 999999999) {
          sec += Math.floor(frac / 1e9);
          frac %= 1e9;
        }
      } else {
        if (frac > 999999) {
          sec += Math.floor(frac / 1e6);
          frac %= 1e6;
        }
        frac *= 1000;
      }
      rec.offset = pos + h;
      rec.caplen = caplen > snaplen ? snaplen : caplen;
      rec.len = u32(buf, pos + 12, le);
      rec.tsSec = sec;
      rec.tsNsec = frac;
      pos += total;
      this.consumed += total;
      this.delivered++;
      onRecord(rec);
    }
    return pos;
  }

  /**
   * Size of the unit starting at buf[pos] given `avail` bytes: the header size while the header is
   * incomplete, then the full unit size. -1 after recording an error (bad magic, length out of range).
   */
  private unitSize(buf: Buffer, pos: number, avail: number): number {
    const at = this.consumed;
    if (this.fmt === undefined) {
      if (avail < 4) return 4;
      const magic = buf.readUInt32BE(pos);
      if (magic === BT_SHB) {
        this.fmt = 'pcapng';
      } else {
        const swapped = buf.readUInt32LE(pos);
        if (
          magic === PCAP_MAGIC_US || magic === PCAP_MAGIC_NS || magic === PCAP_MAGIC_KUZNETZOV ||
          swapped === PCAP_MAGIC_US || swapped === PCAP_MAGIC_NS || swapped === PCAP_MAGIC_KUZNETZOV
        ) {
          this.fmt = 'pcap';
        } else {
          this.fail(0, `not a pcap or pcapng file: unknown magic number 0x${magic.toString(16).padStart(8, '0')} at byte 0`);
          return -1;
        }
      }
    }
    if (this.fmt === 'pcap') {
      if (!this.headerDone) return PCAP_FILE_HEADER;
      const h = this.recHdr;
      if (avail < h) return h;
      const caplen = u32(buf, pos + 8, this.le);
      if (caplen > this.maxCaplen) {
        this.fail(at, `record at byte ${at}: captured length ${caplen} exceeds the maximum ${this.maxCaplen} (corrupt file?)`);
        return -1;
      }
      return h + caplen;
    }
    // pcapng: type + length, and for a section header the byte-order magic that says how to read them.
    if (avail < 8) return 8;
    const type = u32(buf, pos, this.le);
    let le = this.le;
    if (type === BT_SHB) {
      if (avail < 12) return 12;
      if (buf.readUInt32LE(pos + 8) === BYTE_ORDER_MAGIC) le = true;
      else if (buf.readUInt32BE(pos + 8) === BYTE_ORDER_MAGIC) le = false;
      else {
        this.fail(at, `bad section header block at byte ${at}: byte-order magic 0x${buf.readUInt32BE(pos + 8).toString(16)} is neither 0x1a2b3c4d nor its swap`);
        return -1;
      }
    } else if (!this.sectionSeen) {
      this.fail(at, `bad pcapng file at byte ${at}: ${blockName(type)} before any section header block`);
      return -1;
    }
    const len = u32(buf, pos + 4, le);
    const min = type === BT_SHB ? 28 : 12;
    if (len < min || len % 4 !== 0 || len > this.maxBlock) {
      const why =
        len < min ? `is less than the minimum ${min}` : len % 4 !== 0 ? 'is not a multiple of 4' : `exceeds the maximum ${this.maxBlock}`;
      this.fail(at, `bad ${blockName(type)} at byte ${at}: block length ${len} ${why}`);
      return -1;
    }
    return len;
  }

  /** Processes one complete unit of `size` bytes at buf[pos]; advances the stream offset unless it fails. */
  private unit(buf: Buffer, pos: number, size: number): void {
    if (this.fmt === 'pcap') {
      if (!this.headerDone) {
        if (!this.pcapHeader(buf, pos)) return;
      } else {
        // A record assembled in the carry buffer: the hot loop delivers exactly this one.
        this.framePcapRecords(buf, pos, pos + size);
        return;
      }
      this.consumed += size;
      return;
    }
    // Advance first so `offset` is the end of the block while the handler runs (as for classic pcap).
    const at = this.consumed;
    this.consumed += size;
    if (!this.pcapngBlock(buf, pos, size, at)) this.consumed = at;
  }

  private pcapHeader(buf: Buffer, pos: number): boolean {
    const magicBE = buf.readUInt32BE(pos);
    const le = magicBE !== PCAP_MAGIC_US && magicBE !== PCAP_MAGIC_NS && magicBE !== PCAP_MAGIC_KUZNETZOV;
    const magic = le ? buf.readUInt32LE(pos) : magicBE;
    const major = u16(buf, pos + 4, le);
    const minor = u16(buf, pos + 6, le);
    if (major !== 2) {
      return this.fail(0, `unsupported pcap version ${major}.${minor} (only 2.x is defined)`);
    }
    const snaplen = u32(buf, pos + 16, le);
    const linkField = u32(buf, pos + 20, le);
    this.le = le;
    this.nanos = magic === PCAP_MAGIC_NS;
    this.recHdr = magic === PCAP_MAGIC_KUZNETZOV ? 24 : 16;
    // Like libpcap: a snaplen of 0 or above the maximum means "the maximum".
    this.snaplen = snaplen === 0 || snaplen > this.maxCaplen ? this.maxCaplen : snaplen;
    // The upper bits carry FCS-length flags; the link type is the low 16 bits.
    this.linktype = linkField & 0xffff;
    this.ifs.push({ linktype: this.linktype, snaplen, name: undefined });
    const rec = this.rec;
    rec.linktype = this.linktype;
    rec.ifIndex = 0;
    rec.iface = undefined;
    this.headerDone = true;
    return true;
  }

  private pcapngBlock(buf: Buffer, pos: number, size: number, at: number): boolean {
    const type = u32(buf, pos, this.le);
    let le = this.le;
    if (type === BT_SHB) le = buf.readUInt32LE(pos + 8) === BYTE_ORDER_MAGIC;
    const trailer = u32(buf, pos + size - 4, le);
    if (trailer !== size) {
      return this.fail(at, `bad ${blockName(type)} at byte ${at}: trailing length ${trailer} differs from leading length ${size}`);
    }
    switch (type) {
      case BT_SHB:
        return this.sectionHeader(buf, pos, le, at);
      case BT_IDB:
        return this.interfaceDescription(buf, pos, size, at);
      case BT_EPB:
      case BT_OPB:
        return this.packetBlock(buf, pos, size, type, at);
      case BT_SPB:
        return this.simplePacket(buf, pos, size, at);
      default:
        return true; // statistics, name resolution, custom, secrets…: not needed to deliver packets
    }
  }

  private sectionHeader(buf: Buffer, pos: number, le: boolean, at: number): boolean {
    const major = u16(buf, pos + 12, le);
    const minor = u16(buf, pos + 14, le);
    if (major !== 1) {
      return this.fail(at, `unsupported pcapng version ${major}.${minor} in section header at byte ${at}`);
    }
    this.le = le;
    this.sectionSeen = true;
    this.sectionBase = this.ifs.length;
    return true;
  }

  private interfaceDescription(buf: Buffer, pos: number, size: number, at: number): boolean {
    if (size < 20) return this.fail(at, `bad interface description block at byte ${at}: block length ${size} is less than 20`);
    const le = this.le;
    const linktype = u16(buf, pos + 8, le);
    const snaplen = u32(buf, pos + 12, le);
    let name: string | undefined;
    let resol = 6;
    let offset = 0;
    const end = pos + size - 4;
    let p = pos + 16;
    while (p + 4 <= end) {
      const code = u16(buf, p, le);
      const olen = u16(buf, p + 2, le);
      if (code === OPT_ENDOFOPT) break;
      const v = p + 4;
      if (v + olen > end) {
        return this.fail(at, `bad interface description block at byte ${at}: option ${code} at byte ${at + (p - pos)} has length ${olen}, past the end of the block`);
      }
      if (code === OPT_IF_NAME) {
        let e = v + olen;
        while (e > v && buf[e - 1] === 0) e--;
        name = buf.toString('utf8', v, e);
      } else if (code === OPT_IF_TSRESOL && olen >= 1) {
        resol = buf[v];
      } else if (code === OPT_IF_TSOFFSET && olen >= 8) {
        const lo = u32(buf, v + (le ? 0 : 4), le);
        const hi = u32(buf, v + (le ? 4 : 0), le);
        offset = (hi | 0) * 4294967296 + lo; // signed seconds
      }
      p = v + ((olen + 3) & ~3);
    }
    const res = parseTsResol(resol);
    if (res === undefined) {
      return this.fail(at, `bad interface description block at byte ${at}: unsupported if_tsresol 0x${resol.toString(16)}`);
    }
    this.ifs.push({ linktype, snaplen, name });
    this.ifSnap.push(snaplen === 0 || snaplen > this.maxCaplen ? this.maxCaplen : snaplen);
    this.ifPow2.push(res.pow2);
    this.ifExp.push(res.exp);
    this.ifOffset.push(offset);
    return true;
  }

  /** Resolves a section-local interface id to the global index, or records an error and returns -1. */
  private globalInterface(localId: number, what: string, at: number): number {
    const idx = this.sectionBase + localId;
    if (idx >= this.ifs.length) {
      const n = this.ifs.length - this.sectionBase;
      this.fail(at, `bad ${what} at byte ${at}: interface id ${localId} is unknown (the section has ${n} interface description block${n === 1 ? '' : 's'} so far)`);
      return -1;
    }
    return idx;
  }

  private packetBlock(buf: Buffer, pos: number, size: number, type: number, at: number): boolean {
    const what = blockName(type);
    if (size < 32) return this.fail(at, `bad ${what} at byte ${at}: block length ${size} is less than 32`);
    const le = this.le;
    const localId = type === BT_EPB ? u32(buf, pos + 8, le) : u16(buf, pos + 8, le);
    const idx = this.globalInterface(localId, what, at);
    if (idx < 0) return false;
    const caplen = u32(buf, pos + 20, le);
    if (caplen > this.maxCaplen) {
      return this.fail(at, `bad ${what} at byte ${at}: captured length ${caplen} exceeds the maximum ${this.maxCaplen} (corrupt file?)`);
    }
    if (28 + ((caplen + 3) & ~3) + 4 > size) {
      return this.fail(at, `bad ${what} at byte ${at}: captured length ${caplen} does not fit in a block of ${size} bytes`);
    }
    const rec = this.rec;
    unitsToTs(u32(buf, pos + 12, le), u32(buf, pos + 16, le), this.ifPow2[idx], this.ifExp[idx], this.ifOffset[idx], rec);
    const snap = this.ifSnap[idx];
    rec.buf = buf;
    rec.offset = pos + 28;
    rec.caplen = caplen > snap ? snap : caplen;
    rec.len = u32(buf, pos + 24, le);
    this.deliver(idx);
    return true;
  }

  private simplePacket(buf: Buffer, pos: number, size: number, at: number): boolean {
    if (size < 16) return this.fail(at, `bad simple packet block at byte ${at}: block length ${size} is less than 16`);
    const idx = this.globalInterface(0, 'simple packet block', at);
    if (idx < 0) return false;
    const len = u32(buf, pos + 8, this.le);
    let caplen = size - 16;
    if (len < caplen) caplen = len; // the rest is padding
    const snap = this.ifSnap[idx];
    if (caplen > snap) caplen = snap;
    const rec = this.rec;
    rec.buf = buf;
    rec.offset = pos + 12;
    rec.caplen = caplen;
    rec.len = len;
    rec.tsSec = 0; // simple packet blocks carry no timestamp
    rec.tsNsec = 0;
    this.deliver(idx);
    return true;
  }

  private deliver(idx: number): void {
    const rec = this.rec;
    const info = this.ifs[idx];
    rec.linktype = info.linktype;
    rec.ifIndex = idx;
    rec.iface = info.name;
    this.delivered++;
    this.onRecord(rec);
  }

  /** Describes the incomplete unit left in the carry buffer at end of input. */
  private describeTruncation(): string {
    const at = this.consumed;
    const have = this.carryLen;
    const b = this.carry;
    if (this.fmt === undefined) return `truncated file at byte 0: a 4-byte magic number is needed, ${have} present`;
    if (this.fmt === 'pcap') {
      if (!this.headerDone) return `truncated pcap file header at byte 0: ${PCAP_FILE_HEADER} bytes needed, ${have} present`;
      const h = this.recHdr;
      if (have < h) return `truncated record header at byte ${at}: ${h} bytes needed, ${have} present`;
      const caplen = u32(b, 8, this.le);
      return `truncated record at byte ${at}: header says ${h + caplen} bytes (${h}-byte header + ${caplen} captured), ${have} present`;
    }
    if (have < 8 || (have < 12 && u32(b, 0, this.le) === BT_SHB)) {
      return `truncated block header at byte ${at}: ${have < 8 ? 8 : 12} bytes needed, ${have} present`;
    }
    const type = u32(b, 0, this.le);
    const le = type === BT_SHB ? b.readUInt32LE(8) === BYTE_ORDER_MAGIC : this.le;
    return `truncated ${blockName(type)} at byte ${at}: header says ${u32(b, 4, le)} bytes, ${have} present`;
  }
}

export interface ReadCaptureResult {
  records: number;
  error: ReadError | null;
  format: CaptureFormat | undefined;
  interfaces: InterfaceInfo[];
}

export interface ReadCaptureOptions extends CaptureParserOptions {
  /**
   * Called after each chunk; return a promise to pause reading until it settles (e.g. a writer's
   * `waitForDrain()` while its output is congested), or undefined to continue.
   */
  throttle?: () => Promise<void> | undefined;
  /** Stops reading when aborted (Ctrl-C): resolves with what was read, like the end of the input. */
  signal?: AbortSignal;
}

function describeStreamError(e: unknown, streamPath: unknown): string {
  // Duck-typed: errors from another realm (vm contexts, test sandboxes) fail `instanceof Error`.
  const sys = e as Partial<NodeJS.ErrnoException> | null;
  if (sys !== null && typeof sys === 'object' && typeof sys.message === 'string') {
    const where = typeof sys.path === 'string' ? sys.path : typeof streamPath === 'string' ? streamPath : undefined;
    if (typeof sys.code === 'string' && where !== undefined) {
      // "ENOENT: no such file or directory, open 'x'" → "no such file or directory"
      const reason = sys.message.replace(/^[A-Z0-9_]+: /, '').replace(/, \w+( '.*')?$/, '');
      return `cannot read ${where}: ${reason}`;
    }
    return `read failed: ${sys.message}`;
  }
  return `read failed: ${String(e)}`;
}

/**
 * Reads a whole capture stream, calling `onRecord` for each record. Never rejects for bad input or read
 * errors (they come back as `error`); rejects only if `onRecord` itself throws.
 */
export function readCapture(
  input: NodeJS.ReadableStream,
  onRecord: RecordHandler,
  opts?: ReadCaptureOptions,
): Promise<ReadCaptureResult> {
  const parser = new CaptureParser(onRecord, opts);
  const throttle = opts?.throttle;
  return new Promise((resolve, reject) => {
    let settled = false;
    const cleanup = (): void => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      input.removeListener('error', onError);
    };
    const stop = (): void => {
      cleanup();
      // Don't leave a file descriptor open; stdin is the caller's to close.
      const d = (input as { destroy?: () => void }).destroy;
      if (input !== process.stdin && typeof d === 'function') d.call(input);
      else input.pause();
    };
    const result = (error: ReadError | null): ReadCaptureResult => ({
      records: parser.records,
      error,
      format: parser.format,
      interfaces: parser.interfaces,
    });
    const finish = (error: ReadError | null): void => {
      if (settled) return;
      settled = true;
      resolve(result(error));
    };
    function onData(chunk: Buffer | string): void {
      if (settled) return;
      let ok: boolean;
      try {
        ok = parser.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
      } catch (e) {
        settled = true;
        stop();
        reject(e);
        return;
      }
      if (!ok) {
        stop();
        finish(parser.error);
        return;
      }
      const wait = throttle?.();
      if (wait !== undefined) {
        input.pause();
        wait.then(
          () => {
            if (!settled) input.resume();
          },
          () => {
            if (!settled) input.resume();
          },
        );
      }
    }
    function onEnd(): void {
      cleanup();
      finish(parser.end());
    }
    function onError(e: unknown): void {
      stop();
      const prior = parser.error;
      finish(prior ?? { offset: parser.offset, message: describeStreamError(e, (input as { path?: unknown }).path) });
    }
    const signal = opts?.signal;
    if (signal?.aborted) {
      stop();
      finish(null);
      return;
    }
    signal?.addEventListener(
      'abort',
      () => {
        if (settled) return;
        stop();
        finish(null);
      },
      { once: true },
    );
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
  });
}

/** "-" is stdin; anything else a file read in 1 MiB chunks (few chunk boundaries, few carried records). */
export function openCaptureInput(pathOrDash: string): NodeJS.ReadableStream {
  if (pathOrDash === '-') return process.stdin;
  return fs.createReadStream(pathOrDash, { highWaterMark: 1 << 20 });
}
