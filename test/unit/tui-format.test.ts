import { age, bitRate, bytes, clip, escapeTags, padEnd, padStart, si, stripTags } from '../../src/tui/format';

describe('tui format helpers', () => {
  it('prints numbers with SI prefixes and at most three significant digits', () => {
    expect(si(0)).toBe('0');
    expect(si(999)).toBe('999');
    expect(si(2.5)).toBe('2.5');
    expect(si(1234)).toBe('1.2k');
    expect(si(15_600)).toBe('15.6k');
    expect(si(156_000)).toBe('156k');
    expect(si(999_999)).toBe('1.0M');
    expect(si(1.5e9)).toBe('1.5G');
    expect(si(-2000)).toBe('-2.0k');
    expect(si(NaN)).toBe('-');
    expect(bytes(1500)).toBe('1.5kB');
    expect(bitRate(125_000)).toBe('1.0Mb/s');
  });

  it('ages, clipping and padding', () => {
    expect(age(undefined)).toBe('-');
    expect(age(59.9)).toBe('59s');
    expect(age(61)).toBe('1m');
    expect(age(7200)).toBe('2h');
    expect(age(3 * 86400)).toBe('3d');
    expect(clip('abcdef', 4)).toBe('abc…');
    expect(clip('abc', 4)).toBe('abc');
    expect(clip('abc', 0)).toBe('');
    expect(padEnd('ab', 4)).toBe('ab  ');
    expect(padStart('ab', 4)).toBe('  ab');
    expect(padStart('abcdef', 4)).toBe('abc…');
  });

  it('escapes braces so blessed does not read data as tags, and strips tags back', () => {
    const e = escapeTags('comment {x} {red-fg}');
    expect(e).toBe('comment {open}x{close} {open}red-fg{close}');
    expect(stripTags(`{bold}${e}{/bold}`)).toBe('comment {x} {red-fg}');
  });
});
