/**
 * The flow detail popup (enter): the open flow's counters and facts, and its last packets decoded.
 */
import { age, bitRate, bytes, escapeTags, si } from '../format';
import type { DashboardState } from '../state';

export function detailLines(m: DashboardState): { label: string; lines: string[] } {
  const f = m.detailFlow();
  if (!f) return { label: ' flow detail ', lines: ['the flow has expired from the flow table', '', 'enter/esc: close'] };
  const lines = [
    `${f.proto}  ${f.a}  ⇄  ${f.b}`,
    `state: ${f.state || '-'}  ${f.badges.map((b) => b.text).join(' ')}`,
    `${f.a} → ${f.b}: ${si(f.packetsAB)} pkts ${bytes(f.bytesAB)}`,
    `${f.b} → ${f.a}: ${si(f.packetsBA)} pkts ${bytes(f.bytesBA)}`,
    `rate: ${bitRate(f.bytesPerSec)} over the last second   seen on: ${f.ifaces.join(', ') || '-'}`,
    `first ${age(m.nowSec - f.firstSec)} ago, last ${age(m.nowSec - f.lastSec)} ago`,
    ...f.notes,
    '',
    'last packets:',
  ].map(escapeTags);
  if (m.detailPackets.length === 0) lines.push('  (none seen since the dashboard started keeping them)');
  for (const p of m.detailPackets) lines.push(escapeTags(`  ${p}`));
  lines.push('', 'enter/esc: close');
  return { label: escapeTags(` flow ${f.key} `), lines };
}
