/**
 * `netscope fdb BRIDGE[@NETNS] [--json] [--watch S]`: a bridge's MAC table with each MAC resolved to the
 * namespace (pod), interface and IPs that hold it; --watch marks new, expired and moved MACs.
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { FdbWatch, UnknownBridgeError, fdbKey, isGroupMac, readFdbDetailed, type FdbDiff, type FdbEntry, type FdbRead } from '../../host/fdb';
import { pollEvery } from '../../host/poller';
import { paint, pollUntilSignal, redraw, watchStamp } from '../watchOutput';
import { addExamples, type Example } from '../help';
import { fail } from '../userError';

interface FdbArgs {
  bridge: string;
  json?: boolean;
  watch?: number;
  all?: boolean;
  color?: boolean;
}

export const command = 'fdb <bridge>';
export const describe = "A bridge's MAC table (FDB) with each MAC resolved to its namespace, interface and IPs";

export function builder(y: Argv): Argv<FdbArgs> {
  y
    .positional('bridge', { type: 'string', demandOption: true, describe: 'BRIDGE, BRIDGE@NETNS or BRIDGE@pid:PID' })
    .option('json', { type: 'boolean', describe: 'JSON output (one document; one line per refresh with --watch)' })
    .option('watch', { type: 'number', requiresArg: true, describe: 'refresh every S seconds, marking new (+), expired (-) and moved (~) MACs' })
    .option('all', { alias: 'a', type: 'boolean', describe: "also the devices' own multicast entries (self)" })
    .option('color', { type: 'boolean', describe: 'colour the marks (default: when output is a terminal)' });
  return addExamples(y, examples) as unknown as Argv<FdbArgs>;
}

export const examples: readonly Example[] = [
  ['fdb br0@node1', 'the MAC table of bridge br0 in namespace node1'],
  ['fdb cni0 --watch 2', 'redraw every 2 s: + new, ~ moved, - expired'],
];

/** "br0@node1" → { bridge: "br0", netns: "node1" }; "br0" → any namespace. */
export function parseBridgeRef(ref: string): { bridge: string; netns?: string } {
  const at = ref.indexOf('@');
  if (at < 0) return { bridge: ref };
  return { bridge: ref.slice(0, at), netns: ref.slice(at + 1) };
}

const FLAG_ORDER = ['learned', 'static', 'local', 'permanent', 'self', 'extern_learn', 'offload', 'sticky', 'router'];

/** Flags as shown: "master" is implied by being in a bridge's table, so it is left out. */
function shownFlags(e: FdbEntry): string {
  return e.flags
    .filter((f) => f !== 'master')
    .sort((a, b) => (FLAG_ORDER.indexOf(a) + 1 || 99) - (FLAG_ORDER.indexOf(b) + 1 || 99))
    .join(' ');
}

function age(sec: number | undefined): string {
  if (sec === undefined) return '-';
  if (sec < 120) return `${sec}s`;
  if (sec < 7200) return `${Math.floor(sec / 60)}m`;
  return `${Math.floor(sec / 3600)}h`;
}

function where(e: FdbEntry): string {
  const r = e.resolved;
  if (!r) return e.dst ? `remote ${e.dst}` : '';
  const ips = r.ips.length > 0 ? ` ${r.ips.join(',')}` : '';
  return `${r.label} ${r.ifname}${ips}${r.via === 'neighbour' ? ' (neighbour)' : ''}`;
}

/** Which entries to show: forwarding entries, and the bridge's own unicast ones; device multicast only with --all. */
export function visibleEntries(entries: FdbEntry[], all: boolean): FdbEntry[] {
  return all ? entries : entries.filter((e) => !(e.flags.includes('self') && isGroupMac(e.mac)));
}

function rank(e: FdbEntry): number {
  if (e.flags.includes('learned')) return 0;
  if (e.flags.includes('static')) return 1;
  if (e.flags.includes('local')) return 2;
  return 3;
}

/** Sorted by port, then learned / static / local / other, then MAC. */
export function sortEntries(entries: FdbEntry[]): FdbEntry[] {
  return [...entries].sort((a, b) => a.port.localeCompare(b.port) || rank(a) - rank(b) || a.mac.localeCompare(b.mac) || (a.vlan ?? 0) - (b.vlan ?? 0));
}

/**
 * Renders the table. With a diff (watch mode) each row gets a mark: "+" new, "~" moved (with the old port),
 * and expired entries are listed once more with "-".
 */
export function renderFdb(read: Pick<FdbRead, 'bridge' | 'netnsLabel' | 'ports'>, entries: FdbEntry[], opts: { diff?: FdbDiff; color?: boolean; all?: boolean } = {}): string[] {
  const color = opts.color === true;
  const added = new Set(opts.diff?.added ?? []);
  const moved = new Map((opts.diff?.moved ?? []).map((m) => [m.entry, m.fromPort]));
  const rows: Array<{ mark: string; e: FdbEntry; note: string }> = [];
  for (const e of sortEntries(visibleEntries(entries, opts.all === true))) {
    const from = moved.get(e);
    rows.push({ mark: added.has(e) ? '+' : from !== undefined ? '~' : ' ', e, note: from !== undefined ? ` (was ${from})` : '' });
  }
  for (const e of sortEntries(visibleEntries(opts.diff?.expired ?? [], opts.all === true))) rows.push({ mark: '-', e, note: ' (expired)' });
  const macW = 17;
  const portW = Math.max(4, ...rows.map((r) => r.e.port.length));
  const flagW = Math.max(5, ...rows.map((r) => shownFlags(r.e).length));
  const lines = [
    `bridge ${read.bridge.name} in ${read.netnsLabel}: ${read.ports.length} port${read.ports.length === 1 ? '' : 's'}${read.ports.length > 0 ? ` (${read.ports.join(' ')})` : ''}, ${rows.filter((r) => r.mark !== '-').length} entries`,
    `  ${'MAC'.padEnd(macW)}  ${'PORT'.padEnd(portW)}  VLAN  ${'FLAGS'.padEnd(flagW)}   USED  UPDATED  WHERE`,
  ];
  for (const { mark, e, note } of rows) {
    const line = `${mark} ${e.mac.padEnd(macW)}  ${e.port.padEnd(portW)}  ${String(e.vlan ?? '-').padStart(4)}  ${shownFlags(e).padEnd(flagW)}  ${age(e.usedSec).padStart(5)}  ${age(e.updatedSec).padStart(7)}  ${where(e)}${note}`.trimEnd();
    lines.push(mark === '+' ? paint(color, '32', line) : mark === '~' ? paint(color, '33;1', line) : mark === '-' ? paint(color, '2', line) : line);
  }
  if (rows.length === 0) lines.push('  (empty)');
  return lines;
}

/**
 * Keeps each change visible for a few refreshes: with a 1 s interval a mark that lasts one frame is easy to
 * miss. Returns the diff to draw (the current changes plus the still-recent ones).
 */
export class RecentChanges {
  private frame = 0;
  private readonly added = new Map<string, number>();
  private readonly moved = new Map<string, { fromPort: string; frame: number }>();
  private readonly expired = new Map<string, { entry: FdbEntry; frame: number }>();

  constructor(private readonly frames = 3) {}

  update(diff: FdbDiff): FdbDiff {
    const f = ++this.frame;
    for (const e of diff.added) this.added.set(fdbKey(e), f);
    for (const m of diff.moved) this.moved.set(fdbKey(m.entry), { fromPort: m.fromPort, frame: f });
    for (const e of diff.expired) this.expired.set(fdbKey(e), { entry: e, frame: f });
    const current = new Map(diff.entries.map((e) => [fdbKey(e), e]));
    const fresh = (at: number): boolean => f - at < this.frames;
    const out: FdbDiff = { added: [], moved: [], expired: [], entries: diff.entries };
    // A recent move says more than a recent arrival, so it wins when both apply.
    for (const [k, m] of this.moved) {
      const e = current.get(k);
      if (!fresh(m.frame) || !e) this.moved.delete(k);
      else out.moved.push({ entry: e, fromPort: m.fromPort });
    }
    for (const [k, at] of this.added) {
      const e = current.get(k);
      if (!fresh(at) || !e) this.added.delete(k);
      else if (!this.moved.has(k)) out.added.push(e);
    }
    for (const [k, x] of this.expired) {
      if (!fresh(x.frame) || current.has(k)) this.expired.delete(k);
      else out.expired.push(x.entry);
    }
    return out;
  }
}

function toJson(read: FdbRead, entries: FdbEntry[]): object {
  return { bridge: read.bridge.name, netns: read.bridge.netns, netnsLabel: read.netnsLabel, ports: read.ports, entries };
}

export async function handler(argv: ArgumentsCamelCase<FdbArgs>): Promise<void> {
  const { bridge, netns } = parseBridgeRef(argv.bridge);
  if (bridge === '' || netns === '') return fail(`"${argv.bridge}" is not BRIDGE or BRIDGE@NETNS`, 2);
  if (argv.watch !== undefined && !(argv.watch > 0)) return fail('--watch takes a positive number of seconds', 2);
  const color = argv.color ?? (process.stdout.isTTY === true && !argv.json);
  const errorCode = (err: Error): number => (err instanceof UnknownBridgeError ? 2 : 1);

  if (argv.watch === undefined) {
    let read: FdbRead;
    try {
      read = await readFdbDetailed(bridge, netns);
    } catch (err) {
      return fail((err as Error).message, errorCode(err as Error));
    }
    const shown = visibleEntries(read.entries, argv.all === true);
    if (argv.json) process.stdout.write(`${JSON.stringify(toJson(read, shown))}\n`);
    else process.stdout.write(`${renderFdb(read, read.entries, { color, all: argv.all }).join('\n')}\n`);
    return;
  }

  const watch = new FdbWatch();
  const recent = new RecentChanges();
  const poll = pollEvery(argv.watch * 1000, () => readFdbDetailed(bridge, netns), (result, atSec) => {
    if (result instanceof Error) {
      fail(result.message, errorCode(result));
      return false;
    }
    const diff = watch.update(result.entries);
    if (argv.json) {
      const vis = (l: FdbEntry[]): FdbEntry[] => visibleEntries(l, argv.all === true);
      const moved = diff.moved.filter((m) => vis([m.entry]).length > 0).map((m) => ({ ...m.entry, fromPort: m.fromPort }));
      process.stdout.write(`${JSON.stringify({ at: atSec, ...toJson(result, vis(result.entries)), added: vis(diff.added), expired: vis(diff.expired), moved })}\n`);
      return true;
    }
    const stamp = watchStamp(atSec);
    const shown = recent.update(diff);
    const out = [`netscope fdb ${argv.bridge} — every ${argv.watch}s — ${stamp}   (+ new, ~ moved, - expired; Ctrl-C stops)`, ...renderFdb(result, result.entries, { diff: shown, color, all: argv.all })];
    redraw(out);
    return true;
  });
  await pollUntilSignal(poll);
}
