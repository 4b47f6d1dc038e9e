/**
 * A column-aligned text table written as UTF-8 bytes: cells are appended unpadded into one growing buffer
 * (their byte ends and widths in typed arrays), then laid out once the column widths are known. A report of
 * 100k+ rows thus builds no string per cell or row (strings per cell that survived until the final join made
 * the garbage collector the biggest cost of `read --flows`).
 *
 * Layout: columns separated by two spaces; columns in `right` right-aligned, the others left-aligned; the last
 * column is not padded; trailing spaces of a row are dropped. Widths count UTF-16 units, as String#padEnd does.
 */
export class TextTable {
  private bytes = Buffer.allocUnsafe(1 << 16);
  private n = 0;
  /** Per cell: byte end in `bytes` and width. */
  private ends = new Int32Array(1 << 12);
  private widthOf = new Int32Array(1 << 12);
  private cells = 0;
  /** Column of the cell being written (cells % cols, without a division per cell). */
  private col = 0;
  private curWidth = 0;
  private readonly widths: Int32Array;
  private readonly rightAligned: Uint8Array;

  /** `rowsHint`: rows expected (sizes the buffers once instead of doubling them: a 100k-row table is 13 MB). */
  constructor(
    private readonly cols: number,
    right: readonly number[],
    rowsHint = 0,
  ) {
    if (rowsHint > 0) {
      const cells = Math.max(1 << 12, rowsHint * cols);
      this.ends = new Int32Array(cells);
      this.widthOf = new Int32Array(cells);
      this.bytes = Buffer.allocUnsafe(Math.max(1 << 16, rowsHint * cols * 8));
    }
    this.widths = new Int32Array(cols);
    this.rightAligned = new Uint8Array(cols);
    for (const c of right) if (c >= 0 && c < cols) this.rightAligned[c] = 1;
  }

  /** Last row holding a non-ASCII character (-1 = none). */
  private lastNonAsciiRow = -1;

  /** True when rows from `row` on are pure ASCII (their bytes can be read as Latin-1, a cheap one-byte string). */
  asciiFrom(row: number): boolean {
    return this.lastNonAsciiRow < row;
  }

  get rows(): number {
    return Math.floor(this.cells / this.cols);
  }

  /** Appends a string to the current cell. */
  text(s: string): void {
    const len = s.length;
    this.reserve(len * 3);
    const b = this.bytes;
    let n = this.n;
    for (let i = 0; i < len; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        b[n++] = c;
        continue;
      }
      this.lastNonAsciiRow = Math.floor(this.cells / this.cols);
      if (c < 0x800) {
        b[n++] = 0xc0 | (c >> 6);
        b[n++] = 0x80 | (c & 63);
      } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < len && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
        b[n++] = 0xf0 | (c >> 18);
        b[n++] = 0x80 | ((c >> 12) & 63);
        b[n++] = 0x80 | ((c >> 6) & 63);
        b[n++] = 0x80 | (c & 63);
      } else {
        if (c >= 0xd800 && c < 0xe000) c = 0xfffd; // lone surrogate, as Buffer.from would write it
        b[n++] = 0xe0 | (c >> 12);
        b[n++] = 0x80 | ((c >> 6) & 63);
        b[n++] = 0x80 | (c & 63);
      }
    }
    this.n = n;
    this.curWidth += len;
  }

  /** Appends a non-negative integer (up to 2^53) in decimal, as String(x) writes it. */
  uint(x: number): void {
    let d = 1;
    if (x < 0x80000000) {
      // Small integers (nearly every cell): int32 arithmetic.
      for (let p = 10; p <= x && d < 10; p *= 10) d++;
      this.reserve(d);
      const b = this.bytes;
      let v = x | 0;
      for (let i = this.n + d - 1; i >= this.n; i--) {
        const q = (v / 10) | 0;
        b[i] = 48 + v - q * 10;
        v = q;
      }
    } else {
      for (let p = 10; p <= x && d < 16; p *= 10) d++;
      this.reserve(d);
      const b = this.bytes;
      let v = x;
      for (let i = this.n + d - 1; i >= this.n; i--) {
        const q = Math.floor(v / 10);
        b[i] = 48 + (v - q * 10);
        v = q;
      }
    }
    this.n += d;
    this.curWidth += d;
  }

  /**
   * Appends `v` with `decimals` (1..3) fraction digits, exactly as v.toFixed(decimals) writes it. Integer
   * arithmetic when v·10^decimals is below 2^31 and not within 10^-6 of a rounding tie (its rounding error is
   * far smaller, so the nearest integer is the one toFixed picks); otherwise toFixed itself.
   */
  fixed(v: number, decimals: number): void {
    const scale = decimals === 1 ? 10 : decimals === 2 ? 100 : 1000;
    const x = v * scale;
    const n = Math.floor(x);
    const fr = x - n;
    if (!(x >= 0 && x < 0x7fffffff) || Math.abs(fr - 0.5) < 1e-6 || decimals < 1 || decimals > 3) {
      this.text(v.toFixed(decimals));
      return;
    }
    const r = fr > 0.5 ? n + 1 : n;
    const whole = Math.floor(r / scale);
    this.uint(whole);
    this.char(46);
    let frac = r - whole * scale;
    for (let p = scale / 10; p >= 1; p /= 10) {
      const d = Math.floor(frac / p);
      this.char(48 + d);
      frac -= d * p;
    }
  }

  /** Appends an IPv4 address given as uint32, dotted quad. */
  ip4(v: number): void {
    this.uint((v >>> 24) & 255);
    this.char(46);
    this.uint((v >>> 16) & 255);
    this.char(46);
    this.uint((v >>> 8) & 255);
    this.char(46);
    this.uint(v & 255);
  }

  /** Appends one ASCII character. */
  char(c: number): void {
    this.reserve(1);
    this.bytes[this.n++] = c;
    this.curWidth++;
  }

  /** Ends the current cell (rows are every `cols` cells). */
  endCell(): void {
    if (this.cells === this.ends.length) {
      const e = new Int32Array(this.ends.length * 2);
      e.set(this.ends);
      this.ends = e;
      const w = new Int32Array(this.widthOf.length * 2);
      w.set(this.widthOf);
      this.widthOf = w;
    }
    const col = this.col;
    this.col = col + 1 === this.cols ? 0 : col + 1;
    this.ends[this.cells] = this.n;
    this.widthOf[this.cells] = this.curWidth;
    if (this.curWidth > this.widths[col]) this.widths[col] = this.curWidth;
    this.cells++;
    this.curWidth = 0;
  }

  /** Convenience: a whole row of strings (headers). */
  row(cells: readonly string[]): void {
    for (const c of cells) {
      this.text(c);
      this.endCell();
    }
  }

  /** The laid-out table, one line per row, each ending in '\n'; between `prefix` and `suffix` when given. */
  render(prefix?: Uint8Array, suffix?: Uint8Array): Buffer {
    const body = this.renderRows(0, this.rows);
    if (prefix === undefined && suffix === undefined) return body;
    return Buffer.concat([prefix ?? Buffer.alloc(0), body, suffix ?? Buffer.alloc(0)]);
  }

  /** Rows `from` to `to` (exclusive) laid out (widths are those of the whole table): a report is written in such chunks. */
  renderRows(from: number, to: number): Buffer {
    const cols = this.cols;
    let lineMax = 0;
    for (let c = 0; c < cols; c++) lineMax += this.widths[c] + 2;
    let start = from === 0 ? 0 : this.ends[from * cols - 1];
    const contentEnd = to === 0 ? 0 : this.ends[to * cols - 1];
    // Bytes beyond widths come only from multi-byte characters, which the content bytes bound.
    const out = Buffer.allocUnsafe((to - from) * (lineMax + 1) + (contentEnd - start));
    const src = this.bytes;
    let o = 0;
    for (let r = from; r < to; r++) {
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        const end = this.ends[i];
        const pad = this.widths[c] - this.widthOf[i];
        if (c > 0) {
          out[o++] = 32;
          out[o++] = 32;
        }
        // Cells are short: byte loops beat Buffer#copy/fill, whose native calls cost more than the bytes.
        if (this.rightAligned[c] === 1) for (let k = 0; k < pad; k++) out[o++] = 32;
        for (let k = start; k < end; k++) out[o++] = src[k];
        if (this.rightAligned[c] === 0 && c < cols - 1) for (let k = 0; k < pad; k++) out[o++] = 32;
        start = end;
      }
      while (o > 0 && out[o - 1] === 32) o--;
      out[o++] = 10;
    }
    return out.subarray(0, o);
  }

  private reserve(k: number): void {
    if (this.n + k <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.n + k) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.bytes.copy(b, 0, 0, this.n);
    this.bytes = b;
  }
}
