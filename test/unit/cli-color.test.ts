/** The colour policy (src/cli/color.ts): --color values, NO_COLOR, TERM=dumb, terminal or not. */
import { parseColorMode, paint, useColor } from '../../src/cli/color';

describe('parseColorMode', () => {
  it.each([
    [undefined, 'auto'],
    ['auto', 'auto'],
    ['always', 'always'],
    ['never', 'never'],
    ['', 'always'], // a bare --color
    [true, 'always'],
    [false, 'never'], // --no-color
    [['never', 'always'], 'always'], // the last one given wins
  ])('%p → %p', (v, want) => expect(parseColorMode(v)).toBe(want));

  it('rejects anything else with the valid values', () => {
    expect(() => parseColorMode('rainbow')).toThrow('--color rainbow: use auto, always or never');
  });
});

describe('useColor', () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };
  it('auto: a terminal yes, a pipe no', () => {
    expect(useColor(tty, {}, 'auto')).toBe(true);
    expect(useColor(pipe, {}, 'auto')).toBe(false);
  });
  it('auto: NO_COLOR with any non-empty value turns it off; empty does not', () => {
    expect(useColor(tty, { NO_COLOR: '1' }, 'auto')).toBe(false);
    expect(useColor(tty, { NO_COLOR: '0' }, 'auto')).toBe(false);
    expect(useColor(tty, { NO_COLOR: '' }, 'auto')).toBe(true);
  });
  it('auto: TERM=dumb turns it off', () => expect(useColor(tty, { TERM: 'dumb' }, 'auto')).toBe(false));
  it('always and never are what the user asked, whatever the stream and NO_COLOR', () => {
    expect(useColor(pipe, { NO_COLOR: '1' }, 'always')).toBe(true);
    expect(useColor(tty, {}, 'never')).toBe(false);
  });
  it('paint adds SGR only when on', () => {
    expect(paint(true, '31', 'x')).toBe('\x1b[31mx\x1b[0m');
    expect(paint(false, '31', 'x')).toBe('x');
  });
});
