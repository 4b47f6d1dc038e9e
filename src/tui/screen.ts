/**
 * The blessed layer: boxes placed by computeLayout, filled from the model's pane text, keys mapped to model
 * actions. It has no timer: its owner calls draw() on its clock's tick (at most 10 times a second), and a
 * frame is drawn only when the model changed — never per packet. Given a fake output stream (isTTY, columns,
 * rows) it runs headless for tests.
 */
import blessed, { type Widgets } from 'blessed';
import * as contrib from 'blessed-contrib';
import { escapeTags } from './format';
import { computeLayout, tooSmall, type BoxId, type Layout, type PaneId } from './layout';
import type { DashboardModel } from './model';
import type { FlowInfo } from './rows';

export interface ViewActions {
  /** q / Ctrl-C. */
  quit(): void;
  /** Enter opened a flow's detail: the owner starts collecting that flow's packet lines. */
  detailOpened?(flow: FlowInfo): void;
  detailClosed?(): void;
}

export interface ViewOptions {
  output?: NodeJS.WritableStream;
  input?: NodeJS.ReadableStream;
  title?: string;
  /** terminfo name; default $TERM (tests pass "xterm"). */
  terminal?: string;
}

interface ScreenWithLines {
  lines: Array<Array<[unknown, string]>>;
}

const PANE_TITLES: Record<PaneId, string> = { flows: 'flows', problems: 'problems', macs: 'MAC table', rules: 'rule counters', topology: 'topology' };

export class DashboardView {
  readonly screen: Widgets.Screen;
  private boxes: Record<PaneId, Widgets.BoxElement>;
  private rate: contrib.SparklineElement;
  private status: Widgets.BoxElement;
  private popup: Widgets.BoxElement;
  private smallNote: Widgets.BoxElement;
  private drawnVersion = -1;
  private layoutKey = '';
  private filterEdit: string | undefined;
  private filterBefore = '';
  private destroyed = false;

  constructor(
    private readonly model: DashboardModel,
    private readonly actions: ViewActions,
    opts: ViewOptions = {},
  ) {
    this.screen = blessed.screen({
      output: opts.output as NodeJS.WriteStream | undefined,
      input: opts.input as NodeJS.ReadStream | undefined,
      terminal: opts.terminal,
      smartCSR: true,
      fullUnicode: true,
      forceUnicode: true,
      warnings: false,
      autoPadding: true,
      title: opts.title ?? 'netscope watch',
    });
    // Unicode box drawing instead of the terminal's ACS mode: identical in every terminal and in tmux captures.
    (this.screen as unknown as { tput: { brokenACS: boolean } }).tput.brokenACS = true;
    const box = (id: PaneId): Widgets.BoxElement =>
      blessed.box({ parent: this.screen, tags: true, wrap: false, border: { type: 'line' }, label: ` ${PANE_TITLES[id]} ` });
    this.boxes = { flows: box('flows'), problems: box('problems'), macs: box('macs'), rules: box('rules'), topology: box('topology') };
    this.rate = contrib.sparkline({
      parent: this.screen,
      label: ' bridge rate ',
      tags: true,
      border: { type: 'line' },
      style: { fg: 'cyan', titleFg: 'white' },
    });
    this.status = blessed.box({ parent: this.screen, tags: true, wrap: false, height: 1 });
    this.popup = blessed.box({
      parent: this.screen,
      tags: true,
      wrap: false,
      hidden: true,
      top: 'center',
      left: 'center',
      width: '80%',
      height: '70%',
      border: { type: 'line' },
      style: { border: { fg: 'yellow' } },
    });
    this.smallNote = blessed.box({ parent: this.screen, tags: true, hidden: true, top: 0, left: 0, width: '100%', height: '100%' });
    this.bindKeys();
    this.screen.on('resize', () => this.draw(true));
  }

  /** Restores the terminal (leaves the alternate screen, shows the cursor, stops raw mode). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.screen.destroy();
  }

  /** The screen as plain text, one string per row (after the last draw). */
  text(): string {
    const s = this.screen as unknown as ScreenWithLines;
    return s.lines.map((row) => row.map((cell) => cell[1]).join('')).join('\n');
  }

  /** Redraws when the model changed (or `force`). Returns whether it drew. */
  draw(force: boolean): boolean {
    if (this.destroyed) return false;
    const cols = this.screen.width as number;
    const rows = this.screen.height as number;
    const key = `${cols}x${rows}`;
    if (!force && this.model.version === this.drawnVersion && key === this.layoutKey) return false;
    this.drawnVersion = this.model.version;
    const small = tooSmall(cols, rows);
    this.smallNote.hidden = !small;
    if (small) {
      this.smallNote.setContent(`netscope: ${small} (q quits)`);
      this.smallNote.setFront();
      this.layoutKey = key;
      this.screen.render();
      return true;
    }
    if (key !== this.layoutKey) {
      this.place(computeLayout(cols, rows));
      this.layoutKey = key;
    }
    this.fill();
    this.screen.render();
    return true;
  }

  private place(l: Layout): void {
    const set = (el: Widgets.BoxElement, id: BoxId | 'status'): void => {
      const r = l[id];
      el.left = r.left;
      el.top = r.top;
      el.width = r.width;
      el.height = r.height;
    };
    for (const id of Object.keys(this.boxes) as PaneId[]) set(this.boxes[id], id);
    set(this.rate, 'rate');
    set(this.status, 'status');
  }

  private inner(el: Widgets.BoxElement): { w: number; h: number } {
    return { w: Math.max(0, (el.width as number) - 2), h: Math.max(0, (el.height as number) - 2) };
  }

  private fill(): void {
    const m = this.model;
    for (const id of Object.keys(this.boxes) as PaneId[]) {
      const el = this.boxes[id];
      el.style.border = { fg: m.focus === id ? 'cyan' : 'gray' };
    }
    const f = this.inner(this.boxes.flows);
    const flows = m.flowPane(f.w, f.h);
    this.boxes.flows.setLabel(flows.label);
    this.boxes.flows.setContent([`{bold}${escapeTags(flows.header)}{/bold}`, ...flows.lines].join('\n'));
    const mac = this.inner(this.boxes.macs);
    const macs = m.macPane(mac.w, mac.h);
    this.boxes.macs.setLabel(macs.label);
    this.boxes.macs.setContent(macs.lines.join('\n'));
    const ru = this.inner(this.boxes.rules);
    const rules = m.rulePane(ru.w, ru.h);
    this.boxes.rules.setLabel(rules.label);
    this.boxes.rules.setContent(rules.lines.join('\n'));
    const pr = this.inner(this.boxes.problems);
    const problems = m.problemsPane(pr.w, pr.h);
    this.boxes.problems.setLabel(problems.label);
    this.boxes.problems.setContent(problems.lines.join('\n'));
    const to = this.inner(this.boxes.topology);
    const topo = m.topologyPane(to.w, to.h);
    this.boxes.topology.setLabel(topo.label);
    this.boxes.topology.setContent(topo.lines.join('\n'));
    const series = m.rateSeries(Math.max(1, (this.rate.width as number) - 2));
    this.rate.setData(series.titles.map(escapeTags), series.data);

    const statusWidth = this.screen.width as number;
    this.status.setContent(
      this.filterEdit !== undefined
        ? `{bold}filter flows:{/bold} ${escapeTags(this.filterEdit)}█  {gray-fg}(enter apply, esc cancel){/gray-fg}`
        : m.statusLine(statusWidth),
    );

    if (m.helpOpen) {
      this.popup.setLabel(' keys ');
      this.popup.setContent(m.helpLines().map(escapeTags).join('\n'));
      this.popup.show();
      this.popup.setFront();
    } else if (m.detailKey !== undefined) {
      const d = m.detailLines();
      const h = Math.max(0, (this.popup.height as number) - 2);
      // Keep the newest packets when the list is taller than the popup: drop the oldest packet lines.
      let lines = d.lines;
      if (lines.length > h) {
        const head = lines.indexOf('last packets:') + 1;
        const tail = lines.slice(-2);
        const packets = lines.slice(head, lines.length - 2);
        lines = [...lines.slice(0, head), ...packets.slice(packets.length - Math.max(0, h - head - 2)), ...tail];
      }
      this.popup.setLabel(d.label);
      this.popup.setContent(lines.join('\n'));
      this.popup.show();
      this.popup.setFront();
    } else {
      this.popup.hide();
    }
  }

  private bindKeys(): void {
    const m = this.model;
    this.screen.on('keypress', (ch: string | undefined, key: Widgets.Events.IKeyEventArg) => {
      if (key.full === 'C-c') return this.actions.quit();
      if (this.filterEdit !== undefined) return this.editFilter(ch, key);
      switch (key.full) {
        case 'q':
          return this.actions.quit();
        case 'space':
          m.togglePause();
          break;
        case '/':
          this.filterEdit = m.flowFilter;
          this.filterBefore = m.flowFilter;
          break;
        case 'tab':
          m.cycleFocus();
          break;
        case 'S-tab':
          m.cycleFocus(true);
          break;
        case 's':
          m.cycleSort();
          break;
        case 'S':
          m.reverseSort();
          break;
        case 'b':
          m.sortBy('bytes');
          break;
        case 'p':
          m.sortBy('packets');
          break;
        case 'r':
          m.sortBy('rate');
          break;
        case 'up':
        case 'k':
          m.move(-1);
          break;
        case 'down':
        case 'j':
          m.move(1);
          break;
        case 'pageup':
          m.move(-10);
          break;
        case 'pagedown':
          m.move(10);
          break;
        case 'home':
          m.moveToEnd('top');
          break;
        case 'end':
          m.moveToEnd('bottom');
          break;
        // blessed reports one \r as two keypresses, "enter" then "return": act on "enter" only.
        case 'enter': {
          if (m.helpOpen) {
            m.closePopups();
            break;
          }
          const wasOpen = m.detailKey !== undefined;
          const opened = m.toggleDetail();
          if (opened) this.actions.detailOpened?.(opened);
          else if (wasOpen) this.actions.detailClosed?.();
          break;
        }
        case 'escape':
          if (m.closePopups()) this.actions.detailClosed?.();
          break;
        case '?':
          m.toggleHelp();
          break;
        default:
          return;
      }
      this.draw(false);
    });
  }

  private editFilter(ch: string | undefined, key: Widgets.Events.IKeyEventArg): void {
    const cur = this.filterEdit ?? '';
    if (key.name === 'return') return; // the second report of the enter key (see bindKeys)
    if (key.name === 'enter') {
      this.model.setFlowFilter(cur);
      this.filterEdit = undefined;
    } else if (key.name === 'escape') {
      this.filterEdit = undefined;
      this.model.setFlowFilter(this.filterBefore);
    } else if (key.name === 'backspace') {
      this.filterEdit = cur.slice(0, -1);
      this.model.setFlowFilter(this.filterEdit);
    } else if (ch && ch.length === 1 && ch >= ' ' && !key.ctrl && !key.meta) {
      this.filterEdit = cur + ch;
      this.model.setFlowFilter(this.filterEdit); // live: the flow list narrows while typing
    } else {
      return;
    }
    this.draw(true);
  }
}
