/**
 * The problems pane: the problem digest grouped by kind, what breaks connectivity first, each kind with its
 * count and its most significant few, one line each.
 */
import { clip, escapeTags, tag } from '../format';
import type { PaneText } from '../rows';
import type { DashboardState } from '../state';
import { paneLabel } from './common';

/** Titles for the analysis engine's kinds (src/analysis/problems.ts); an unknown kind is shown as it is. */
const KIND_TITLE: Record<string, string> = {
  'tcp-failed-connect': 'failed TCP connects',
  'tcp-reset': 'TCP resets',
  'icmp-unanswered': 'unanswered pings',
  'icmp-error': 'ICMP errors',
  'arp-unanswered': 'unanswered ARP',
  'arp-conflict': 'ARP conflicts',
  'mac-move': 'MAC moves',
  'flows-evicted': 'flow table full',
};

/** Kinds that mean traffic does not get through are red; the rest yellow. */
const NOTICE_ONLY = new Set(['mac-move', 'flows-evicted', 'tcp-reset']);

export function problemsPane(m: DashboardState, width: number, height: number): PaneText {
  const groups = m.shown.problems;
  const lines: string[] = [];
  if (groups === undefined) lines.push('waiting for the first flow snapshot…');
  else if (groups.length === 0) lines.push(tag('green-fg', 'no problems seen'));
  for (const g of groups ?? []) {
    const title = escapeTags(clip(`${g.count}× ${KIND_TITLE[g.kind] ?? g.kind}`, width));
    lines.push(tag(NOTICE_ONLY.has(g.kind) ? 'yellow-fg' : 'red-fg', tag('bold', title)));
    for (const t of g.top) lines.push(escapeTags(clip(`  ${t}`, width)));
    if (g.count > g.top.length) lines.push(tag('gray-fg', escapeTags(clip(`  … ${g.count - g.top.length} more`, width))));
  }
  const total = (groups ?? []).reduce((a, g) => a + g.count, 0);
  const kinds = groups?.length ?? 0;
  return {
    label: paneLabel(total === 0 ? 'problems' : `problems: ${total} in ${kinds} kind${kinds === 1 ? '' : 's'}`, width),
    lines: m.window('problems', lines, height, 0),
  };
}
