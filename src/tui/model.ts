/**
 * The dashboard's pure model. Sources (flow snapshots, FDB and rule pollers, discovery, capture statistics)
 * push plain data in; the view asks for pane text at a given size. No terminal, timers or I/O here, so every
 * pane is tested by feeding data and reading lines. Lines carry blessed tags for colour; user data is escaped.
 *
 * Time is always passed in (`nowSec`, epoch seconds) so the model never reads a clock.
 */
import { age, bitRate, bytes, clip, escapeTags, padEnd, padStart, pktRate, si, tag } from './format';
import type { RuleDelta } from '../host/rules';
import type { PaneId } from './layout';

export type SortKey = 'bytes' | 'packets' | 'rate';
export const SORT_KEYS: readonly SortKey[] = ['bytes', 'packets', 'rate'];
export const PANES: readonly PaneId[] = ['flows', 'macs', 'rules', 'topology'];

export type Severity = 'bad' | 'warn' | 'info';

export interface FlowBadge {
  text: string;
  severity: Severity;
}

/** One flow as the dashboard shows it (converted from the flow engine's snapshot). */
export interface FlowInfo {
  /** Stable identity across snapshots (selection follows it when rows re-sort). */
  key: string;
  /** tcp udp icmp icmp6 arp … */
  proto: string;
  /** Initiator and responder endpoints as printed, e.g. "10.244.1.2:40022". */
  a: string;
  b: string;
  packetsAB: number;
  packetsBA: number;
  bytesAB: number;
  bytesBA: number;
  /** Rate over the flow engine's last complete interval. */
  bytesPerSec: number;
  firstSec: number;
  lastSec: number;
  /** Protocol state in words ("established", "syn-sent", "reset", "echo", …), "" when none. */
  state: string;
  badges: FlowBadge[];
  ifaces: string[];
  /** Extra facts for the detail view ("rtt 0.1/0.2/0.4 ms", "vni 42"). */
  notes: string[];
}

/** A kernel FDB entry with what the host could resolve about the MAC. */
export interface FdbRow {
  mac: string;
  port: string;
  vlan?: number;
  flags: string[];
  /** Seconds since the bridge last saw the MAC as a source. */
  ageSec?: number;
  /** Namespace/pod label and the MAC's addresses there, when resolved. */
  pod?: string;
  ips: string[];
}

/** A MAC learned from captured frames (source addresses). */
export interface WireMac {
  mac: string;
  iface: string;
  vlan?: number;
  lastSec: number;
  ips: string[];
}

export interface MacMove {
  mac: string;
  from: string;
  to: string;
}

/** A rule counter row as the pane shows it: the rule reader's delta (src/host/rules.ts), backend as plain text. */
export interface RuleRow
  extends Pick<RuleDelta, 'key' | 'table' | 'chain' | 'position' | 'text' | 'target' | 'packets' | 'bytes' | 'dPackets' | 'dBytes' | 'pps' | 'hitDrop' | 'service'> {
  /** Where the rule lives: "iptables-nft", "iptables-legacy", "nft". */
  backend: string;
}

/** One capture interface's accounting, as tcpdump reports it at exit; a drop counter is undefined when unknown. */
export interface SourceStat {
  target: string;
  /** Captured (delivered to netscope). */
  packets: number;
  bytes: number;
  /** Dropped by the kernel: the capture buffer was full (pcap_stats ps_drop). */
  kernelDrops?: number;
  /** Dropped by the interface or its driver (pcap_stats ps_ifdrop, or the interface's rx_dropped growth). */
  ifDrops?: number;
  /** Captured but dropped by netscope's agent because the dashboard fell behind reading. */
  agentDrops?: number;
}

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

export interface TopologyLine {
  text: string;
  severity?: Severity;
}

/** How long a moved MAC stays highlighted and a rule that stopped moving stays listed. */
export const MOVE_HIGHLIGHT_SEC = 30;
export const RULE_STICKY_SEC = 10;
const WARNING_SHOW_SEC = 15;
const HISTORY_LEN = 600;

interface Displayed {
  flows: FlowInfo[];
  flowsTotal: number;
  flowsNote: string;
  fdb: FdbRow[] | undefined;
  wire: WireMac[];
  moves: Map<string, MacMove & { atSec: number }>;
  rules: Map<string, { row: RuleRow; movedSec: number }>;
  rulesSec: number;
  topology: TopologyLine[] | undefined;
  ppsHistory: number[];
  bpsHistory: number[];
}

function emptyDisplayed(): Displayed {
  return {
    flows: [],
    flowsTotal: 0,
    flowsNote: '',
    fdb: undefined,
    wire: [],
    moves: new Map(),
    rules: new Map(),
    rulesSec: 0,
    topology: undefined,
    ppsHistory: [],
    bpsHistory: [],
  };
}

function copyDisplayed(d: Displayed): Displayed {
  return {
    ...d,
    moves: new Map(d.moves),
    rules: new Map(d.rules),
    ppsHistory: d.ppsHistory.slice(),
    bpsHistory: d.bpsHistory.slice(),
  };
}

export interface ModelOptions {
  /** Title facts: what is being watched. */
  bridge: string;
  netns?: string;
  /** Capture filter given on the command line (shown in the status line). */
  captureFilter?: string;
}

export interface PaneText {
  label: string;
  lines: string[];
}

const SEVERITY_STYLE: Record<Severity, string> = { bad: 'red-fg', warn: 'yellow-fg', info: 'cyan-fg' };

export class DashboardModel {
  /** Increases on every change; the view redraws only when it moved. */
  version = 0;
  paused = false;
  focus: PaneId = 'flows';
  sortKey: SortKey = 'bytes';
  sortDesc = true;
  flowFilter = '';
  helpOpen = false;
  /** Flow key whose detail is open (enter), undefined when closed. */
  detailKey: string | undefined;

  private live: Displayed = emptyDisplayed();
  private frozen: Displayed | undefined;
  private selectedKey: string | undefined;
  private selectedIndex = 0;
  private scroll: Record<PaneId, number> = { flows: 0, macs: 0, rules: 0, topology: 0 };
  private detailPackets: string[] = [];
  private sources: SourceStat[] = [];
  private lastSample: { sec: number; packets: number; bytes: number } | undefined;
  private pps = 0;
  private bps = 0;
  private totalPackets = 0;
  private warning: { text: string; sec: number } | undefined;
  private cpuPct: number | undefined;
  private errors = new Map<string, string>();
  private nowSec = 0;

  constructor(readonly opts: ModelOptions) {}

  private get shown(): Displayed {
    return this.frozen ?? this.live;
  }

  private touch(): void {
    this.version++;
  }

  // ── inputs ────────────────────────────────────────────────────────────────────────────────────────────

  /** Latest flows (any order); `total` counts flows the engine holds, `note` e.g. "3 evicted". */
  setFlows(flows: FlowInfo[], nowSec: number, total = flows.length, note = ''): void {
    this.live.flows = flows;
    this.live.flowsTotal = total;
    this.live.flowsNote = note;
    this.nowSec = nowSec;
    this.touch();
  }

  /** A kernel FDB poll, with the moves the FDB watcher found since the previous poll. */
  setFdb(rows: FdbRow[], moved: MacMove[], nowSec: number): void {
    this.live.fdb = rows;
    this.noteMoves(moved, nowSec);
    this.errors.delete('fdb');
    this.touch();
  }

  /** MACs learned from the wire, with moves between capture interfaces. */
  setWireMacs(macs: WireMac[], moved: MacMove[], nowSec: number): void {
    this.live.wire = macs;
    this.noteMoves(moved, nowSec);
    this.touch();
  }

  private noteMoves(moved: MacMove[], nowSec: number): void {
    // Copy-on-write: a frozen (paused) display may share this map.
    const moves = new Map(this.live.moves);
    for (const m of moved) moves.set(m.mac, { ...m, atSec: nowSec });
    for (const [mac, m] of moves) if (nowSec - m.atSec > MOVE_HIGHLIGHT_SEC) moves.delete(mac);
    this.live.moves = moves;
  }

  /** Rule counters with deltas since the previous poll. */
  setRules(rows: RuleRow[], nowSec: number): void {
    const rules = new Map(this.live.rules);
    for (const row of rows) {
      const prev = rules.get(row.key);
      if (row.dPackets > 0) rules.set(row.key, { row, movedSec: nowSec });
      else if (prev) rules.set(row.key, { row, movedSec: prev.movedSec });
    }
    for (const [key, r] of rules) if (nowSec - r.movedSec > RULE_STICKY_SEC) rules.delete(key);
    this.live.rules = rules;
    this.live.rulesSec = nowSec;
    this.errors.delete('rules');
    this.touch();
  }

  setTopology(lines: TopologyLine[]): void {
    this.live.topology = lines;
    this.errors.delete('topology');
    this.touch();
  }

  /** A poller failed: shown in its pane until its next success. */
  setError(pane: 'fdb' | 'rules' | 'topology' | 'flows', message: string): void {
    this.errors.set(pane, message);
    this.touch();
  }

  /** Per-source capture counters (cumulative). */
  setSources(stats: SourceStat[]): void {
    this.sources = stats;
    this.touch();
  }

  /**
   * Cumulative packet/byte totals of the watched bridge, called about once a second: they give the status
   * line's rates and the chart's history. `allSourcesPackets` (default: the same) is the total shown.
   */
  sample(nowSec: number, packets: number, byteCount: number, allSourcesPackets = packets): void {
    this.totalPackets = allSourcesPackets;
    this.nowSec = nowSec;
    const prev = this.lastSample;
    this.lastSample = { sec: nowSec, packets, bytes: byteCount };
    if (!prev || nowSec <= prev.sec) return;
    const dt = nowSec - prev.sec;
    this.pps = Math.max(0, (packets - prev.packets) / dt);
    this.bps = Math.max(0, ((byteCount - prev.bytes) * 8) / dt);
    const d = this.live;
    d.ppsHistory.push(this.pps);
    d.bpsHistory.push(this.bps);
    if (d.ppsHistory.length > HISTORY_LEN) {
      d.ppsHistory.splice(0, d.ppsHistory.length - HISTORY_LEN);
      d.bpsHistory.splice(0, d.bpsHistory.length - HISTORY_LEN);
    }
    this.touch();
  }

  /** CPU the dashboard process used over the last sample, percent of one core. */
  setCpu(percent: number): void {
    this.cpuPct = percent;
    this.touch();
  }

  warn(text: string, nowSec: number): void {
    this.warning = { text, sec: nowSec };
    this.touch();
  }

  /** Decoded lines of the detail flow's recent packets, oldest first. */
  setDetailPackets(lines: string[]): void {
    this.detailPackets = lines;
    this.touch();
  }

  // ── user actions ──────────────────────────────────────────────────────────────────────────────────────

  togglePause(): void {
    this.paused = !this.paused;
    this.frozen = this.paused ? copyDisplayed(this.live) : undefined;
    this.touch();
  }

  cycleFocus(backwards = false): void {
    const i = PANES.indexOf(this.focus);
    this.focus = PANES[(i + (backwards ? PANES.length - 1 : 1)) % PANES.length];
    this.touch();
  }

  /** `s`: next sort column (bytes → packets → rate), descending. */
  cycleSort(): void {
    this.sortKey = SORT_KEYS[(SORT_KEYS.indexOf(this.sortKey) + 1) % SORT_KEYS.length];
    this.sortDesc = true;
    this.touch();
  }

  /** Choosing the current column again flips ▼/▲. */
  sortBy(key: SortKey): void {
    if (key === this.sortKey) this.sortDesc = !this.sortDesc;
    else {
      this.sortKey = key;
      this.sortDesc = true;
    }
    this.touch();
  }

  reverseSort(): void {
    this.sortDesc = !this.sortDesc;
    this.touch();
  }

  setFlowFilter(text: string): void {
    this.flowFilter = text.trim();
    this.selectedIndex = 0;
    this.selectedKey = undefined;
    this.scroll.flows = 0;
    this.touch();
  }

  /** Arrow keys / page keys on the focused pane: moves the flow selection or scrolls the other panes. */
  move(delta: number): void {
    if (this.focus === 'flows') {
      const rows = this.visibleFlows();
      if (rows.length === 0) return;
      const cur = this.currentIndex(rows);
      const next = Math.max(0, Math.min(rows.length - 1, cur + delta));
      this.selectedIndex = next;
      this.selectedKey = rows[next].key;
    } else {
      this.scroll[this.focus] = Math.max(0, this.scroll[this.focus] + delta);
    }
    this.touch();
  }

  moveToEnd(end: 'top' | 'bottom'): void {
    this.move(end === 'top' ? -1e9 : 1e9);
  }

  toggleHelp(): void {
    this.helpOpen = !this.helpOpen;
    this.touch();
  }

  /** Enter: opens the selected flow's detail (or closes an open one). Returns the flow opened. */
  toggleDetail(): FlowInfo | undefined {
    if (this.detailKey !== undefined) {
      this.closePopups();
      return undefined;
    }
    const flow = this.selectedFlow();
    if (!flow) return undefined;
    this.detailKey = flow.key;
    this.detailPackets = [];
    this.touch();
    return flow;
  }

  /** Escape closes help and detail. Returns whether anything was open. */
  closePopups(): boolean {
    const was = this.helpOpen || this.detailKey !== undefined;
    this.helpOpen = false;
    this.detailKey = undefined;
    this.detailPackets = [];
    if (was) this.touch();
    return was;
  }

  // ── derived views ─────────────────────────────────────────────────────────────────────────────────────

  /** Flows after the `/` filter, in the chosen order. */
  visibleFlows(): FlowInfo[] {
    const terms = this.flowFilter.toLowerCase().split(/\s+/).filter((t) => t !== '');
    let rows = this.shown.flows;
    if (terms.length > 0) rows = rows.filter((f) => flowMatches(f, terms));
    const dir = this.sortDesc ? -1 : 1;
    const key = this.sortKey;
    return rows.slice().sort((x, y) => dir * (sortValue(x, key) - sortValue(y, key)) || cmpStr(x.key, y.key));
  }

  private currentIndex(rows: FlowInfo[]): number {
    if (this.selectedKey !== undefined) {
      const i = rows.findIndex((f) => f.key === this.selectedKey);
      if (i >= 0) return i;
    }
    return Math.min(this.selectedIndex, rows.length - 1);
  }

  selectedFlow(): FlowInfo | undefined {
    const rows = this.visibleFlows();
    if (rows.length === 0) return undefined;
    return rows[this.currentIndex(rows)];
  }

  /** The flow whose detail is open (looked up in the latest data, so its counters stay current). */
  detailFlow(): FlowInfo | undefined {
    if (this.detailKey === undefined) return undefined;
    return this.shown.flows.find((f) => f.key === this.detailKey);
  }

  flowPane(width: number, height: number): PaneText & { header: string } {
    const rows = this.visibleFlows();
    const d = this.shown;
    const arrow = this.sortDesc ? '▼' : '▲';
    const col = (k: SortKey, title: string, w: number): string => {
      const t = k === this.sortKey ? `${title}${arrow}` : title;
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
        this.errors.get('flows') ??
        (d.flows.length > 0 ? `no flow matches "${this.flowFilter}" (/ to change, empty clears)` : 'waiting for packets…');
      lines.push(escapeTags(clip(why, width)));
    } else {
      const sel = this.currentIndex(rows);
      let top = this.scroll.flows;
      if (sel < top) top = sel;
      if (sel >= top + bodyH) top = sel - bodyH + 1;
      top = Math.max(0, Math.min(top, Math.max(0, rows.length - bodyH)));
      this.scroll.flows = top;
      for (let i = top; i < Math.min(rows.length, top + bodyH); i++) {
        const line = flowLine(rows[i], c);
        lines.push(i === sel && this.focus === 'flows' ? tag('inverse', line.plain) : line.tagged);
      }
    }
    const filterNote = this.flowFilter ? ` filter "${this.flowFilter}"` : '';
    const count = rows.length === d.flowsTotal ? `${d.flowsTotal}` : `${rows.length} of ${d.flowsTotal}`;
    const note = d.flowsNote ? `, ${d.flowsNote}` : '';
    return {
      label: paneLabel(`flows ${count}${filterNote}${note} · sort ${this.sortKey} ${arrow}`, width),
      header,
      lines,
    };
  }

  /** Merged FDB + wire MAC rows, learned first, moves highlighted. */
  macPane(width: number, height: number): PaneText {
    const d = this.shown;
    const bridge = this.opts.netns ? `${this.opts.bridge}@${this.opts.netns}` : this.opts.bridge;
    const err = this.errors.get('fdb');
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
      const wireAge = r.wireLastSec !== undefined ? this.nowSec - r.wireLastSec : undefined;
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
      lines: this.window('macs', lines, height, 1),
    };
  }

  rulePane(width: number, height: number): PaneText {
    const d = this.shown;
    const err = this.errors.get('rules');
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
    const ns = this.opts.netns ? ` in ${this.opts.netns}` : '';
    const drops = rows.filter((r) => r.row.hitDrop && r.movedSec === d.rulesSec).length;
    const dropNote = drops ? `, ${drops} DROP/REJECT hit` : '';
    const header = tag('bold', padEnd('', 6) + ' ' + padStart('Δpkts', 6) + (compact ? '' : ' ' + padStart('rate', 8) + ' ' + padStart('total', 6)) + ' rule');
    return {
      label: paneLabel(`rule counters${ns}: ${rows.length} moving${dropNote}`, width),
      lines: this.window('rules', [header, ...lines], height, 1),
    };
  }

  topologyPane(width: number, height: number): PaneText {
    const d = this.shown;
    const err = this.errors.get('topology');
    const lines: string[] = [];
    if (err) lines.push(tag('red-fg', escapeTags(clip(`discovery: ${err}`, width))));
    if (d.topology === undefined && !err) lines.push('discovering…');
    for (const l of d.topology ?? []) {
      const text = escapeTags(clip(l.text, width));
      lines.push(l.severity ? tag(SEVERITY_STYLE[l.severity], text) : text);
    }
    return { label: ' topology ', lines: this.window('topology', lines, height, 0) };
  }

  /** Chart series (last `n` samples) and their titles with the current values. */
  rateSeries(n: number): { titles: string[]; data: number[][] } {
    const d = this.shown;
    const pps = d.ppsHistory.slice(-n);
    const bps = d.bpsHistory.slice(-n);
    const lastP = pps.length ? pps[pps.length - 1] : 0;
    const lastB = bps.length ? bps[bps.length - 1] : 0;
    const peakP = pps.length ? Math.max(...pps) : 0;
    return {
      titles: [`packets/s ${si(lastP)} (peak ${si(peakP)})`, `bits/s ${si(lastB)}b/s`],
      data: [pps.length ? pps : [0], bps.length ? bps : [0]],
    };
  }

  statusLine(width: number): string {
    const parts: string[] = [];
    parts.push(this.paused ? tag('yellow-bg', tag('black-fg', ' PAUSED ')) : tag('green-fg', '● live'));
    parts.push(`${pktRate(this.pps)} ${bitRate(this.bps / 8)}`);
    parts.push(`${si(this.totalPackets)} pkts`);
    const src = this.sources.map((s) => `${s.target} ${si(s.packets)}`).join(', ');
    if (src) parts.push(escapeTags(`captured on ${src}`));
    parts.push(dropAccounting(this.sources));
    if (this.opts.captureFilter) parts.push(escapeTags(`bpf "${this.opts.captureFilter}"`));
    if (this.cpuPct !== undefined) parts.push(`cpu ${Math.round(this.cpuPct)}%`);
    if (this.warning && this.nowSec - this.warning.sec <= WARNING_SHOW_SEC) parts.push(tag('red-fg', escapeTags(this.warning.text)));
    parts.push(`focus ${this.focus}`);
    parts.push('? help  q quit');
    // Drop from the middle when the line is too long, keeping the state on the left and the help hint on the right.
    let line = parts.join(' │ ');
    while (visibleLength(line) > width && parts.length > 3) {
      parts.splice(parts.length - 2, 1);
      line = parts.join(' │ ');
    }
    return line;
  }

  detailLines(): { label: string; lines: string[] } {
    const f = this.detailFlow();
    if (!f) return { label: ' flow detail ', lines: ['the flow has expired from the flow table', '', 'enter/esc: close'] };
    const lines = [
      `${f.proto}  ${f.a}  ⇄  ${f.b}`,
      `state: ${f.state || '-'}  ${f.badges.map((b) => b.text).join(' ')}`,
      `${f.a} → ${f.b}: ${si(f.packetsAB)} pkts ${bytes(f.bytesAB)}`,
      `${f.b} → ${f.a}: ${si(f.packetsBA)} pkts ${bytes(f.bytesBA)}`,
      `rate: ${bitRate(f.bytesPerSec)} over the last second   seen on: ${f.ifaces.join(', ') || '-'}`,
      `first ${age(this.nowSec - f.firstSec)} ago, last ${age(this.nowSec - f.lastSec)} ago`,
      ...f.notes,
      '',
      'last packets:',
    ].map(escapeTags);
    if (this.detailPackets.length === 0) lines.push('  (none seen since the dashboard started keeping them)');
    for (const p of this.detailPackets) lines.push(escapeTags(`  ${p}`));
    lines.push('', 'enter/esc: close');
    return { label: escapeTags(` flow ${f.key} `), lines };
  }

  helpLines(): string[] {
    return [
      'q, Ctrl-C   quit (captures stop, terminal restored)',
      'space       pause/resume the display (capture keeps counting)',
      '/           filter flows: words that must all appear, !word excludes',
      '            (e.g. "tcp 10.244.1.3", "!arp"); empty clears',
      'tab         next pane (shift-tab: previous)',
      '↑ ↓ PgUp PgDn Home End   select a flow / scroll the focused pane',
      's           sort flows by the next column (bytes, packets, rate)',
      'b p r       sort by bytes / packets / rate; again flips ▼/▲',
      'S           flip the sort direction',
      'enter       detail of the selected flow with its last packets',
      'esc         close this help or the detail',
      '?           this help',
      '',
      'badges: FAIL connect got no answer · RST reset · NOREPLY echo unanswered',
      '        ARP? ARP request unanswered · MOVED a MAC changed bridge port',
      'rules pane: counters that moved in the last poll; DROP/REJECT hits in red',
    ];
  }

  /** Scroll window over a pane's lines, keeping `sticky` header lines on top. */
  private window(pane: PaneId, lines: string[], height: number, sticky: number): string[] {
    const head = lines.slice(0, sticky);
    const body = lines.slice(sticky);
    const room = Math.max(0, height - head.length);
    const maxTop = Math.max(0, body.length - room);
    if (this.scroll[pane] > maxTop) this.scroll[pane] = maxTop;
    const top = this.scroll[pane];
    return [...head, ...body.slice(top, top + room)];
  }
}

/** A box label: clipped so it never wraps into the pane (blessed wraps long labels). */
function paneLabel(text: string, width: number): string {
  return escapeTags(` ${clip(text, Math.max(1, width - 4))} `);
}

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────────────

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortValue(f: FlowInfo, key: SortKey): number {
  switch (key) {
    case 'bytes':
      return f.bytesAB + f.bytesBA;
    case 'packets':
      return f.packetsAB + f.packetsBA;
    case 'rate':
      return f.bytesPerSec;
  }
}

function flowMatches(f: FlowInfo, terms: string[]): boolean {
  const hay = `${f.proto} ${f.a} ${f.b} ${f.state} ${f.badges.map((b) => b.text).join(' ')} ${f.ifaces.join(' ')}`.toLowerCase();
  for (const t of terms) {
    if (t.startsWith('!') && t.length > 1) {
      if (hay.includes(t.slice(1))) return false;
    } else if (!hay.includes(t)) return false;
  }
  return true;
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

/** Terminal width of a tagged line. */
function visibleLength(s: string): number {
  return s.replace(/\{\/?[a-z0-9-]*\}/gi, (m) => (m === '{open}' || m === '{close}' ? 'x' : '')).length;
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
