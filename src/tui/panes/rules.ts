/**
 * The rule counters pane: rules whose counters moved in the last poll (they stay a few seconds after they
 * stop), DROP/REJECT hits first and in red, the rule text wrapped rather than cut.
 */
import { clip, escapeTags, padEnd, padStart, pktRate, si, tag } from '../format';
import type { PaneText } from '../rows';
import { cmpStr, type DashboardState } from '../state';
import { paneLabel } from './common';

export function rulePane(m: DashboardState, width: number, height: number): PaneText {
  const d = m.shown;
  const err = m.errors.get('rules');
  const lines: string[] = [];
  if (err) lines.push(tag('red-fg', escapeTags(clip(`rules: ${err}`, width))));
  const rows = [...d.rules.values()].sort(
    (x, y) =>
      Number(y.movedSec === d.rulesSec) - Number(x.movedSec === d.rulesSec) ||
      Number(y.row.hitDrop) - Number(x.row.hitDrop) ||
      y.row.dPackets - x.row.dPackets ||
      y.row.packets - x.row.packets ||
      cmpStr(x.row.key, y.row.key),
  );
  if (rows.length === 0 && !err) {
    lines.push(d.rulesSec === 0 ? 'reading rule counters…' : 'no rule counter moved in the last interval');
  }
  // Narrow pane: rate and total give way to the rule text.
  const compact = width < 64;
  for (const { row, movedSec } of rows) {
    const fresh = movedSec === d.rulesSec;
    const flag = row.hitDrop ? row.target.toUpperCase().slice(0, 6) : '';
    const where = `${row.table}/${row.chain}${row.position === 0 ? ' policy' : ` #${row.position}`}`;
    const what = row.service ? `${row.service}: ${row.text}` : row.text;
    const delta = padStart(`+${si(fresh ? row.dPackets : 0)}`, 6);
    const lead = compact
      ? padEnd(flag, 6) + ' ' + delta + ' '
      : padEnd(flag, 6) + ' ' + delta + ' ' + padStart(pktRate(fresh ? row.pps : 0), 8) + ' ' + padStart(si(row.packets), 6) + ' ';
    // The rule text is what tells rules apart: it continues on up to two more lines instead of being cut.
    const room = Math.max(10, width - lead.length);
    const full = `${where} ${what}`;
    const parts = wrapWords(full, room, 3);
    const style = row.hitDrop && fresh ? ['red-fg', 'bold'] : row.hitDrop ? ['red-fg'] : !fresh ? ['gray-fg'] : [];
    parts.forEach((part, i) => {
      let tagged = escapeTags((i === 0 ? lead : ' '.repeat(lead.length)) + part);
      for (const st of style) tagged = tag(st, tagged);
      lines.push(tagged);
    });
  }
  const ns = m.opts.netns ? ` in ${m.opts.netns}` : '';
  const drops = rows.filter((r) => r.row.hitDrop && r.movedSec === d.rulesSec).length;
  const dropNote = drops ? `, ${drops} DROP/REJECT hit` : '';
  const header = tag('bold', padEnd('', 6) + ' ' + padStart('Δpkts', 6) + (compact ? '' : ' ' + padStart('rate', 8) + ' ' + padStart('total', 6)) + ' rule');
  return {
    label: paneLabel(`rule counters${ns}: ${rows.length} moving${dropNote}`, width),
    lines: m.window('rules', [header, ...lines], height, 1),
  };
}

/** Splits text into at most `maxLines` lines of `width`, breaking at spaces when it can; the last line is clipped. */
export function wrapWords(text: string, width: number, maxLines: number): string[] {
  const lines: string[] = [];
  let rest = text;
  while (rest.length > width && lines.length < maxLines - 1) {
    const space = rest.lastIndexOf(' ', width);
    const cut = space > width / 3 ? space : width;
    lines.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^ /, '');
  }
  lines.push(clip(rest, width));
  return lines;
}
