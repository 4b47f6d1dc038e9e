/**
 * Shared by the diagnose integration tests: apply an example topology (examples/diagnose) under a test name,
 * destroy it, and run diagnoses a few at a time.
 */
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
