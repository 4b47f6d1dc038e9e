/**
 * The status line: live/PAUSED, rates, capture accounting per interface (captured, drops by kind), filter, CPU,
 * the latest warning, focus and the help hint; parts drop out from the middle when the line is too narrow.
 */
import { bitRate, escapeTags, pktRate, si, tag } from '../format';
import type { SourceStat } from '../rows';
import { WARNING_SHOW_SEC, type DashboardState } from '../state';

const DROP_KINDS = [
  ['kernelDrops', 'kernel'],
  ['ifDrops', 'iface'],
  ['agentDrops', 'agent'],
] as const;

/**
 * "dropped 0 (kernel 0 · iface 0 · agent 0)" while nothing is lost (only the counters some source knows), else
 * the interfaces that lost packets, in red: "dropped node/cni0 kernel 12 agent 3, pod-a/eth0 iface 1".
 */
export function dropAccounting(sources: SourceStat[]): string {
  const known = DROP_KINDS.filter(([k]) => sources.some((s) => s[k] !== undefined));
  if (known.length === 0) return 'dropped n/a';
  const sum = (k: (typeof DROP_KINDS)[number][0]): number => sources.reduce((a, s) => a + (s[k] ?? 0), 0);
  const total = known.reduce((a, [k]) => a + sum(k), 0);
  if (total === 0) return `dropped 0 (${known.map(([k, name]) => `${name} ${sum(k)}`).join(' · ')})`;
  const per = sources
    .map((s) => {
      const lost = known.filter(([k]) => (s[k] ?? 0) > 0).map(([k, name]) => `${name} ${si(s[k] ?? 0)}`);
      return lost.length ? `${s.target} ${lost.join(' ')}` : '';
    })
    .filter((t) => t !== '');
  return tag('red-fg', escapeTags(`dropped ${per.join(', ')}`));
}


export function statusLine(m: DashboardState, width: number): string {
  const parts: string[] = [];
  parts.push(m.paused ? tag('yellow-bg', tag('black-fg', ' PAUSED ')) : tag('green-fg', '● live'));
  parts.push(`${pktRate(m.pps)} ${bitRate(m.bps / 8)}`);
  parts.push(`${si(m.totalPackets)} pkts`);
  const src = m.sources.map((s) => `${s.target} ${si(s.packets)}`).join(', ');
  if (src) parts.push(escapeTags(`captured on ${src}`));
  parts.push(dropAccounting(m.sources));
  if (m.opts.captureFilter) parts.push(escapeTags(`bpf "${m.opts.captureFilter}"`));
  if (m.cpuPct !== undefined) parts.push(`cpu ${Math.round(m.cpuPct)}%`);
  if (m.warning && m.nowSec - m.warning.sec <= WARNING_SHOW_SEC) parts.push(tag('red-fg', escapeTags(m.warning.text)));
  parts.push(`focus ${m.focus}`);
  parts.push('? help  q quit');
  // Drop from the middle when the line is too long, keeping the state on the left and the help hint on the right.
  let line = parts.join(' │ ');
  while (visibleLength(line) > width && parts.length > 3) {
    parts.splice(parts.length - 2, 1);
    line = parts.join(' │ ');
  }
  return line;
}

/** Terminal width of a tagged line. */
function visibleLength(s: string): number {
  return s.replace(/\{\/?[a-z0-9-]*\}/gi, (m) => (m === '{open}' || m === '{close}' ? 'x' : '')).length;
}
