/**
 * The bridge rate chart's series: packets/s and bits/s history with the current values in the titles.
 */
import { si } from '../format';
import type { DashboardState } from '../state';

/** Chart series (last `n` samples) and their titles with the current values. */
export function rateSeries(m: DashboardState, n: number): { titles: string[]; data: number[][] } {
  const d = m.shown;
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
