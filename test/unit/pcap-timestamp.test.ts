import { parseTsResol, tsToNanos, unitsToTs } from '../../src/pcap/timestamp';
import { seededRandom } from '../helpers/prng';

const rng = seededRandom;

const u32 = (r: () => number): number => Math.floor(r() * 4294967296);

/** Exact reference: (sec, nsec) with nsec truncated toward zero. */
function reference(hi: number, lo: number, pow2: boolean, exp: number, offset: number): [number, number] {
  const t = (BigInt(hi) << 32n) | BigInt(lo);
  const unit = pow2 ? 1n << BigInt(exp) : 10n ** BigInt(exp);
  return [Number(t / unit) + offset, Number(((t % unit) * 1000000000n) / unit)];
}

describe('unitsToTs', () => {
  const out = { tsSec: 0, tsNsec: 0 };

  it('matches BigInt arithmetic for every resolution on random 64-bit values', () => {
    const r = rng(42);
    for (let exp = 0; exp <= 19; exp++) {
      for (let i = 0; i < 2000; i++) {
        // Mix realistic values (seconds since 1970 in this unit, which may exceed 2^53) with arbitrary ones.
        let hi = u32(r);
        let lo = u32(r);
        if (i % 2 === 0) {
          const t = BigInt(1700000000 + Math.floor(r() * 2e8)) * 10n ** BigInt(exp) + BigInt(u32(r));
          hi = Number((t >> 32n) & 0xffffffffn);
          lo = Number(t & 0xffffffffn);
        }
        const [sec, nsec] = reference(hi, lo, false, exp, 0);
        if (!Number.isSafeInteger(sec)) continue; // beyond any real clock; can't be a double anyway
        unitsToTs(hi, lo, false, exp, 0, out);
        if (out.tsSec !== sec || out.tsNsec !== nsec) throw new Error(`10^-${exp} ${hi}:${lo}: got ${out.tsSec}.${out.tsNsec}, want ${sec}.${nsec}`);
      }
    }
    for (let exp = 0; exp <= 63; exp++) {
      for (let i = 0; i < 1000; i++) {
        const hi = u32(r);
        const lo = u32(r);
        const [sec, nsec] = reference(hi, lo, true, exp, 0);
        if (!Number.isSafeInteger(sec)) continue;
        unitsToTs(hi, lo, true, exp, 0, out);
        if (out.tsSec !== sec || out.tsNsec !== nsec) throw new Error(`2^-${exp} ${hi}:${lo}: got ${out.tsSec}.${out.tsNsec}, want ${sec}.${nsec}`);
      }
    }
  });

  it('handles the extremes of a nanosecond counter and signed offsets', () => {
    unitsToTs(0xffffffff, 0xffffffff, false, 9, 0, out);
    expect(out).toEqual({ tsSec: 18446744073, tsNsec: 709551615 });
    unitsToTs(0, 0, false, 9, -3600, out);
    expect(out).toEqual({ tsSec: -3600, tsNsec: 0 });
    unitsToTs(0, 999999999, false, 9, 0, out);
    expect(out).toEqual({ tsSec: 0, tsNsec: 999999999 });
  });
});

describe('parseTsResol', () => {
  it('decodes powers of ten and of two and rejects the unrepresentable', () => {
    expect(parseTsResol(6)).toEqual({ pow2: false, exp: 6 });
    expect(parseTsResol(9)).toEqual({ pow2: false, exp: 9 });
    expect(parseTsResol(0x80 | 30)).toEqual({ pow2: true, exp: 30 });
    expect(parseTsResol(20)).toBeUndefined();
    expect(parseTsResol(0x80 | 64)).toBeUndefined();
  });
});

describe('tsToNanos', () => {
  it('round-trips through unitsToTs for random times up to year 2500', () => {
    const r = rng(7);
    const t = { hi: 0, lo: 0 };
    const back = { tsSec: 0, tsNsec: 0 };
    for (let i = 0; i < 20000; i++) {
      const sec = Math.floor(r() * 16725225600);
      const nsec = Math.floor(r() * 1e9);
      tsToNanos(sec, nsec, t);
      const ref = BigInt(sec) * 1000000000n + BigInt(nsec);
      if (((BigInt(t.hi) << 32n) | BigInt(t.lo)) !== ref) throw new Error(`tsToNanos(${sec}, ${nsec}) gave ${t.hi}:${t.lo}`);
      unitsToTs(t.hi, t.lo, false, 9, 0, back);
      if (back.tsSec !== sec || back.tsNsec !== nsec) throw new Error(`round trip of ${sec}.${nsec} gave ${back.tsSec}.${back.tsNsec}`);
    }
  });
});
