/**
 * `read --io-graph`: per-interval packets and bytes against tshark -z io,stat on the same files (the oracle),
 * the text chart's rows and legend, per-flow series with --top, and usage errors.
 */
import { execFileSync, spawnSync } from 'child_process';
import path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'netscope');
const FLOWS = path.join(ROOT, 'fixtures', 'flows');

function netscope(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** tshark's frames and bytes per interval. */
function tsharkIoStat(file: string, interval: string): { packets: number; bytes: number }[] {
  const out = execFileSync('tshark', ['-r', file, '-q', '-z', `io,stat,${interval}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return [...out.matchAll(/^\|\s*[\d.]+\s*<>\s*(?:[\d.]+|Dur)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|$/gm)].map((m) => ({ packets: Number(m[1]), bytes: Number(m[2]) }));
}

describe('read --io-graph', () => {
  it.each([
    ['basic.pcap', '0.5', '500ms'],
    ['basic.pcap', '1', '1s'],
    ['vxlan.pcap', '0.1', '100ms'],
    ['icmp6.pcap', '1', '1s'],
  ])('%s every %ss: the same packets and bytes per interval as tshark -z io,stat', (file, tsInterval, ours) => {
    const want = tsharkIoStat(path.join(FLOWS, file), tsInterval);
    expect(want.length).toBeGreaterThan(1);
    const r = netscope(['read', path.join(FLOWS, file), '--io-graph', '--interval', ours, '--json']);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l));
    const got = lines.filter((l) => l.interval).map((l) => ({ packets: l.interval.packets, bytes: l.interval.bytes }));
    // tshark ends with the interval of the last packet, as we do.
    expect(got).toEqual(want);
    const summary = lines[lines.length - 1].ioGraph;
    expect(summary.by).toBe('protocol');
    expect(summary.series.reduce((a: number, s: { packets: number }) => a + s.packets, 0)).toBe(want.reduce((a, x) => a + x.packets, 0));
  });

  it('draws one row per interval with a stacked bar and a lettered legend', () => {
    const r = netscope(['read', path.join(FLOWS, 'basic.pcap'), '--io-graph']);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('I/O graph: 1s intervals, 47 packets, 103227 bytes, by protocol; bars: bytes (full bar = 102k)');
    expect(lines[1]).toMatch(/^ {2}A tcp \(102kB\) {3}B icmp/);
    expect(lines[3]).toMatch(/^ \+0s {7}24 {3}102k {2}A+$/);
    expect(lines.filter((l) => /^ *\+\d+s/.test(l))).toHaveLength(9);
    expect(r.out).not.toMatch(/\x1b/);
  });

  it('--top N: the N biggest conversations and "other"', () => {
    const r = netscope(['read', path.join(FLOWS, 'basic.pcap'), '--io-graph', '--top', '2', '--json']);
    const summary = JSON.parse(r.out.trim().split('\n').pop()!).ioGraph;
    expect(summary.by).toBe('flow');
    expect(summary.series.map((s: { name: string }) => s.name)).toEqual([
      'tcp 10.244.60.1:48054 ↔ 10.244.60.2:8080',
      'icmp 10.244.60.1 ↔ 10.244.60.2',
      'other',
    ]);
    expect(summary.series.reduce((a: number, s: { bytes: number }) => a + s.bytes, 0)).toBe(103227);
  });

  it('usage errors', () => {
    const f = path.join(FLOWS, 'basic.pcap');
    expect(netscope(['read', f, '--io-graph', '--interval', 'soon']).code).toBe(2);
    expect(netscope(['read', f, '--interval', '1s']).code).toBe(2);
    expect(netscope(['read', f, '--io-graph', '--flows']).code).toBe(2);
  });
});
