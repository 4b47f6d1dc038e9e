/**
 * The one command runner: every host command (ip, bridge, iptables-save, nft, sysctl, …) goes through here,
 * as execFile with an argv array — never a shell string. A command can be run inside a network namespace
 * (named: `ip netns exec`, or a process's: `nsenter --net=/proc/PID/ns/net`). `-v` logs every command.
 */
import { execFile } from 'child_process';
import { existsSync } from 'fs';

/** Where a command runs: the current namespace (undefined), a named one, or a process's ("pid:1234"). */
export type NetnsRef = string | undefined;

export interface RunOptions {
  netns?: NetnsRef;
  input?: string;
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly code: number | string | null,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')} failed${code !== null ? ` (exit ${code})` : ''}: ${stderr.trim() || 'no error output'}`);
    this.name = 'CommandError';
  }
}

type Logger = (line: string) => void;
let logger: Logger | null = null;

/** Turns command logging on (`-v`): each command is written before it runs. */
export function setCommandLogger(fn: Logger | null): void {
  logger = fn;
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const NSNAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function isValidIfName(name: string): boolean {
  return IFNAME.test(name) && name !== '.' && name !== '..';
}

export function isValidNetnsName(name: string): boolean {
  return NSNAME.test(name) && name !== '.' && name !== '..';
}

/** The argv prefix that runs a command in `netns` (empty for the current namespace). */
export function netnsArgv(netns: NetnsRef): string[] {
  if (netns === undefined || netns === '') return [];
  const pid = /^pid:(\d+)$/.exec(netns);
  if (pid) return ['nsenter', `--net=/proc/${pid[1]}/ns/net`, '--'];
  if (!isValidNetnsName(netns)) throw new Error(`invalid network namespace name "${netns}": use letters, digits, "_", "." or "-"`);
  return ['ip', 'netns', 'exec', netns];
}

/** Runs argv[0] with argv[1..] (in opts.netns); rejects with CommandError on a non-zero exit. */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = [...netnsArgv(opts.netns), ...argv];
  if (logger) logger(`+ ${full.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = execFile(
      full[0],
      full.slice(1),
      { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: opts.timeoutMs ?? 30_000 },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { code?: number | string };
          if (e.code === 'ENOENT') {
            reject(new CommandError(full, 'ENOENT', `${full[0]} not found: install it (e.g. apt-get install iproute2 iptables nftables)`));
          } else {
            reject(new CommandError(full, typeof e.code === 'number' || typeof e.code === 'string' ? e.code : null, stderr || e.message));
          }
          return;
        }
        resolve({ stdout, stderr });
      },
    );
    // A command may exit before reading its input: EPIPE on stdin must not become an uncaught error.
    child.stdin?.on('error', () => {});
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs a command that prints JSON (ip -j, bridge -j, nft -j) and parses it; empty output is `[]`. */
export async function runJson<T>(argv: string[], opts: RunOptions = {}): Promise<T> {
  const { stdout } = await run(argv, opts);
  const text = stdout.trim();
  if (text === '') return [] as unknown as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${argv.join(' ')} printed output that is not JSON (first bytes: ${JSON.stringify(text.slice(0, 60))})`);
  }
}

/**
 * A name given by the user (namespace, bridge, table, chain) that names nothing: a usage error (exit 2, see
 * docs/exit-codes.md); the message lists what does exist.
 */
export class UnknownNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownNameError';
  }
}

/** Whether this process runs as root (can enter other network namespaces). */
export function isRootUser(): boolean {
  return typeof process.getuid !== 'function' || process.getuid() === 0;
}

/** Whether a namespace reference names something that exists (whether or not this process may enter it). */
export function netnsExists(netns: string): boolean {
  const pid = /^pid:(\d+)$/.exec(netns);
  // /proc/PID, not /proc/PID/ns/net: another user's process has a namespace link this user may not read.
  if (pid) return existsSync(`/proc/${pid[1]}`);
  return isValidNetnsName(netns) && existsSync(`/run/netns/${netns}`);
}

/** The one line for "it exists, but this user may not look inside". */
export function netnsPermissionMessage(netns: string, what: string): string {
  return `network namespace "${netns}" exists, but ${what} needs root (CAP_SYS_ADMIN to enter it, CAP_NET_ADMIN to read it): run as root (sudo netscope …)`;
}

/** Errors when not root: kernel changes need CAP_NET_ADMIN, capture needs CAP_NET_RAW. */
export function requireRoot(capability: 'CAP_NET_ADMIN' | 'CAP_NET_RAW', what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`${what} needs ${capability}: run as root (sudo netscope …) or grant the capability`);
  }
}
