/**
 * pcapng 64-bit timestamps → (seconds, nanoseconds) without ever holding a value above 2^53 in a double.
 * A nanosecond timestamp of today is ~1.8e18 (> 2^53 ≈ 9.0e15), so `hi * 2^32 + lo` would silently round.
 * Everything here works on 16/32-bit pieces whose products stay below 2^48. No allocation: results go into
 * a caller-owned `TsOut`.
 */

export interface TsOut {
  tsSec: number;
  tsNsec: number;
}

/** How an interface counts time: `pow2` false → units of 10^-exp s, true → units of 2^-exp s. */
export interface TsResolution {
  pow2: boolean;
  exp: number;
}

/** Decodes the pcapng `if_tsresol` byte (default 6 = microseconds). Returns undefined for units we can't represent. */
export function parseTsResol(v: number): TsResolution | undefined {
  if (v & 0x80) {
    const exp = v & 0x7f;
    return exp <= 63 ? { pow2: true, exp } : undefined;
  }
  // 10^-19 s units overflow a 64-bit counter after 1.8 s; anything finer is meaningless.
  return v <= 19 ? { pow2: false, exp: v } : undefined;
}

const TWO32 = 4294967296;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

// Scratch results of div64 (module-level: no allocation per call).
let qHi = 0;
let qLo = 0;
let rem = 0;

/** (hi·2^32 + lo) / d for 1 ≤ d ≤ 10^9: quotient in qHi/qLo, remainder in rem. Intermediates < 2^48. */
function div64(hi: number, lo: number, d: number): void {
  const qh = Math.floor(hi / d);
  const rh = hi - qh * d;
  const x = rh * 65536 + (lo >>> 16);
  const qm = Math.floor(x / d);
  const rm = x - qm * d;
  const y = rm * 65536 + (lo & 0xffff);
  const ql = Math.floor(y / d);
  qHi = qh;
  qLo = qm * 65536 + ql;
  rem = y - ql * d;
}

/**
 * Converts a 64-bit count of units (hi, lo: unsigned 32-bit halves) into seconds + nanoseconds, adding
 * `offsetSec` (pcapng if_tsoffset). Sub-nanosecond units are truncated toward zero, like libpcap.
 */
export function unitsToTs(hi: number, lo: number, pow2: boolean, exp: number, offsetSec: number, out: TsOut): void {
  if (!pow2) {
    let h = hi;
    let l = lo;
    let e = exp;
    // Finer than 1 ns: drop the sub-nanosecond digits first, at most 9 decimal digits per step.
    while (e > 9) {
      const step = e - 9 > 9 ? 9 : e - 9;
      div64(h, l, POW10[step]);
      h = qHi;
      l = qLo;
      e -= step;
    }
    const d = POW10[e];
    if (h < 0x200000) {
      // Whole value < 2^53: one exact division (the floor can't round up because t < 2^53 and d ≥ 1).
      const t = h * TWO32 + l;
      const s = Math.floor(t / d);
      out.tsSec = s + offsetSec;
      out.tsNsec = (t - s * d) * POW10[9 - e];
    } else {
      div64(h, l, d);
      out.tsSec = qHi * TWO32 + qLo + offsetSec;
      out.tsNsec = rem * POW10[9 - e];
    }
    return;
  }
  if (exp === 0) {
    out.tsSec = hi * TWO32 + lo + offsetSec;
    out.tsNsec = 0;
    return;
  }
  // Seconds = value >> exp; fraction = the low `exp` bits, as 16-bit limbs f0..f3.
  let fracHi: number;
  let fracLo: number;
  if (exp <= 32) {
    const scale = 2 ** exp;
    const loSec = Math.floor(lo / scale);
    out.tsSec = hi * (TWO32 / scale) + loSec + offsetSec;
    fracHi = 0;
    fracLo = lo - loSec * scale;
  } else {
    const scale = 2 ** (exp - 32);
    const s = Math.floor(hi / scale);
    out.tsSec = s + offsetSec;
    fracHi = hi - s * scale;
    fracLo = lo;
  }
  // nsec = floor(frac · 10^9 / 2^exp): multiply limb by limb (each step < 2^47), then shift right by exp.
  let c = (fracLo & 0xffff) * 1e9;
  const p0 = c % 65536;
  c = Math.floor(c / 65536) + (fracLo >>> 16) * 1e9;
  const p1 = c % 65536;
  c = Math.floor(c / 65536) + (fracHi & 0xffff) * 1e9;
  const p2 = c % 65536;
  c = Math.floor(c / 65536) + (fracHi >>> 16) * 1e9;
  const p3 = c % 65536;
  c = Math.floor(c / 65536);
  const p4 = c % 65536;
  const p5 = Math.floor(c / 65536);
  // Accumulate limbs from the top down to the one holding bit `exp`; the sum stays < 10^9 · 2^16 < 2^46.
  const j = exp >>> 4;
  let acc = p5;
  if (j <= 4) acc = acc * 65536 + p4;
  if (j <= 3) acc = acc * 65536 + p3;
  if (j <= 2) acc = acc * 65536 + p2;
  if (j <= 1) acc = acc * 65536 + p1;
  if (j === 0) acc = acc * 65536 + p0;
  out.tsNsec = Math.floor(acc / 2 ** (exp - 16 * j));
}

/**
 * Seconds + nanoseconds → a 64-bit nanosecond count split into unsigned 32-bit halves (for writing pcapng
 * with if_tsresol 9). Negative or > 2^64 values wrap, as a C writer would.
 */
export function tsToNanos(sec: number, nsec: number, out: { hi: number; lo: number }): void {
  const s = sec < 0 ? 0 : sec;
  const s0 = s % 65536;
  const s1 = Math.floor(s / 65536) % 65536;
  const s2 = Math.floor(s / 4294967296) % 65536;
  const s3 = Math.floor(s / 281474976710656) % 65536;
  let c = s0 * 1e9 + nsec;
  const l0 = c % 65536;
  c = Math.floor(c / 65536) + s1 * 1e9;
  const l1 = c % 65536;
  c = Math.floor(c / 65536) + s2 * 1e9;
  const l2 = c % 65536;
  c = Math.floor(c / 65536) + s3 * 1e9;
  const l3 = c % 65536;
  out.hi = l3 * 65536 + l2;
  out.lo = l1 * 65536 + l0;
}
