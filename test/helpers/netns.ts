/**
 * Kernel test objects: every name starts with "nst" + the jest worker id, so parallel test files never
 * collide, and `cleanupPrefix` removes whatever a test left (namespaces take their links with them).
 */
import { execFileSync } from 'child_process';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * "nst<worker><tag>": keep tag short, interface names are limited to 15 characters. NST_WORKER_OFFSET
 * shifts the worker number so two test runs on one machine (two checkouts) never share a prefix.
 */
export function testPrefix(tag: string): string {
  const worker = Number(process.env.JEST_WORKER_ID ?? '0') + Number(process.env.NST_WORKER_OFFSET ?? '0');
  return `nst${worker}${tag}`;
}

export function sh(cmd: string, args: string[], opts: { input?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function tryRun(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function nsExec(ns: string, cmd: string, args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args]);
}

/** Deletes every namespace and host link whose name starts with prefix. */
export function cleanupPrefix(prefix: string): void {
  const nsList = sh('ip', ['-j', 'netns', 'list']).trim();
  for (const ns of (nsList ? JSON.parse(nsList) : []) as { name: string }[]) {
    if (ns.name.startsWith(prefix)) tryRun('ip', ['netns', 'del', ns.name]);
  }
  const links = JSON.parse(sh('ip', ['-j', 'link', 'show'])) as { ifname: string }[];
  for (const l of links) if (l.ifname.startsWith(prefix)) tryRun('ip', ['link', 'del', l.ifname]);
}
