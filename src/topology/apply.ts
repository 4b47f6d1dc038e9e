/**
 * Runs a plan, and on any failure or interruption rolls back what this run did: the undo commands of every
 * change that started, newest first. Changes inside a namespace this run created are not undone one by one:
 * deleting the namespace takes them all. Removed addresses, routes and rules are put back; removed namespaces
 * and links (no longer declared) are not recreated.
 */
import { run } from '../host/run';
import type { Change, Cmd, Plan } from './plan';

export interface ExecuteOptions {
  /** Aborted (SIGINT/SIGTERM) → stop before the next change and roll back. */
  signal?: AbortSignal;
  /** Called before each change runs (1-based index). */
  onChange?: (change: Change, index: number, total: number) => void;
  /** Testing hook: fail when about to run change N (1-based). Defaults to NETSCOPE_TOPO_FAIL_AT. */
  failAt?: number;
  /** Testing hook: pause this long after each change (to interrupt an apply). Defaults to NETSCOPE_TOPO_STEP_DELAY_MS. */
  stepDelayMs?: number;
  runCmd?: (cmd: Cmd) => Promise<void>;
}

export class ApplyError extends Error {
  constructor(
    message: string,
    readonly reason: unknown,
    readonly appliedChanges: number,
    readonly rolledBack: number,
    readonly rollbackFailures: string[],
    readonly interrupted: boolean,
  ) {
    super(message);
    this.name = 'ApplyError';
  }
}

async function defaultRun(cmd: Cmd): Promise<void> {
  await run(cmd.argv, { netns: cmd.netns });
}

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Executes the plan; resolves with the number of changes applied, or rejects with ApplyError after rollback. */
export async function executePlan(plan: Plan, opts: ExecuteOptions = {}): Promise<number> {
  const runCmd = opts.runCmd ?? defaultRun;
  const failAt = opts.failAt ?? envNumber('NETSCOPE_TOPO_FAIL_AT');
  const delay = opts.stepDelayMs ?? envNumber('NETSCOPE_TOPO_STEP_DELAY_MS') ?? 0;
  const started: Change[] = [];
  let done = 0;
  const total = plan.changes.length;
  try {
    for (let i = 0; i < total; i++) {
      if (opts.signal?.aborted) throw new InterruptedError();
      const change = plan.changes[i];
      opts.onChange?.(change, i + 1, total);
      if (failAt === i + 1) throw new Error(`injected failure at change ${i + 1} (NETSCOPE_TOPO_FAIL_AT)`);
      for (let c = 0; c < change.cmds.length; c++) {
        await runCmd(change.cmds[c]);
        if (c === 0) started.push(change);
      }
      done++;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    }
    if (opts.signal?.aborted) throw new InterruptedError();
    return done;
  } catch (err) {
    const { undone, failures } = await rollback(started, runCmd);
    const interrupted = err instanceof InterruptedError;
    const why = interrupted ? 'interrupted' : (err as Error).message;
    const rb = failures.length === 0 ? `rolled back ${undone} change${undone === 1 ? '' : 's'}` : `rollback incomplete (${failures.length} command${failures.length === 1 ? '' : 's'} failed: ${failures[0]})`;
    throw new ApplyError(`apply of topology ${plan.topology} failed: ${why}; ${rb}`, err, done, undone, failures, interrupted);
  }
}

class InterruptedError extends Error {
  constructor() {
    super('interrupted');
  }
}

/** Undoes started changes newest first; skips those inside a namespace this run created (it goes as a whole). */
export async function rollback(started: Change[], runCmd: (cmd: Cmd) => Promise<void> = defaultRun): Promise<{ undone: number; failures: string[] }> {
  const createdNs = new Set(started.filter((c) => c.createsNamespace).map((c) => c.createsNamespace!));
  const failures: string[] = [];
  let undone = 0;
  for (const change of [...started].reverse()) {
    if (change.ns && createdNs.has(change.ns) && !change.createsNamespace) {
      undone++;
      continue;
    }
    for (const cmd of change.undo) {
      try {
        await runCmd(cmd);
      } catch (err) {
        failures.push((err as Error).message.split('\n')[0]);
      }
    }
    undone++;
  }
  return { undone, failures };
}
