/**
 * Bounded label sets for one metric family. Prometheus keeps every distinct label set as a series, so an
 * exporter whose labels come from the host (pods, interfaces, rules) must cap them: past `max` distinct label
 * sets, new ones are refused (not exported) and counted, so the cap is visible in
 * netscope_metric_label_sets_refused_total instead of silently losing data. A label set is released when the
 * thing it describes is gone (an interface deleted, a pod removed), freeing its place.
 */
export class SeriesBudget {
  private readonly live = new Set<string>();
  /** Distinct label sets refused because the family was at its cap (each counted once until released). */
  refused = 0;
  private readonly refusedKeys = new Set<string>();

  constructor(
    readonly metric: string,
    readonly max: number,
  ) {}

  /** True when `key` may be exported: already admitted, or admitted now because there is room. */
  admit(key: string): boolean {
    if (this.live.has(key)) return true;
    if (this.live.size < this.max) {
      this.live.add(key);
      this.refusedKeys.delete(key);
      return true;
    }
    if (!this.refusedKeys.has(key) && this.refusedKeys.size < this.max) {
      this.refusedKeys.add(key);
      this.refused++;
    } else if (!this.refusedKeys.has(key)) {
      // The refused set is bounded too; beyond it every sighting counts (an over-count, never a leak).
      this.refused++;
    }
    return false;
  }

  release(key: string): void {
    this.live.delete(key);
    this.refusedKeys.delete(key);
  }

  get size(): number {
    return this.live.size;
  }
}

/** One key for a label set (values joined with a separator no label value contains after sanitising). */
export function seriesKey(values: readonly string[]): string {
  return values.join('\u0000');
}

/** Label values come from the host (rule text, names): cut to a length Prometheus and people can handle. */
export function labelValue(s: string, max = 160): string {
  const clean = s.replace(/[\u0000-\u001f]/g, ' ');
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}
