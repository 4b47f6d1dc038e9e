/**
 * The flows pane: one row per flow (endpoints, totals, rate, state words and problem badges), the sort column
 * marked ▼/▲, the selected row inverse.
 */
import { bitRate, bytes, clip, escapeTags, padEnd, padStart, si, tag } from '../format';
import type { FlowBadge, FlowInfo, PaneText } from '../rows';
import type { DashboardState, SortKey } from '../state';
import { paneLabel, SEVERITY_STYLE } from './common';

export function flowPane(m: DashboardState, width: number, height: number): PaneText & { header: string } {
  const rows = m.visibleFlows();
  const d = m.shown;
  const arrow = m.sortDesc ? '▼' : '▲';
  const col = (k: SortKey, title: string, w: number): string => {
    const t = k === m.sortKey ? `${title}${arrow}` : title;
    return padStart(t, w);
  };
  const c = flowColumns(width);
  const header =
    padEnd('proto', c.proto) +
    ' ' +
    padEnd('initiator ⇄ responder', c.ends) +
    ' ' +
    col('packets', 'pkts', c.pkts) +
    ' ' +
    col('bytes', 'bytes', c.bytes) +
    ' ' +
    col('rate', 'rate', c.rate) +
    ' ' +
    padEnd('state', c.state);
  const bodyH = Math.max(0, height - 1);
  const lines: string[] = [];
  if (rows.length === 0) {
    const why =
      m.errors.get('flows') ??
      (d.flows.length > 0 ? `no flow matches "${m.flowFilter}" (/ to change, empty clears)` : 'waiting for packets…');
    lines.push(escapeTags(clip(why, width)));
  } else {
    const sel = m.currentIndex(rows);
    let top = m.scroll.flows;
    if (sel < top) top = sel;
    if (sel >= top + bodyH) top = sel - bodyH + 1;
    top = Math.max(0, Math.min(top, Math.max(0, rows.length - bodyH)));
    m.scroll.flows = top;
    for (let i = top; i < Math.min(rows.length, top + bodyH); i++) {
      const line = flowLine(rows[i], c);
      lines.push(i === sel && m.focus === 'flows' ? tag('inverse', line.plain) : line.tagged);
    }
  }
  const filterNote = m.flowFilter ? ` filter "${m.flowFilter}"` : '';
  const count = rows.length === d.flowsTotal ? `${d.flowsTotal}` : `${rows.length} of ${d.flowsTotal}`;
  const note = d.flowsNote ? `, ${d.flowsNote}` : '';
  return {
    label: paneLabel(`flows ${count}${filterNote}${note} · sort ${m.sortKey} ${arrow}`, width),
    header,
    lines,
  };
}

interface FlowColumns {
  proto: number;
  ends: number;
  pkts: number;
  bytes: number;
  rate: number;
  state: number;
}

function flowColumns(width: number): FlowColumns {
  const proto = 6;
  const pkts = 6;
  const bytesW = 7;
  const rate = 9;
  const state = Math.min(24, Math.max(10, Math.floor(width * 0.2)));
  const ends = Math.max(12, width - proto - pkts - bytesW - rate - state - 5);
  return { proto, ends, pkts, bytes: bytesW, rate, state };
}

function flowLine(f: FlowInfo, c: FlowColumns): { plain: string; tagged: string } {
  const lead =
    padEnd(f.proto, c.proto) +
    ' ' +
    padEnd(`${f.a} ⇄ ${f.b}`, c.ends) +
    ' ' +
    padStart(si(f.packetsAB + f.packetsBA), c.pkts) +
    ' ' +
    padStart(bytes(f.bytesAB + f.bytesBA), c.bytes) +
    ' ' +
    padStart(bitRate(f.bytesPerSec), c.rate) +
    ' ';
  // State words first, then badges; badges take precedence for the room there is.
  const fitting: FlowBadge[] = [];
  let used = 0;
  for (const b of f.badges) {
    if (used + b.text.length + (used ? 1 : 0) > c.state) break;
    used += b.text.length + (used ? 1 : 0);
    fitting.push(b);
  }
  const badgeText = fitting.map((b) => b.text).join(' ');
  const stateRoom = Math.max(0, c.state - (badgeText ? badgeText.length + 1 : 0));
  const stateText = stateRoom > 0 ? clip(f.state, stateRoom) : '';
  const plainTail = padEnd([stateText, badgeText].filter((s) => s).join(' '), c.state);
  let taggedTail = escapeTags(stateText);
  if (badgeText) {
    const badges = fitting.map((b) => tag(SEVERITY_STYLE[b.severity], tag('bold', escapeTags(b.text)))).join(' ');
    taggedTail = (stateText ? `${taggedTail} ` : '') + badges;
  }
  const tagged = escapeTags(lead) + taggedTail;
  return { plain: escapeTags(lead + plainTail), tagged };
}
