/**
 * Pane geometry for a terminal size. Pure, so the layout is tested without a terminal and the view only
 * places boxes where this says.
 */

export type PaneId = 'flows' | 'problems' | 'macs' | 'rules' | 'topology';
export type BoxId = PaneId | 'rate';

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Smallest terminal the dashboard draws in; below it, the user is told to enlarge the window. */
export const MIN_COLS = 80;
export const MIN_ROWS = 24;

/** At least this many columns puts flows and the rate chart in a left column and the host panes on the right. */
const WIDE_COLS = 160;

export type Layout = Record<BoxId, Rect> & { status: Rect };

export function tooSmall(cols: number, rows: number): string | undefined {
  if (cols >= MIN_COLS && rows >= MIN_ROWS) return undefined;
  return `terminal is ${cols}x${rows}; the dashboard needs at least ${MIN_COLS}x${MIN_ROWS}: enlarge the window`;
}

/**
 * Wide terminals: flows (tall), problems and the rate chart on the left; MAC table, rule counters and topology
 * stacked on the right. Narrow ones: flows across the whole width on top, then MACs | rules, then topology |
 * problems | rate.
 */
export function computeLayout(cols: number, rows: number): Layout {
  const body = rows - 1; // the last row is the status line
  const status: Rect = { left: 0, top: rows - 1, width: cols, height: 1 };
  if (cols >= WIDE_COLS) {
    const leftW = Math.floor(cols * 0.58);
    const rightW = cols - leftW;
    const rateH = 8;
    const problemsH = Math.max(6, Math.floor(body * 0.2));
    const macsH = Math.floor(body * 0.36);
    const rulesH = Math.floor(body * 0.3);
    return {
      flows: { left: 0, top: 0, width: leftW, height: body - rateH - problemsH },
      problems: { left: 0, top: body - rateH - problemsH, width: leftW, height: problemsH },
      rate: { left: 0, top: body - rateH, width: leftW, height: rateH },
      macs: { left: leftW, top: 0, width: rightW, height: macsH },
      rules: { left: leftW, top: macsH, width: rightW, height: rulesH },
      topology: { left: leftW, top: macsH + rulesH, width: rightW, height: body - macsH - rulesH },
      status,
    };
  }
  const flowsH = Math.max(8, Math.floor(body * 0.42));
  const midH = Math.floor((body - flowsH) / 2);
  const botH = body - flowsH - midH;
  const half = Math.floor(cols / 2);
  const topoW = Math.floor(cols * 0.4);
  const problemsW = Math.floor(cols * 0.35);
  return {
    flows: { left: 0, top: 0, width: cols, height: flowsH },
    macs: { left: 0, top: flowsH, width: half, height: midH },
    rules: { left: half, top: flowsH, width: cols - half, height: midH },
    topology: { left: 0, top: flowsH + midH, width: topoW, height: botH },
    problems: { left: topoW, top: flowsH + midH, width: problemsW, height: botH },
    rate: { left: topoW + problemsW, top: flowsH + midH, width: cols - topoW - problemsW, height: botH },
    status,
  };
}
