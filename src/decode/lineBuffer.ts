/**
 * LineBuffer: where output lines are built as bytes (numbers and addresses written as digits straight into
 * a buffer), for the text formatter and the printers that hand it to a stream.
 */

/** Size of the byte areas a writer fills (lines are handed on in ~64 KiB pieces of it). */
const SLAB = 1 << 20;

/** "00".."ff", for MACs and flag bytes. */
export const HEX2: string[] = [];
for (let i = 0; i < 256; i++) HEX2.push((i < 16 ? '0' : '') + i.toString(16));

/**
 * Where text lines are built: as bytes, not strings. Per packet, string concatenation (ropes flattened
 * again by every `endsWith`), number-to-string conversions and the garbage they leave were most of the
 * cost of `netscope read`; here numbers and addresses are written as digits straight into a buffer.
 *
 * Bytes [start, pos) are pending output. `take()` hands them over and later bytes go after them, so a
 * region handed to a stream (which may keep it until an asynchronous write completes) is never
 * written again; when the area is full, the pending bytes move to a fresh one.
 */
export class LineBuffer {
  buf: Buffer;
  start = 0;
  pos = 0;

  constructor(size = SLAB) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Bytes written and not yet taken. */
  get pending(): number {
    return this.pos - this.start;
  }

  /** The pending bytes (no copy); they are never overwritten. */
  take(): Buffer {
    const b = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    return b;
  }

  /**
   * Starts over at the beginning of the area when nothing is pending: call only once every region taken has
   * been consumed (no write in flight). Fresh memory costs a page fault per 4 KiB (~10 µs on a VM), so a
   * long output reuses one area instead of filling new ones.
   */
  recycle(): void {
    if (this.pos === this.start) this.start = this.pos = 0;
  }

  /** Forgets the pending bytes. */
  discard(): void {
    this.pos = this.start;
  }

  /** Makes room for n more bytes. */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const pending = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length, SLAB, 2 * (pending + n)));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = pending;
  }

  byte(c: number): void {
    if (this.pos + 1 > this.buf.length) this.room(1);
    this.buf[this.pos++] = c;
  }

  /** Text of one-byte characters (everything formatLine prints is ASCII). */
  ascii(s: string): void {
    const n = s.length;
    if (this.pos + n > this.buf.length) this.room(n);
    const b = this.buf;
    if (n > 32) {
      this.pos += b.write(s, this.pos, 'latin1');
      return;
    }
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** Constant text prepared by asciiBytes (a typed-array copy is about twice as fast as charCodeAt). */
  bytes(u: Uint8Array): void {
    const n = u.length;
    if (this.pos + n > this.buf.length) this.room(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = u[i];
    this.pos = p;
  }

  /** Any text, UTF-8 encoded. */
  utf8(s: string): void {
    this.room(s.length <= 4096 ? 3 * s.length : Buffer.byteLength(s));
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A number as String(n) would print it; integers 0..2^32-1 without making a string. */
  num(n: number): void {
    if (this.pos + 10 > this.buf.length) this.room(10);
    if (n >= 0 && n <= 0x7fffffff && (n | 0) === n) {
      this.pos = putInt(this.buf, this.pos, n);
    } else if (n >= 0 && n <= 0xffffffff && n % 1 === 0) {
      const b = this.buf;
      let p = this.pos + 10;
      for (let i = 1e9; n < i; i /= 10) p--;
      this.pos = p;
      do {
        const q = Math.floor(n / 10);
        b[--p] = 48 + n - q * 10;
        n = q;
      } while (n !== 0);
    } else {
      this.ascii(String(n));
    }
  }

  /** 0..999999 as exactly six digits. */
  sixDigits(n: number): void {
    if (this.pos + 6 > this.buf.length) this.room(6);
    const b = this.buf;
    const p = this.pos;
    for (let i = 5; i >= 0; i--) {
      const q = (n / 10) | 0;
      b[p + i] = 48 + n - q * 10;
      n = q;
    }
    this.pos = p + 6;
  }

  /** Dotted quad of an address held as uint32 (ip4ToString). */
  ip4(u32: number): void {
    if (this.pos + 15 > this.buf.length) this.room(15);
    const b = this.buf;
    let p = putOctet(b, this.pos, u32 >>> 24);
    b[p++] = 46;
    p = putOctet(b, p, (u32 >>> 16) & 255);
    b[p++] = 46;
    p = putOctet(b, p, (u32 >>> 8) & 255);
    b[p++] = 46;
    this.pos = putOctet(b, p, u32 & 255);
  }

  /** aa:bb:cc:dd:ee:ff (macToString, including its '?' for an address outside the buffer). */
  mac(src: Buffer, off: number): void {
    if (off < 0 || off + 6 > src.length) {
      this.byte(63);
      return;
    }
    if (this.pos + 17 > this.buf.length) this.room(17);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < 6; i++) {
      if (i) b[p++] = 58;
      const h = HEX2[src[off + i]];
      b[p++] = h.charCodeAt(0);
      b[p++] = h.charCodeAt(1);
    }
    this.pos = p;
  }
}

/** 0..2^31-1 in decimal at b[p] (room already made); returns the end. */
function putInt(b: Buffer, p: number, n: number): number {
  const end =
    n < 10 ? p + 1 : n < 100 ? p + 2 : n < 1000 ? p + 3 : n < 10000 ? p + 4 : n < 100000 ? p + 5 :
    n < 1000000 ? p + 6 : n < 10000000 ? p + 7 : n < 100000000 ? p + 8 : n < 1000000000 ? p + 9 : p + 10;
  let q = end;
  do {
    const d = (n / 10) | 0;
    b[--q] = 48 + n - d * 10;
    n = d;
  } while (n !== 0);
  return end;
}

/** 0..255 in decimal at b[p] (room already made); returns the end. */
function putOctet(b: Buffer, p: number, x: number): number {
  if (x >= 100) {
    const h = (x / 100) | 0;
    const r = x - h * 100;
    const t = (r / 10) | 0;
    b[p] = 48 + h;
    b[p + 1] = 48 + t;
    b[p + 2] = 48 + r - t * 10;
    return p + 3;
  }
  if (x >= 10) {
    const t = (x / 10) | 0;
    b[p] = 48 + t;
    b[p + 1] = 48 + x - t * 10;
    return p + 2;
  }
  b[p] = 48 + x;
  return p + 1;
}

/** The bytes of an ASCII text, for LineBuffer.bytes. */
export function asciiBytes(s: string): Uint8Array {
  const u = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
  return u;
}
