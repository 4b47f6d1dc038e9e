import { TextTable } from '../../src/views/flows/textTable';

/** The layout TextTable promises, written the obvious way with strings. */
function reference(rows: string[][], right: number[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (right.includes(i) ? c.padStart(widths[i]) : i === r.length - 1 ? c : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .map((l) => l + '\n')
    .join('');
}

describe('TextTable', () => {
  it('aligns columns like padStart/padEnd, leaves the last column unpadded and trims rows', () => {
    const rows = [
      ['PROTO', 'A', 'PACKETS', 'A→B', 'STATE'],
      ['tcp', '10.244.1.1:40000', '3', '2', 'established'],
      ['udp@vni42', '[fd00::1]:53', '123456', '0', ''],
      ['icmp', 'é✓😀', '7', '4294967296', 'echo 1/1'],
    ];
    const t = new TextTable(5, [2, 3]);
    for (const r of rows) t.row(r);
    expect(t.rows).toBe(4);
    expect(t.render().toString('utf8')).toBe(reference(rows, [2, 3]));
  });

  it('writes integers and IPv4 addresses as String() and dotted quads do', () => {
    const nums = [0, 1, 9, 10, 99, 100, 2147483647, 2147483648, 4294967295, 4294967296, 1e15 + 7, 2 ** 53 - 1];
    const t = new TextTable(2, []);
    for (const n of nums) {
      t.uint(n);
      t.endCell();
      t.ip4(n >>> 0);
      t.endCell();
    }
    const lines = t.render().toString().trimEnd().split('\n');
    lines.forEach((l, i) => {
      const [num, addr] = l.split(/ +/);
      expect(num).toBe(String(nums[i]));
      const v = nums[i] >>> 0;
      expect(addr).toBe([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.'));
    });
  });

  it('writes fixed-point numbers exactly as toFixed does, ties and huge values included', () => {
    const values: number[] = [0, 0.0005, 0.0015, 1.0005, 1.005, 2.675, 0.9995, 0.9999, 999.9995, 1e9, 2 ** 31, 1e21, 123456.7895];
    let seed = 99;
    for (let i = 0; i < 20000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      // Durations from whole microseconds and nanoseconds hit exact ties often; plus arbitrary doubles.
      values.push(seed / 1e6, (seed % 100000) / 1e9 + (seed >>> 20), (seed / 0xffffffff) * 10 ** (seed % 9), (seed % 20000) / 2000);
    }
    for (const decimals of [1, 2, 3]) {
      const t = new TextTable(1, []);
      for (const v of values) {
        t.fixed(v, decimals);
        t.endCell();
      }
      expect(t.render().toString().split('\n').slice(0, -1)).toEqual(values.map((v) => v.toFixed(decimals)));
    }
  });

  it('grows past its initial buffers (many rows, long cells)', () => {
    const t = new TextTable(3, [1]);
    const rows: string[][] = [];
    for (let i = 0; i < 5000; i++) rows.push([`r${i}`, String(i * 7919), 'x'.repeat(i % 50)]);
    rows.push(['long', '1', 'y'.repeat(100_000)]);
    for (const r of rows) t.row(r);
    expect(t.render().toString()).toBe(reference(rows, [1]));
  });

  it('lays the rows out between a prefix and a suffix, with or without a row hint that is too small', () => {
    const rows: string[][] = [];
    for (let i = 0; i < 300; i++) rows.push([`r${i}`, String(i * 31), i % 7 === 0 ? '' : 'é'.repeat(i % 5)]);
    for (const hint of [0, 10, 300, 5000]) {
      const t = new TextTable(3, [1], hint);
      for (const r of rows) t.row(r);
      const out = t.render(Buffer.from('Flows: →\n', 'utf8'), Buffer.from('\nProblems: none\n', 'utf8')).toString('utf8');
      expect(out).toBe('Flows: →\n' + reference(rows, [1]) + '\nProblems: none\n');
    }
  });
});
