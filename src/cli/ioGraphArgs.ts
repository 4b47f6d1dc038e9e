/**
 * The `read --io-graph` options (kept out of commands/read.ts so that file only wires them): checks them and
 * builds the report, and renders it for stdout.
 */
import { useColor } from './color';
import { IoGraphReport, parseInterval } from './ioGraphText';

export interface IoGraphArgs {
  ioGraph?: boolean;
  interval?: string;
  top?: number;
  summary?: boolean;
  flows?: boolean;
  json?: boolean;
}

/** The report to feed, undefined without --io-graph, or a usage error's text. */
export function ioGraphFromArgs(a: IoGraphArgs): IoGraphReport | undefined | string {
  if (!a.ioGraph) return a.interval !== undefined ? '--interval applies to --io-graph: add --io-graph' : undefined;
  if (a.summary || a.flows) return 'choose one of --io-graph, --summary and --flows';
  let intervalNs: number | undefined;
  if (a.interval !== undefined) {
    intervalNs = parseInterval(a.interval);
    if (intervalNs === undefined) return `--interval ${a.interval}: give a duration such as 1s, 100ms, 500us, 1m (at least 1us)`;
  }
  if (a.top !== undefined && !(Number.isInteger(a.top) && a.top >= 0)) return '--top must be 0 or a positive integer';
  return new IoGraphReport({ intervalNs, top: a.top, json: a.json });
}

export function renderIoGraph(r: IoGraphReport, json: boolean): string {
  return json ? r.renderJson() : r.render({ color: useColor(process.stdout), width: process.stdout.isTTY ? process.stdout.columns : 100 });
}
