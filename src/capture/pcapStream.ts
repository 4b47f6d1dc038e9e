/**
 * Encodes live records as a classic pcap stream (nanosecond magic) in large batches: one Buffer per batch,
 * not per packet, so an agent under flood makes one write() per few hundred packets. Any pcap reader
 * (CaptureParser, tcpdump -r -) reads the concatenation of header() and the batches.
 */
export const PCAP_NSEC_MAGIC = 0xa1b23c4d;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;

export class PcapBatchEncoder {
  private buf: Buffer;
  private used = 0;
  private records = 0;

  constructor(
    private readonly linktype: number,
    private readonly snaplen: number,
    private readonly batchBytes = 1 << 20,
  ) {
    this.buf = Buffer.allocUnsafe(batchBytes);
  }

  /** The 24-byte pcap global header (little-endian, nanosecond timestamps). */
  header(): Buffer {
    const h = Buffer.alloc(GLOBAL_HEADER);
    h.writeUInt32LE(PCAP_NSEC_MAGIC, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(this.snaplen, 16);
    h.writeUInt32LE(this.linktype, 20);
    return h;
  }

  get pendingBytes(): number {
    return this.used;
  }

  /** Whether a record of caplen bytes fits in the current batch (else take() first). */
  fits(caplen: number): boolean {
    return this.used + RECORD_HEADER + caplen <= this.buf.length;
  }

  /** Appends one record; the caller checked fits() (a record larger than a batch grows the batch). */
  append(src: Buffer, caplen: number, len: number, sec: number, nsec: number): void {
    if (!this.fits(caplen)) this.grow(RECORD_HEADER + caplen);
    const b = this.buf;
    let o = this.used;
    b.writeUInt32LE(sec >>> 0, o);
    b.writeUInt32LE(nsec >>> 0, o + 4);
    b.writeUInt32LE(caplen, o + 8);
    b.writeUInt32LE(len, o + 12);
    o += RECORD_HEADER;
    src.copy(b, o, 0, caplen);
    this.used = o + caplen;
    this.records++;
  }

  /** Hands out a copy of the filled part (the stream may hold it) and starts a new batch in place. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.used);
    this.buf.copy(out, 0, 0, this.used);
    this.used = 0;
    this.records = 0;
    return out;
  }

  /** Discards the current batch; returns how many records it held. */
  dropPending(): number {
    const n = this.records;
    this.used = 0;
    this.records = 0;
    return n;
  }

  private grow(extra: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + extra));
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }
}
