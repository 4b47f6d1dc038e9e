/**
 * The dashboard's model as the view uses it: the state (state.ts) and the text of every pane at a given size
 * (panes/*.ts). Lines carry blessed tags for colour; user data is escaped.
 */
import type { PaneText } from './rows';
import { DashboardState } from './state';
import { rateSeries } from './panes/chart';
import { detailLines } from './panes/detail';
import { flowPane } from './panes/flows';
import { helpLines } from './panes/help';
import { macPane } from './panes/macs';
import { problemsPane } from './panes/problems';
import { rulePane } from './panes/rules';
import { statusLine } from './panes/status';
import { topologyPane } from './panes/topology';

export class DashboardModel extends DashboardState {
  flowPane(width: number, height: number): PaneText & { header: string } {
    return flowPane(this, width, height);
  }

  /** Problems by kind with counts and the most significant few. */
  problemsPane(width: number, height: number): PaneText {
    return problemsPane(this, width, height);
  }

  /** Merged FDB + wire MAC rows, learned first, moves highlighted. */
  macPane(width: number, height: number): PaneText {
    return macPane(this, width, height);
  }

  rulePane(width: number, height: number): PaneText {
    return rulePane(this, width, height);
  }

  topologyPane(width: number, height: number): PaneText {
    return topologyPane(this, width, height);
  }

  /** Chart series (last `n` samples) and their titles with the current values. */
  rateSeries(n: number): { titles: string[]; data: number[][] } {
    return rateSeries(this, n);
  }

  statusLine(width: number): string {
    return statusLine(this, width);
  }

  detailLines(): { label: string; lines: string[] } {
    return detailLines(this);
  }

  helpLines(): string[] {
    return helpLines();
  }
}
