/**
 * The topology pane: the bridge's tree (from the shared renderer), lines with a severity coloured.
 */
import { clip, escapeTags, tag } from '../format';
import type { PaneText } from '../rows';
import type { DashboardState } from '../state';
import { SEVERITY_STYLE } from './common';

export function topologyPane(m: DashboardState, width: number, height: number): PaneText {
  const d = m.shown;
  const err = m.errors.get('topology');
  const lines: string[] = [];
  if (err) lines.push(tag('red-fg', escapeTags(clip(`discovery: ${err}`, width))));
  if (d.topology === undefined && !err) lines.push('discovering…');
  for (const l of d.topology ?? []) {
    const text = escapeTags(clip(l.text, width));
    lines.push(l.severity ? tag(SEVERITY_STYLE[l.severity], text) : text);
  }
  return { label: ' topology ', lines: m.window('topology', lines, height, 0) };
}
