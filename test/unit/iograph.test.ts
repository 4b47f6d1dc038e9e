/** The I/O graph model: intervals from the first packet, coarsening a whole capture, sliding a live window, folding. */
import { IoGraph, niceNextInterval } from '../../src/analysis/iograph';
import { intervalText, parseInterval } from '../../src/cli/ioGraphText';

const series = (g: IoGraph, name: string): { p: number[]; b: number[] } => {
  const s = g.all().find((x) => x.name === name)!;
  return { p: Array.from(s.packets.subarray(0, g.length)), b: Array.from(s.bytes.subarray(0, g.length)) };
};

describe('IoGraph', () => {
  it('counts per interval from the first packet, per series; earlier packets go to the first interval', () => {
    const g = new IoGraph({ intervalNs: 1e9 });
    const tcp = g.seriesIndex('tcp');
    const udp = g.seriesIndex('udp');
    g.add(100, 500_000_000, 60, tcp); // t0
    g.add(101, 499_999_999, 40, tcp); // +0.999999999 s → interval 0
    g.add(101, 500_000_000, 10, udp); // +1 s → interval 1
    g.add(103, 600_000_000, 5, tcp); // +3.1 s → interval 3
    g.add(100, 0, 1, udp); // before t0 → interval 0
    expect(g.length).toBe(4);
    expect(series(g, 'tcp')).toEqual({ p: [2, 0, 0, 1], b: [100, 0, 0, 5] });
    expect(series(g, 'udp')).toEqual({ p: [1, 1, 0, 0], b: [1, 10, 0, 0] });
    expect(g.total(0)).toEqual({ packets: 3, bytes: 101 });
    expect(g.start).toEqual({ sec: 100, nsec: 500_000_000 });
  });

  it('coarsens a long capture so it fits, keeping every count', () => {
    const g = new IoGraph({ intervalNs: 1e9, maxBuckets: 10, nextInterval: niceNextInterval });
    const s = g.seriesIndex('x');
    for (let t = 0; t < 95; t++) g.add(1000 + t, 0, 100, s);
    expect(g.interval).toBe(10e9); // 1 s → 2 s → 10 s
    expect(g.length).toBe(10);
    expect(series(g, 'x').p).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 5]);
    expect(g.all()[s].totalBytes).toBe(9500);
  });

  it('slides a live window: the oldest intervals go, the origin moves', () => {
    const g = new IoGraph({ intervalNs: 1e9, maxBuckets: 3, overflow: 'slide' });
    const s = g.seriesIndex('x');
    for (let t = 0; t < 5; t++) g.add(10 + t, 0, t + 1, s);
    expect(g.length).toBe(3);
    expect(series(g, 'x').b).toEqual([3, 4, 5]);
    expect(g.start.sec).toBe(12);
    g.add(20, 0, 7, s); // far ahead: everything before slides out
    expect(series(g, 'x').b).toEqual([0, 0, 7]);
    expect(g.start.sec).toBe(18);
  });

  it('fold moves a series into another and reuses its slot under a new name', () => {
    const g = new IoGraph({ intervalNs: 1e9 });
    const a = g.seriesIndex('a');
    const o = g.seriesIndex('other');
    g.add(0, 0, 10, a);
    g.fold(a, o, 'b');
    expect(g.seriesIndex('b')).toBe(a);
    expect(series(g, 'other').b).toEqual([10]);
    expect(series(g, 'b').b).toEqual([0]);
  });

  it('grows storage by doubling, past its first 64 intervals', () => {
    const g = new IoGraph({ intervalNs: 1e6 });
    const s = g.seriesIndex('x');
    for (let i = 0; i < 1000; i++) g.add(0, i * 1e6, 1, s);
    expect(g.length).toBe(1000);
    expect(series(g, 'x').p.every((v) => v === 1)).toBe(true);
  });
});

describe('interval text', () => {
  it.each([
    ['1s', 1e9],
    ['100ms', 1e8],
    ['0.5', 5e8],
    ['2m', 120e9],
    ['250us', 250e3],
  ])('%s', (t, ns) => expect(parseInterval(t)).toBe(ns));
  it('rejects nonsense and below 1 us', () => {
    expect(parseInterval('fast')).toBeUndefined();
    expect(parseInterval('10ns')).toBeUndefined();
    expect(parseInterval('0')).toBeUndefined();
  });
  it('prints back', () => expect([1e9, 1e8, 120e9, 3600e9].map(intervalText)).toEqual(['1s', '100ms', '2m', '1h']));
});
