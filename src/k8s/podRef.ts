/**
 * How a user names pods: "POD", "NAMESPACE/POD", "pod:NAMESPACE/POD" (or "pod:POD"), and label selectors
 * "app=web,tier!=db,canary". Pure parsing and matching.
 */

export interface PodRef {
  /** undefined: any Kubernetes namespace (must then be unique). */
  namespace?: string;
  name: string;
  /** Written as "pod:…" or "NS/POD": it can only mean a pod. */
  explicit: boolean;
}

const DNS = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

/** A pod reference, or undefined when `ref` cannot name a pod. */
export function parsePodRef(ref: string): PodRef | undefined {
  let s = ref;
  let explicit = false;
  if (s.startsWith('pod:')) {
    s = s.slice(4);
    explicit = true;
  }
  const parts = s.split('/');
  if (parts.length === 2) {
    if (!DNS.test(parts[0]) || !DNS.test(parts[1])) return undefined;
    return { namespace: parts[0], name: parts[1], explicit: true };
  }
  if (parts.length !== 1 || !DNS.test(s)) return undefined;
  return { name: s, explicit };
}

/** Whether ref can only mean a pod (so it never names a network namespace or an interface). */
export function isExplicitPodRef(ref: string): boolean {
  return ref.startsWith('pod:') || ref.includes('/');
}

export type SelectorTerm = { key: string; op: '=' | '!=' | 'exists' | '!exists'; value: string };

/** "app=web,tier!=db,canary,!legacy" (also "=="); throws Error with the accepted form. */
export function parseSelector(selector: string): SelectorTerm[] {
  const terms: SelectorTerm[] = [];
  for (const raw of selector.split(',')) {
    const t = raw.trim();
    if (t === '') throw new Error(`selector "${selector}": empty term; use KEY=VALUE[,KEY!=VALUE,KEY,!KEY]`);
    const m = /^([A-Za-z0-9][A-Za-z0-9_.\-/]*)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)$/.exec(t);
    if (m) {
      terms.push({ key: m[1], op: m[2] === '!=' ? '!=' : '=', value: m[3] });
      continue;
    }
    const e = /^(!?)([A-Za-z0-9][A-Za-z0-9_.\-/]*)$/.exec(t);
    if (e) {
      terms.push({ key: e[2], op: e[1] ? '!exists' : 'exists', value: '' });
      continue;
    }
    throw new Error(`selector "${selector}": cannot read "${t}"; use KEY=VALUE[,KEY!=VALUE,KEY,!KEY]`);
  }
  return terms;
}

export function matchesSelector(labels: Record<string, string>, terms: SelectorTerm[]): boolean {
  for (const t of terms) {
    const has = Object.prototype.hasOwnProperty.call(labels, t.key);
    if (t.op === '=' && (!has || labels[t.key] !== t.value)) return false;
    if (t.op === '!=' && has && labels[t.key] === t.value) return false;
    if (t.op === 'exists' && !has) return false;
    if (t.op === '!exists' && has) return false;
  }
  return true;
}
