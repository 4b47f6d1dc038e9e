/**
 * Shared by the diagnose integration tests: apply an example topology (examples/diagnose) under a test name,
 * destroy it, and run diagnoses a few at a time.
 */
import { readFileSync } from 'fs';
import path from 'path';
import type { DiagnoseReport } from '../../src/diagnose/types';
import { executePlan } from '../../src/topology/apply';
import { planApply, planDestroy } from '../../src/topology/lifecycle';
import { loadTopologyFile } from '../../src/topology/schema';
import { sh } from './netns';

const EX = path.join(__dirname, '..', '..', 'examples', 'diagnose');

/** Applies an example under name prefix+tag, namespaces "prefix+tag-<declared>"; returns the name mapper. */
export async function applyExample(prefix: string, file: string, tag: string): Promise<(declared: string) => string> {
  const spec = loadTopologyFile(path.join(EX, file));
  spec.name = `${prefix}${tag}`;
  await executePlan(await planApply(spec, { prefix: `${prefix}${tag}-`, file }));
  return (declared) => `${prefix}${tag}-${declared}`;
}

/** Splits one shell-like command line into words ('single quotes' group words). */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2]);
  return out;
}

/**
 * The fault commands an example's header lists under "# faults (run after topo apply):" (lines
 * "#   ip netns exec dg-NAME-<ns> …"), with the example's namespace prefix replaced by the test's.
 */
export function exampleFaults(file: string, map: (declared: string) => string): string[][] {
  const lines = readFileSync(path.join(EX, file), 'utf8').split('\n');
  const start = lines.findIndex((l) => /^# faults/.test(l));
  if (start < 0) throw new Error(`${file} lists no faults`);
  const out: string[][] = [];
  for (const l of lines.slice(start + 1)) {
    const m = /^#\s+(ip netns exec (\S+) .*)$/.exec(l);
    if (!m) break;
    const w = words(m[1]);
    const declared = /^dg-[a-z0-9]+-(.*)$/.exec(w[3])?.[1];
    if (!declared) throw new Error(`${file}: fault line names no example namespace: ${l}`);
    w[3] = map(declared);
    out.push(w);
  }
  return out;
}

/** Runs an example's fault commands (see exampleFaults). */
export function applyFaults(file: string, map: (declared: string) => string): void {
  for (const argv of exampleFaults(file, map)) sh(argv[0], argv.slice(1));
}

export async function destroyExample(prefix: string, tag: string): Promise<void> {
  await executePlan(await planDestroy(`${prefix}${tag}`)).catch(() => 0);
}

export function hopOf(r: DiagnoseReport): { netns: string; iface: string; role: string } | undefined {
  const h = r.hops.find((x) => x.index === r.verdict.hop);
  return h && { netns: h.netns, iface: h.iface, role: h.role };
}

export function pidsIn(ns: string): string {
  return sh('ip', ['netns', 'pids', ns]).trim();
}

/**
 * Runs diagnoses a few at a time: each one spends most of its time waiting (agents starting, probe timeouts),
 * and cases on different pods do not disturb each other (own echo id / source ports, own rule counters).
 */
export function limiter(max: number): <T>(f: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(f: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await f();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
