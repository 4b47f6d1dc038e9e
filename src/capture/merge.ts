/**
 * Merges the record streams of several capture sources into one stream in timestamp order. Each source is
 * already in order (kernel timestamps of one capture socket); across sources a record is released once every
 * open source has either a later record queued or has promised (`promise`, from an agent's in-band heartbeat)
 * that nothing earlier will come — or once it is older than the caller's fallback watermark (a source that
 * stalled). A record older than one already released is released at once and counted in `late`, never dropped.
 *
 * Records are copied into one growable byte arena per source with metadata in typed arrays, so holding them
 * allocates nothing per packet; released records are handed out through one reused PacketRecord.
 */
import { blankRecord, type PacketRecord, type RecordHandler } from '../pcap/record';

class SourceQueue {
  bytes: Buffer = Buffer.allocUnsafe(1 << 20);
  /** Byte write position in `bytes`. */
  end = 0;
  cap = 1024;
  head = 0;
  count = 0;
  off = new Float64Array(this.cap);
  caplen = new Int32Array(this.cap);
  len = new Float64Array(this.cap);
  sec = new Float64Array(this.cap);
  nsec = new Float64Array(this.cap);
  linktype = new Int32Array(this.cap);
  closed = false;
  /** The source's promise: no record earlier than this will come. */
  promiseSec = 0;
  promiseNsec = 0;

  push(rec: PacketRecord): void {
    if (this.count === 0) {
      this.head = 0;
      this.end = 0;
    }
    if (this.head + this.count === this.cap) this.makeRoom();
    if (this.end + rec.caplen > this.bytes.length) this.makeBytes(rec.caplen);
    const i = this.head + this.count;
    rec.buf.copy(this.bytes, this.end, rec.offset, rec.offset + rec.caplen);
    this.off[i] = this.end;
    this.caplen[i] = rec.caplen;
    this.len[i] = rec.len;
    this.sec[i] = rec.tsSec;
    this.nsec[i] = rec.tsNsec;
    this.linktype[i] = rec.linktype;
    this.end += rec.caplen;
    this.count++;
  }

  /** Slides live entries to index 0, or doubles the metadata arrays when they are mostly full. */
  private makeRoom(): void {
    const grow = this.count > this.cap / 2;
    const cap = grow ? this.cap * 2 : this.cap;
    const move = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = grow ? make(cap) : a;
      if (grow) b.set(a.subarray(this.head, this.head + this.count));
      else a.copyWithin(0, this.head, this.head + this.count);
      return b;
    };
    this.off = move(this.off, (n) => new Float64Array(n));
    this.caplen = move(this.caplen, (n) => new Int32Array(n));
    this.len = move(this.len, (n) => new Float64Array(n));
    this.sec = move(this.sec, (n) => new Float64Array(n));
    this.nsec = move(this.nsec, (n) => new Float64Array(n));
    this.linktype = move(this.linktype, (n) => new Int32Array(n));
    this.cap = cap;
    this.head = 0;
  }

  /** Compacts live bytes to the start of the arena, or grows it. */
  private makeBytes(need: number): void {
    const first = this.off[this.head];
    const live = this.end - first;
    const target = live + need > this.bytes.length / 2 ? Math.max(this.bytes.length * 2, live + need) : this.bytes.length;
    const next = target === this.bytes.length ? this.bytes : Buffer.allocUnsafe(target);
    this.bytes.copy(next, 0, first, this.end);
    for (let i = this.head; i < this.head + this.count; i++) this.off[i] -= first;
    this.bytes = next;
    this.end = live;
  }
}

export class TimestampMerger {
  /** Records released after a later one from another source (that source lagged beyond the window). */
  late = 0;
  private readonly queues: SourceQueue[];
  private readonly out: PacketRecord = blankRecord(Buffer.alloc(0));
  private lastSec = 0;
  private lastNsec = 0;

  /** names[i] becomes rec.iface and i becomes rec.ifIndex of records from source i. */
  constructor(
    private readonly names: ReadonlyArray<string>,
    private readonly onRecord: RecordHandler,
  ) {
    this.queues = names.map(() => new SourceQueue());
  }

  /** Queues a record of source `src` (copied: the caller may reuse rec afterwards). */
  push(src: number, rec: PacketRecord): void {
    this.queues[src].push(rec);
  }

  /** Source `src` will deliver nothing earlier than (sec, nsec). */
  promise(src: number, sec: number, nsec: number): void {
    const q = this.queues[src];
    if (before(q.promiseSec, q.promiseNsec, sec, nsec)) {
      q.promiseSec = sec;
      q.promiseNsec = nsec;
    }
  }

  /** A source that ended no longer holds the others back. */
  close(src: number): void {
    this.queues[src].closed = true;
  }

  get held(): number {
    let n = 0;
    for (const q of this.queues) n += q.count;
    return n;
  }

  /**
   * Releases, in timestamp order, every record that is safe: every open source has a record queued or has
   * promised nothing earlier, or the record is older than the fallback watermark.
   * Pass watermark = Infinity to release everything (end of capture).
   */
  release(watermarkSec: number, watermarkNsec: number): void {
    const qs = this.queues;
    for (;;) {
      let best = -1;
      let waitingOnOpenEmpty = false;
      // The earliest promise among open sources with nothing queued: records before it are safe.
      let safeSec = Infinity;
      let safeNsec = 0;
      for (let i = 0; i < qs.length; i++) {
        const q = qs[i];
        if (q.count === 0) {
          if (!q.closed) {
            waitingOnOpenEmpty = true;
            if (before(q.promiseSec, q.promiseNsec, safeSec, safeNsec)) {
              safeSec = q.promiseSec;
              safeNsec = q.promiseNsec;
            }
          }
          continue;
        }
        if (best < 0 || before(q.sec[q.head], q.nsec[q.head], qs[best].sec[qs[best].head], qs[best].nsec[qs[best].head])) best = i;
      }
      if (best < 0) return;
      const q = qs[best];
      const s = q.sec[q.head];
      const ns = q.nsec[q.head];
      if (waitingOnOpenEmpty && !before(s, ns, safeSec, safeNsec) && !before(s, ns, watermarkSec, watermarkNsec)) return;
      this.emit(best, q);
    }
  }

  private emit(src: number, q: SourceQueue): void {
    const i = q.head;
    const r = this.out;
    r.buf = q.bytes;
    r.offset = q.off[i];
    r.caplen = q.caplen[i];
    r.len = q.len[i];
    r.tsSec = q.sec[i];
    r.tsNsec = q.nsec[i];
    r.linktype = q.linktype[i];
    r.ifIndex = src;
    r.iface = this.names[src];
    if (before(r.tsSec, r.tsNsec, this.lastSec, this.lastNsec)) this.late++;
    else {
      this.lastSec = r.tsSec;
      this.lastNsec = r.tsNsec;
    }
    q.head++;
    q.count--;
    this.onRecord(r);
  }
}

function before(aSec: number, aNsec: number, bSec: number, bNsec: number): boolean {
  return aSec < bSec || (aSec === bSec && aNsec < bNsec);
}
