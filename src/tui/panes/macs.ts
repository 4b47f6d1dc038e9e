/**
 * The MAC table pane: the kernel FDB merged with MACs seen on the wire, learned entries first, moves highlighted.
 */
import { age, clip, escapeTags, padEnd, padStart, tag } from '../format';
import type { FdbRow, PaneText, WireMac } from '../rows';
import { cmpStr, type DashboardState } from '../state';
import { paneLabel } from './common';

/** Merged FDB + wire MAC rows, learned first, moves highlighted. */
export function macPane(m: DashboardState, width: number, height: number): PaneText {
  const d = m.shown;
  const bridge = m.opts.netns ? `${m.opts.bridge}@${m.opts.netns}` : m.opts.bridge;
  const err = m.errors.get('fdb');
  const rows = mergeMacs(d.fdb ?? [], d.wire);
  const hidden = rows.filter((r) => r.hidden).length;
  const shown = rows.filter((r) => !r.hidden);
  const lines: string[] = [];
  if (err) lines.push(tag('red-fg', escapeTags(clip(`FDB: ${err}`, width))));
  if (d.fdb === undefined && !err) lines.push('reading the bridge FDB…');
  const macW = 17;
  const portW = Math.min(16, Math.max(4, ...shown.map((r) => (r.port ?? `(${r.wireIface ?? '?'})`).length)));
  const ageW = 4;
  // Narrow pane: the IP and pod go on a second line rather than being cut to a few characters.
  const twoLines = width - macW - portW - ageW - 3 < 20;
  const podW = twoLines ? width - 2 : width - macW - portW - ageW - 3;
  lines.push(
    tag('bold', padEnd('mac', macW) + ' ' + padEnd('port', portW) + ' ' + padStart('age', ageW) + (twoLines ? '' : ' ' + padEnd('ip / pod', podW))),
  );
  for (const r of shown) {
    const move = d.moves.get(r.mac);
    const port = r.port ?? `(${r.wireIface ?? '?'})`;
    const where = [r.ips.join(' '), r.pod].filter((s) => s).join(' ') || (r.local ? 'bridge (local)' : '');
    const wireAge = r.wireLastSec !== undefined ? m.nowSec - r.wireLastSec : undefined;
    const ageSec = r.ageSec ?? wireAge;
    const head = padEnd(r.mac, macW) + ' ' + padEnd(port, portW) + ' ' + padStart(age(ageSec), ageW);
    const moved = move ? `  MOVED ${move.from}→${move.to}` : '';
    // The move is the news: the address/pod text gives way to it.
    const texts = twoLines
      ? [head, clip(`  ${where}${moved}`, width)]
      : [clip(`${head} ${clip(where, Math.max(1, podW - moved.length))}`.trimEnd() + moved, width)];
    for (const text of texts) {
      let tagged = escapeTags(text);
      if (move) tagged = tag('yellow-fg', tag('bold', tagged));
      else if (r.local) tagged = tag('gray-fg', tagged);
      else if (r.port === undefined) tagged = tag('cyan-fg', tagged); // seen on the wire, not (yet/anymore) in the FDB
      lines.push(tagged);
    }
  }
  const moves = d.moves.size ? `, ${d.moves.size} moved` : '';
  const hid = hidden ? `, ${hidden} multicast hidden` : '';
  return {
    label: paneLabel(`MAC table ${bridge}: ${shown.length}${moves}${hid}`, width),
    lines: m.window('macs', lines, height, 1),
  };
}

interface MacRow {
  mac: string;
  port?: string;
  vlan?: number;
  ageSec?: number;
  pod?: string;
  ips: string[];
  wireIface?: string;
  wireLastSec?: number;
  local: boolean;
  hidden: boolean;
}

function isMulticastMac(mac: string): boolean {
  const first = parseInt(mac.slice(0, 2), 16);
  return Number.isFinite(first) && (first & 1) === 1;
}

/** One row per MAC: kernel FDB facts merged with what the wire showed; learned entries first. */
export function mergeMacs(fdb: FdbRow[], wire: WireMac[]): MacRow[] {
  const byMac = new Map<string, MacRow>();
  for (const e of fdb) {
    const local = e.flags.includes('local') || e.flags.includes('permanent');
    const prev = byMac.get(e.mac);
    // A MAC can appear on several ports (e.g. permanent on its own port plus "self"); keep the learned one.
    if (prev && !prev.local) continue;
    byMac.set(e.mac, {
      mac: e.mac,
      port: e.port,
      vlan: e.vlan,
      ageSec: e.ageSec,
      pod: e.pod,
      ips: e.ips,
      local,
      hidden: isMulticastMac(e.mac),
    });
  }
  for (const w of wire) {
    if (isMulticastMac(w.mac)) continue;
    const row = byMac.get(w.mac);
    if (row) {
      row.wireIface = w.iface;
      row.wireLastSec = w.lastSec;
      if (row.ips.length === 0) row.ips = w.ips;
      row.hidden = false;
    } else {
      byMac.set(w.mac, { mac: w.mac, ips: w.ips, wireIface: w.iface, wireLastSec: w.lastSec, vlan: w.vlan, local: false, hidden: false });
    }
  }
  return [...byMac.values()].sort(
    (x, y) => Number(x.local) - Number(y.local) || cmpStr(x.port ?? '~', y.port ?? '~') || cmpStr(x.mac, y.mac),
  );
}
