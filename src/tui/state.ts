/**
 * The dashboard's state: what the sources last pushed in (live, or frozen while paused), and what the user chose
 * (focus, sort, `/` filter, selection, scroll, popups). Pure: no terminal, timers or I/O, and time is always
 * passed in (`nowSec`, epoch seconds), so it is tested by feeding data. The panes (panes/*.ts) turn it into text.
 */
import type { PaneId } from './layout';
import type { FdbRow, FlowInfo, MacMove, ProblemGroup, RuleRow, SourceStat, TopologyLine, WireMac } from './rows';

export type SortKey = 'bytes' | 'packets' | 'rate';
export const SORT_KEYS: readonly SortKey[] = ['bytes', 'packets', 'rate'];
export const PANES: readonly PaneId[] = ['flows', 'problems', 'macs', 'rules', 'topology'];

/** How long a moved MAC stays highlighted and a rule that stopped moving stays listed. */
export const MOVE_HIGHLIGHT_SEC = 30;
export const RULE_STICKY_SEC = 10;
export const WARNING_SHOW_SEC = 15;
const HISTORY_LEN = 600;

/** What the panes show: the live data, or a copy frozen by pause. */
export interface Displayed {
  flows: FlowInfo[];
  flowsTotal: number;
  flowsNote: string;
  /** Undefined until the first flow snapshot. */
  problems: ProblemGroup[] | undefined;
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
    problems: undefined,
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

export class DashboardState {
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
  /** First line shown per pane (the panes clamp it to their height). */
  scroll: Record<PaneId, number> = { flows: 0, problems: 0, macs: 0, rules: 0, topology: 0 };
  detailPackets: string[] = [];
  sources: SourceStat[] = [];
  private lastSample: { sec: number; packets: number; bytes: number } | undefined;
  pps = 0;
  bps = 0;
  totalPackets = 0;
  warning: { text: string; sec: number } | undefined;
  cpuPct: number | undefined;
  errors = new Map<string, string>();
  nowSec = 0;

  constructor(readonly opts: ModelOptions) {}

  /** What the panes draw: the frozen copy while paused, else the live data. */
  get shown(): Displayed {
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

  /** The problem digest of the latest flow snapshot, grouped by kind. */
  setProblems(groups: ProblemGroup[]): void {
    this.live.problems = groups;
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

  /** Index of the selected flow in `rows` (follows the flow when rows re-sort). */
  currentIndex(rows: FlowInfo[]): number {
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

  /** Scroll window over a pane's lines, keeping `sticky` header lines on top. */
  window(pane: PaneId, lines: string[], height: number, sticky: number): string[] {
    const head = lines.slice(0, sticky);
    const body = lines.slice(sticky);
    const room = Math.max(0, height - head.length);
    const maxTop = Math.max(0, body.length - room);
    if (this.scroll[pane] > maxTop) this.scroll[pane] = maxTop;
    const top = this.scroll[pane];
    return [...head, ...body.slice(top, top + room)];
  }
}

export function cmpStr(a: string, b: string): number {
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
