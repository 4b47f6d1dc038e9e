/**
 * nftables tracing in a set of network namespaces, leaving nothing behind.
 *
 * Per namespace: `nft -a monitor` (wrapped in `timeout`, so it cannot outlive a crashed parent for long) reads
 * trace events, and an `nft -i` process holds a table `inet netscope_trace_<pid>` created with `flags owner`:
 * the kernel deletes an owner table when the netlink socket that made it closes, so the table goes away when
 * that process exits — on stop(), on Ctrl-C, and when netscope is killed (its stdin pipe closes). The table's
 * base chains (prerouting and output, priority -350: before raw, conntrack, NAT and filter) set
 * `meta nftrace set 1` only for packets matching the given expressions; every chain the packet walks after
 * that (native nft and iptables-nft alike) reports the rule and verdict it met.
 *
 * A record in /run/netscope/trace/<pid>.json lists the tables and monitor processes while tracing runs; a
 * later run (cleanupStaleTraces) removes whatever a process that died left (also the record itself).
 */
import { spawn, type ChildProcess } from 'child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'fs';
import { parseTraceLine, type TraceEvent } from './nft-trace-parse';
import { netnsArgv, run } from './run';

export const TRACE_RECORD_DIR = '/run/netscope/trace';
export const TRACE_TABLE_PREFIX = 'netscope_trace_';

/** Our chains and their hooks: traced packets walk them, in this order for a forwarded packet. */
export const TRACE_HOOKS: ReadonlyArray<readonly [string, string]> = [
  ['hpre', 'prerouting'],
  ['hin', 'input'],
  ['hfwd', 'forward'],
  ['hout', 'output'],
  ['hpost', 'postrouting'],
];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let tracerSeq = 0;

/** A fresh table name: the pid (for cleanup after a crash) and a counter (several tracers in one process). */
export function traceTableName(pid = process.pid): string {
  return `${TRACE_TABLE_PREFIX}${pid}_${tracerSeq++}`;
}

export interface TraceRecord {
  pid: number;
  /** /proc/PID/stat start time of the tracing process (pid reuse check). */
  startTime: string | null;
  table: string;
  namespaces: string[];
  monitors: number[];
  /** The `nft -i` processes holding the owner tables. */
  holders: number[];
}

function procStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime), counted after the ")" that ends the command name.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function alive(pid: number, startTime: string | null): boolean {
  const now = procStartTime(pid);
  return now !== null && (startTime === null || now === startTime);
}

function recordPath(table: string): string {
  return `${TRACE_RECORD_DIR}/${table}.json`;
}

function writeRecord(r: TraceRecord): void {
  mkdirSync(TRACE_RECORD_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(recordPath(r.table), `${JSON.stringify(r)}\n`, { mode: 0o600 });
}

function removeRecord(table: string): void {
  try {
    unlinkSync(recordPath(table));
  } catch {
    /* already gone */
  }
}

export interface TraceCleanup {
  /** Tables deleted ("NETNS inet TABLE"). */
  tables: string[];
  /** Monitor processes ended. */
  processes: number[];
  /** Records removed. */
  records: number;
}

async function deleteTable(netns: string, table: string): Promise<boolean> {
  try {
    await run(['nft', 'delete', 'table', 'inet', table], { netns: netns === '' ? undefined : netns });
    return true;
  } catch {
    return false; // already gone (owner tables vanish with their process)
  }
}

/** Whether pid is still one of our nft processes (`nft … monitor` or `nft -i`), not a reused pid. */
function isOurNft(pid: number, arg: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes('nft') && argv.includes(arg);
  } catch {
    return false;
  }
}

/** Ends our leftover nft processes and waits (bounded) until they are gone: an owner table goes with its holder. */
async function endProcesses(pids: Array<{ pid: number; arg: string }>): Promise<number[]> {
  const ended: number[] = [];
  for (const p of pids) {
    if (!isOurNft(p.pid, p.arg)) continue;
    try {
      process.kill(p.pid, 'SIGTERM');
      ended.push(p.pid);
    } catch {
      /* gone */
    }
  }
  const t0 = Date.now();
  while (ended.some((pid) => existsSync(`/proc/${pid}`) && !isZombie(pid)) && Date.now() - t0 < 2000) await sleep(20);
  return ended;
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/**
 * Removes what dead tracing processes left: their tables in the recorded namespaces, their monitor processes
 * and their records. With `scan`, also every `netscope_trace_<pid>` table of a dead pid in `scan` namespaces
 * (for records lost with /run, e.g. after a reboot they are gone anyway, or deleted by hand).
 */
export async function cleanupStaleTraces(scan?: string[], onlyNamespaces?: readonly string[]): Promise<TraceCleanup> {
  const out: TraceCleanup = { tables: [], processes: [], records: 0 };
  let files: string[] = [];
  try {
    files = readdirSync(TRACE_RECORD_DIR).filter((f) => f.startsWith(TRACE_TABLE_PREFIX) && f.endsWith('.json'));
  } catch {
    files = [];
  }
  for (const f of files) {
    let rec: TraceRecord;
    try {
      rec = JSON.parse(readFileSync(`${TRACE_RECORD_DIR}/${f}`, 'utf8')) as TraceRecord;
    } catch {
      continue;
    }
    if (rec.pid === process.pid || alive(rec.pid, rec.startTime)) continue;
    // A diagnosis cleans up only after dead ones that traced its own namespaces (`diagnose --cleanup`: all).
    if (onlyNamespaces !== undefined && !rec.namespaces.some((ns) => onlyNamespaces.includes(ns))) continue;
    out.processes.push(...(await endProcesses([...(rec.monitors ?? []).map((pid) => ({ pid, arg: 'monitor' })), ...(rec.holders ?? []).map((pid) => ({ pid, arg: '-i' }))])));
    const gone = await Promise.all(rec.namespaces.map((ns) => (existsSync(ns === '' || ns.startsWith('pid:') ? '/' : `/run/netns/${ns}`) ? deleteTable(ns, rec.table) : Promise.resolve(false))));
    rec.namespaces.forEach((ns, i) => {
      if (gone[i]) out.tables.push(`${ns || 'host'} inet ${rec.table}`);
    });
    removeRecord(rec.table);
    out.records++;
  }
  if (scan) {
    await Promise.all(
      scan.map(async (ns) => {
        let text = '';
        try {
          text = (await run(['nft', 'list', 'tables'], { netns: ns === '' ? undefined : ns })).stdout;
        } catch {
          return;
        }
        for (const m of text.matchAll(new RegExp(`^table inet (${TRACE_TABLE_PREFIX}(\\d+)(?:_\\d+)?)$`, 'gm'))) {
          const pid = Number(m[2]);
          if (pid === process.pid || alive(pid, null)) continue;
          if (await deleteTable(ns, m[1])) out.tables.push(`${ns || 'host'} inet ${m[1]}`);
        }
      }),
    );
  }
  return out;
}

interface NsTrace {
  netns: string;
  monitor: ChildProcess;
  holder: ChildProcess;
  events: TraceEvent[];
  /** Ruleset events about our table seen so far (readiness / flush barrier). */
  marks: number;
  /** Next mark chain number. */
  seq: number;
  waiters: Array<() => void>;
  stderr: string;
  exited: Promise<void>;
}

export interface TraceStartResult {
  /** Namespaces where tracing runs. */
  traced: string[];
  /** Namespaces where it could not start, with the reason (one line each). */
  failed: Array<{ netns: string; reason: string }>;
}

/**
 * Traces packets matching `matches` (nft match expressions, e.g. "icmp type { echo-request, echo-reply } icmp
 * id 42") in every given namespace. start() resolves once every monitor is known to receive events.
 */
export class NftTracer {
  readonly table: string;
  private readonly sessions: NsTrace[] = [];
  private stopped = false;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly matches: string[],
    private readonly opts: { maxLifetimeS?: number; readyTimeoutMs?: number } = {},
  ) {
    if (matches.length === 0 || matches.some((m) => /[;\n#]/.test(m))) throw new Error('trace matches must be single nft expressions');
    this.table = traceTableName();
  }

  /** The commands that build the trace table (one line each, for `nft -i`). */
  tableCommands(): string[] {
    const t = `inet ${this.table}`;
    const cmds = [`add table ${t} { flags owner ; }`];
    // Every hook gets an (empty) chain too: a traced packet reports each one it reaches, so the walk shows
    // where in the namespace it stopped (e.g. after prerouting: dropped by routing, rp_filter).
    for (const [chain, hook] of TRACE_HOOKS) cmds.push(`add chain ${t} ${chain} { type filter hook ${hook} priority -350 ; }`);
    for (const chain of ['hpre', 'hout']) for (const m of this.matches) cmds.push(`add rule ${t} ${chain} ${m} meta nftrace set 1`);
    return cmds;
  }

  async start(namespaces: string[]): Promise<TraceStartResult> {
    const rec: TraceRecord = { pid: process.pid, startTime: procStartTime(process.pid), table: this.table, namespaces, monitors: [], holders: [] };
    for (const ns of namespaces) this.sessions.push(this.spawnSession(ns));
    rec.monitors = this.sessions.map((s) => s.monitor.pid ?? 0).filter((p) => p > 0);
    rec.holders = this.sessions.map((s) => s.holder.pid ?? 0).filter((p) => p > 0);
    writeRecord(rec);
    const failed: Array<{ netns: string; reason: string }> = [];
    await Promise.all(
      this.sessions.map(async (s) => {
        const ok = (await this.handshake(s, true)) && !/Error:/.test(s.stderr);
        if (!ok && process.env.NETSCOPE_TRACE_DEBUG) process.stderr.write(`trace debug ${s.netns}: marks=${s.marks} seq=${s.seq} events=${s.events.length} mon=${s.monitor.exitCode} hold=${s.holder.exitCode} stderr=${JSON.stringify(s.stderr)}\n`);
        if (!ok) failed.push({ netns: s.netns, reason: s.stderr.trim().split('\n').find((l) => /Error/.test(l)) ?? (s.stderr.trim().split('\n')[0] || 'the trace monitor did not start in time') });
      }),
    );
    return { traced: this.sessions.filter((s) => !failed.some((f) => f.netns === s.netns)).map((s) => s.netns), failed };
  }

  private spawnSession(netns: string): NsTrace {
    const pre = netnsArgv(netns === '' ? undefined : netns);
    const lifetime = String(this.opts.maxLifetimeS ?? 300);
    const monArgv = [...pre, 'timeout', lifetime, 'nft', '-a', 'monitor'];
    const holdArgv = [...pre, 'nft', '-i'];
    const monitor = spawn(monArgv[0], monArgv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const holder = spawn(holdArgv[0], holdArgv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
    const s: NsTrace = { netns, monitor, holder, events: [], marks: 0, seq: 0, waiters: [], stderr: '', exited: Promise.resolve() };
    const ownLine = new RegExp(`^(add|delete) \\S+ inet ${this.table}\\b`);
    let partial = '';
    monitor.stdout?.setEncoding('utf8');
    monitor.stdout?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const e = parseTraceLine(line);
        if (e) s.events.push(e);
        else if (ownLine.test(line)) {
          s.marks++;
          for (const w of s.waiters.splice(0)) w();
        }
      }
    });
    const grab = (c: ChildProcess) => {
      c.stderr?.setEncoding('utf8');
      c.stderr?.on('data', (d: string) => {
        if (s.stderr.length < 4096) s.stderr += d;
      });
    };
    grab(monitor);
    grab(holder);
    monitor.on('error', (e) => (s.stderr += `${e.message}\n`));
    holder.on('error', (e) => (s.stderr += `${e.message}\n`));
    holder.stdin?.on('error', () => undefined);
    const exitOf = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
    s.exited = Promise.all([exitOf(monitor), exitOf(holder)]).then(() => undefined);
    return s;
  }

  /**
   * Sends ruleset commands through the table holder until the monitor echoes one: then the monitor is
   * subscribed (first time), or every trace event emitted before has been read (a flush barrier). Each mark
   * is a new empty chain in our table (an existing name would give no event).
   */
  private async handshake(s: NsTrace, first: boolean): Promise<boolean> {
    const limit = this.opts.readyTimeoutMs ?? 15_000;
    const t0 = Date.now();
    const send = (cmds: string[]) => {
      if (s.holder.stdin?.writable) s.holder.stdin.write(`${cmds.join('\n')}\n`);
    };
    const mark = () => send([`add chain inet ${this.table} m${s.seq++}`]);
    const before = s.marks;
    if (first) send(this.tableCommands());
    else mark();
    let wait = 60;
    for (;;) {
      if (s.marks > before) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        s.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (s.marks > before) break;
      if (s.holder.exitCode !== null || s.monitor.exitCode !== null || Date.now() - t0 > limit) return false;
      mark();
      wait = Math.min(250, wait + 40);
    }
    if (!first) return true;
    // Subscribed; one more mark echoed means every table command before it took effect.
    const target = s.marks;
    mark();
    while (s.marks <= target && Date.now() - t0 < limit + 2000) {
      await new Promise<void>((r) => {
        const timer = setTimeout(r, 100);
        s.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
      if (s.holder.exitCode !== null) return false;
    }
    return s.marks > target;
  }

  /** Waits until each monitor has read every event emitted so far, then stops everything. */
  async finish(): Promise<Map<string, TraceEvent[]>> {
    await Promise.all(this.sessions.map((s) => (s.holder.exitCode === null && s.monitor.exitCode === null ? this.handshake(s, false) : Promise.resolve(false))));
    await this.stop();
    return new Map(this.sessions.map((s) => [s.netns, s.events]));
  }

  /** Ends every process (the kernel then drops the owner tables) and removes the record. Idempotent. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopped = true;
    this.stopping = (async () => {
      for (const s of this.sessions) {
        s.holder.stdin?.end();
        if (s.monitor.exitCode === null) s.monitor.kill('SIGTERM');
      }
      const bound = setTimeout(() => {
        for (const s of this.sessions) {
          if (s.holder.exitCode === null) s.holder.kill('SIGKILL');
          if (s.monitor.exitCode === null) s.monitor.kill('SIGKILL');
        }
      }, 2000);
      await Promise.all(this.sessions.map((s) => s.exited));
      clearTimeout(bound);
      // A table that outlived its holder (owner flag unsupported): delete it by name.
      await Promise.all(this.sessions.map(async (s) => ((await tableExists(s.netns, this.table)) ? deleteTable(s.netns, this.table) : false)));
      removeRecord(this.table);
    })();
    return this.stopping;
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}

async function tableExists(netns: string, table: string): Promise<boolean> {
  try {
    const { stdout } = await run(['nft', 'list', 'tables', 'inet'], { netns: netns === '' ? undefined : netns });
    return new RegExp(`^table inet ${table}$`, 'm').test(stdout);
  } catch {
    return false;
  }
}
