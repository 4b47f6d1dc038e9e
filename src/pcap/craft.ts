/**
 * Builders for capture files in memory, byte by byte, for tests and crafted fixtures: any byte order, any
 * timestamp unit, deliberately wrong lengths. Not for production writing (use writer.ts): these favour
 * control over speed and allocate freely.
 */

export interface CraftedPacket {
  data: Buffer;
  /** Classic pcap: seconds and the fraction field as stored (µs or ns per the magic). */
  tsSec?: number;
  tsFrac?: number;
  /** Wire length; default data.length. */
  len?: number;
  /** Captured length written in the header; default data.length (set it to lie). */
  caplen?: number;
}

export interface CraftedPcapOptions {
  le?: boolean;
  nanos?: boolean;
  /** Use the Kuznetzov patched magic (24-byte record headers). */
  kuznetzov?: boolean;
  linktype?: number;
  snaplen?: number;
  major?: number;
  minor?: number;
}

function put16(b: Buffer, p: number, v: number, le: boolean): void {
  if (le) b.writeUInt16LE(v, p);
  else b.writeUInt16BE(v, p);
}

function put32(b: Buffer, p: number, v: number, le: boolean): void {
  if (le) b.writeUInt32LE(v >>> 0, p);
  else b.writeUInt32BE(v >>> 0, p);
}

/** A complete classic pcap file. */
export function craftPcap(opts: CraftedPcapOptions, packets: CraftedPacket[]): Buffer {
  const le = opts.le ?? true;
  const h = opts.kuznetzov ? 24 : 16;
  const parts: Buffer[] = [];
  const fh = Buffer.alloc(24);
  put32(fh, 0, opts.kuznetzov ? 0xa1b2cd34 : opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4, le);
  put16(fh, 4, opts.major ?? 2, le);
  put16(fh, 6, opts.minor ?? 4, le);
  put32(fh, 16, opts.snaplen ?? 262144, le);
  put32(fh, 20, opts.linktype ?? 1, le);
  parts.push(fh);
  for (const pk of packets) {
    const rh = Buffer.alloc(h);
    put32(rh, 0, pk.tsSec ?? 0, le);
    put32(rh, 4, pk.tsFrac ?? 0, le);
    put32(rh, 8, pk.caplen ?? pk.data.length, le);
    put32(rh, 12, pk.len ?? pk.data.length, le);
    parts.push(rh, pk.data);
  }
  return Buffer.concat(parts);
}

/** A pcapng block: type, length, body (padded to 4), length. `lenOverride`/`trailerOverride` to corrupt it. */
export function pngBlock(
  le: boolean,
  type: number,
  body: Buffer,
  corrupt?: { len?: number; trailer?: number },
): Buffer {
  const padded = (body.length + 3) & ~3;
  const len = 12 + padded;
  const b = Buffer.alloc(len);
  put32(b, 0, type, le);
  put32(b, 4, corrupt?.len ?? len, le);
  body.copy(b, 8);
  put32(b, len - 4, corrupt?.trailer ?? corrupt?.len ?? len, le);
  return b;
}

/** Options list (code, value) with end-of-options; values padded to 4. */
export function pngOptions(le: boolean, opts: Array<[number, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [code, v] of opts) {
    const hdr = Buffer.alloc(4);
    put16(hdr, 0, code, le);
    put16(hdr, 2, v.length, le);
    parts.push(hdr, v, Buffer.alloc(((v.length + 3) & ~3) - v.length));
  }
  if (opts.length > 0) parts.push(Buffer.alloc(4));
  return Buffer.concat(parts);
}

export function pngSection(le: boolean, opts?: { major?: number; minor?: number }): Buffer {
  const body = Buffer.alloc(16);
  put32(body, 0, 0x1a2b3c4d, le);
  put16(body, 4, opts?.major ?? 1, le);
  put16(body, 6, opts?.minor ?? 0, le);
  body.writeInt32LE(-1, 8);
  body.writeInt32LE(-1, 12);
  return pngBlock(le, 0x0a0d0d0a, body);
}

export interface CraftedInterface {
  linktype?: number;
  snaplen?: number;
  name?: string;
  /** Raw if_tsresol byte (6 = µs, 9 = ns, 0x80|n = 2^-n). */
  tsresol?: number;
  /** if_tsoffset in seconds (signed 64-bit). */
  tsoffset?: bigint;
}

export function pngInterface(le: boolean, i: CraftedInterface): Buffer {
  const head = Buffer.alloc(8);
  put16(head, 0, i.linktype ?? 1, le);
  put32(head, 4, i.snaplen ?? 0, le);
  const opts: Array<[number, Buffer]> = [];
  if (i.name !== undefined) opts.push([2, Buffer.from(i.name, 'utf8')]);
  if (i.tsresol !== undefined) opts.push([9, Buffer.from([i.tsresol])]);
  if (i.tsoffset !== undefined) {
    const v = Buffer.alloc(8);
    if (le) v.writeBigInt64LE(i.tsoffset);
    else v.writeBigInt64BE(i.tsoffset);
    opts.push([14, v]);
  }
  return pngBlock(le, 1, Buffer.concat([head, pngOptions(le, opts)]));
}

/** Enhanced Packet Block; `ts` is the raw 64-bit count of the interface's units. */
export function pngPacket(
  le: boolean,
  ifId: number,
  ts: bigint,
  data: Buffer,
  opts?: { len?: number; caplen?: number },
): Buffer {
  const head = Buffer.alloc(20);
  put32(head, 0, ifId, le);
  put32(head, 4, Number((ts >> 32n) & 0xffffffffn), le);
  put32(head, 8, Number(ts & 0xffffffffn), le);
  put32(head, 12, opts?.caplen ?? data.length, le);
  put32(head, 16, opts?.len ?? data.length, le);
  return pngBlock(le, 6, Buffer.concat([head, data]));
}

/** Obsolete Packet Block (type 2): 16-bit interface id and drops count. */
export function pngObsoletePacket(le: boolean, ifId: number, ts: bigint, data: Buffer, len?: number): Buffer {
  const head = Buffer.alloc(20);
  put16(head, 0, ifId, le);
  put32(head, 4, Number((ts >> 32n) & 0xffffffffn), le);
  put32(head, 8, Number(ts & 0xffffffffn), le);
  put32(head, 12, data.length, le);
  put32(head, 16, len ?? data.length, le);
  return pngBlock(le, 2, Buffer.concat([head, data]));
}

/** Simple Packet Block: original length + data, no interface id or timestamp. */
export function pngSimplePacket(le: boolean, data: Buffer, len?: number): Buffer {
  const head = Buffer.alloc(4);
  put32(head, 0, len ?? data.length, le);
  return pngBlock(le, 3, Buffer.concat([head, data]));
}
