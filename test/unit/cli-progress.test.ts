/** The progress line: when it is drawn, how often, how it is erased, and the read progress text. */
import { bytesText, countText, durationText, ProgressLine, ReadProgress, REDRAW_MS, wantProgress } from '../../src/cli/progress';

function fakeStream(isTTY = true): { isTTY: boolean; columns: number; writes: string[]; write(s: string): boolean } {
  const writes: string[] = [];
  return { isTTY, columns: 60, writes, write: (s: string) => (writes.push(s), true) };
}

describe('wantProgress', () => {
  it('only on a terminal, never with --json or --no-progress', () => {
    expect(wantProgress({}, { isTTY: true, write: () => true })).toBe(true);
    expect(wantProgress({}, { isTTY: false, write: () => true })).toBe(false);
    expect(wantProgress({ json: true }, { isTTY: true, write: () => true })).toBe(false);
    expect(wantProgress({ progress: false }, { isTTY: true, write: () => true })).toBe(false);
  });
});

describe('ProgressLine', () => {
  it('redraws at most once per 100 ms, in place, and erases itself when done', () => {
    const s = fakeStream();
    let now = 0;
    const line = new ProgressLine(s, () => now);
    let calls = 0;
    const text = (): string => `step ${++calls}`;
    for (now = 0; now < 1000; now += 7) line.update(text);
    // 0, then every 100 ms of the 1000: ≤ 10 draws in a second (+ the first).
    expect(s.writes.length).toBeLessThanOrEqual(1000 / REDRAW_MS + 1);
    expect(s.writes.length).toBeGreaterThanOrEqual(9);
    expect(calls).toBe(s.writes.length); // the text is built only when drawn
    expect(s.writes.every((w) => w.startsWith('\r') && w.endsWith('\x1b[K'))).toBe(true);
    line.update(() => 'now', true);
    expect(s.writes[s.writes.length - 1]).toBe('\rnow\x1b[K');
    line.done();
    expect(s.writes[s.writes.length - 1]).toBe('\r\x1b[K');
    const n = s.writes.length;
    line.update(() => 'after', true);
    line.done();
    expect(s.writes.length).toBe(n);
  });

  it('cuts a line wider than the terminal', () => {
    const s = fakeStream();
    const line = new ProgressLine(s, () => 0);
    line.update(() => 'x'.repeat(200));
    expect(s.writes[0]).toBe(`\r${'x'.repeat(58)}…\x1b[K`);
    line.done();
  });

  it('leaves no exit or SIGINT listener behind', () => {
    const exits = process.listenerCount('exit');
    const ints = process.listenerCount('SIGINT');
    const line = new ProgressLine(fakeStream(), () => 0);
    expect(process.listenerCount('SIGINT')).toBe(ints + 1);
    line.done();
    expect(process.listenerCount('exit')).toBe(exits);
    expect(process.listenerCount('SIGINT')).toBe(ints);
  });
});

describe('ReadProgress text', () => {
  it('bytes of total, percent, packets, rate, ETA, name', () => {
    let now = 0;
    const line = new ProgressLine(fakeStream(), () => now);
    const p = new ReadProgress(line, 'big.pcap', 400e6, () => 1_234_567, () => now);
    now = 2000;
    expect(p.text(100e6)).toBe('100 MB/400 MB 25%  1.23M packets  50 MB/s  ETA 0:06  big.pcap');
    line.done();
  });
  it('formats', () => {
    expect([bytesText(999), bytesText(1500), bytesText(2.5e9)]).toEqual(['999 B', '1.5 kB', '2.5 GB']);
    expect([countText(9999), countText(12345), countText(3.5e6)]).toEqual(['9999', '12.3k', '3.50M']);
    expect([durationText(7), durationText(205), durationText(3723)]).toEqual(['0:07', '3:25', '1:02:03']);
  });
});
