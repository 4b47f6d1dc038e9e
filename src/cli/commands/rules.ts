/**
 * `netscope rules [--netns NS] [--table T] [--chain C] [--json] [--watch S]`: per-rule packet and byte
 * counters of every firewall backend (iptables/ip6tables on nft and legacy, native nftables), with deltas,
 * rates and hit DROP/REJECT rules flagged when watching.
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { pollEvery } from '../../host/poller';
import { RuleDeltas, isDropTarget, readRules, type RuleCounter, type RuleDelta, type RulesSnapshot } from '../../host/rules';
import { UnknownNameError, isValidNetnsName } from '../../host/run';
import { paint, pollUntilSignal, redraw, watchStamp } from '../watchOutput';
import { addExamples, type Example } from '../help';
import { fail, usage } from '../userError';

interface RulesArgs {
  netns?: string;
  table?: string;
  chain?: string;
  json?: boolean;
  watch?: number;
  nonzero?: boolean;
  color?: boolean;
}

export const command = 'rules';
export const describe = 'Firewall rule counters (iptables nft+legacy, ip6tables, nftables) with per-interval deltas';

export function builder(y: Argv): Argv<RulesArgs> {
  y.option('netns', { type: 'string', requiresArg: true, describe: 'network namespace (name or pid:PID); default: this one' })
    .option('table', { type: 'string', requiresArg: true, describe: 'only this table (filter, nat, mangle, raw, or an nft table; any case)' })
    .option('chain', { type: 'string', requiresArg: true, describe: 'only this chain (any case)' })
    .option('json', { type: 'boolean', describe: 'JSON output (one document; one line per refresh with --watch)' })
    .option('watch', { type: 'number', requiresArg: true, describe: 'refresh every S seconds with deltas and rates (Ctrl-C stops)' })
    .option('nonzero', { alias: 'z', type: 'boolean', describe: 'only rules whose counters are not zero (moving ones with --watch)' })
    .option('color', { type: 'boolean', describe: 'highlight moving rules and hit drops (default: when output is a terminal)' });
  return addExamples(y, examples) as unknown as Argv<RulesArgs>;
}

export const examples: readonly Example[] = [
  ['rules --netns node1 --table filter --chain FORWARD', 'one chain of one namespace, policy first'],
  ['rules --netns node1 --table nat --watch 1 --nonzero', 'rules moving now: deltas and rates'],
  ["rules --json | jq '.rules[] | select(.service)'", 'kube-proxy rules with their Service'],
];

/** 1234567 → "1.2M"; small numbers stay exact. */
export function humanBytes(n: number): string {
  if (n < 10_000) return String(n);
  const units = ['K', 'M', 'G', 'T', 'P'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)}${units[u]}`;
}

function rate(n: number): string {
  return n === 0 ? '0' : n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

export interface RenderRulesOptions {
  color?: boolean;
  nonzero?: boolean;
  /** Rows carry deltas (watch mode): adds ΔPKTS and PPS columns. */
  deltas?: boolean;
  /** Terminal width; rule text is cut to fit (0 = never cut). */
  width?: number;
}

function isDelta(r: RuleCounter | RuleDelta): r is RuleDelta {
  return 'dPackets' in r;
}

/** The backend summary line: which backend holds which tables. */
export function renderBackends(snap: Pick<RulesSnapshot, 'summary' | 'warnings'>): string[] {
  const held = snap.summary.filter((s) => s.tables.length > 0).map((s) => `${s.backend}: ${s.tables.join(', ')} (${s.rules} rules)`);
  const empty = snap.summary.filter((s) => s.tables.length === 0).map((s) => s.backend);
  let line = `backends  ${held.join(' | ') || (empty.length > 0 ? 'no tables in any backend' : 'none could be read')}`;
  if (held.length > 0 && empty.length > 0) line += `   (empty: ${empty.join(', ')})`;
  const lines = [line];
  for (const w of snap.warnings) lines.push(`warning   ${w}`);
  return lines;
}

/**
 * Renders rules grouped by backend, table and chain. Marks: "!" a DROP/REJECT rule that has dropped packets
 * (in the last interval with --watch), "*" a rule whose counter moved in the last interval.
 */
export function renderRules(rows: Array<RuleCounter | RuleDelta>, opts: RenderRulesOptions = {}): string[] {
  const color = opts.color === true;
  const lines: string[] = [];
  let group = '';
  const shown = opts.nonzero ? rows.filter((r) => (isDelta(r) ? r.dPackets > 0 : r.packets > 0)) : rows;
  // Wide enough for kube-proxy's KUBE-SEP-XXXXXXXXXXXXXXXX targets, capped so the rule text keeps its room.
  const targetW = Math.min(27, Math.max(6, ...shown.map((r) => r.target.length)));
  const head = `    PKTS    BYTES  ${opts.deltas ? 'ΔPKTS    PPS  ' : ''}${'TARGET'.padEnd(targetW)}  RULE`;
  for (const r of shown) {
    const g = `${r.backend}|${r.family}|${r.table}|${r.chain}`;
    if (g !== group) {
      group = g;
      const table = r.backend === 'nft' ? `${r.family} ${r.table}` : r.table;
      const kube = r.kubeRole ? `  (kube-proxy: ${r.kubeRole})` : '';
      lines.push('', paint(color, '1', `${r.backend}  ${table}  ${r.chain}${kube}`), head);
    }
    const dropHit = isDelta(r) ? r.hitDrop : isDropTarget(r.target) && r.packets > 0;
    const mark = dropHit ? '!' : isDelta(r) && r.dPackets > 0 ? '*' : ' ';
    const pkts = r.counted ? String(r.packets) : '-';
    const bytes = r.counted ? humanBytes(r.bytes) : '-';
    let cols = `${mark}${pkts.padStart(7)} ${bytes.padStart(8)}`;
    if (opts.deltas && isDelta(r)) cols += ` ${(r.counted ? String(r.dPackets) : '-').padStart(6)} ${(r.counted ? rate(r.pps) : '-').padStart(6)}`;
    const svc = r.service ? `[${r.service}] ` : '';
    const text = r.position === 0 ? `(${r.text})` : r.text;
    let line = `${cols}  ${(r.target || '-').padEnd(targetW)}  ${svc}${text}`;
    if (opts.width && opts.width > 20 && line.length > opts.width) line = `${line.slice(0, opts.width - 1)}…`;
    lines.push(dropHit ? paint(color, '31;1', line) : mark === '*' ? paint(color, '33', line) : line);
  }
  if (lines.length === 0) lines.push('', opts.nonzero ? 'no rule with moving counters' : 'no rules');
  return lines;
}

export async function handler(argv: ArgumentsCamelCase<RulesArgs>): Promise<void> {
  if (argv.netns !== undefined && !/^pid:\d+$/.test(argv.netns) && !isValidNetnsName(argv.netns)) {
    return usage(`invalid namespace "${argv.netns}": give a name from "ip netns list" or pid:PID`);
  }
  if (argv.watch !== undefined && !(argv.watch > 0)) return usage('--watch takes a positive number of seconds');
  const opts = { netns: argv.netns, table: argv.table, chain: argv.chain };
  const color = argv.color ?? (process.stdout.isTTY === true && !argv.json);
  const width = process.stdout.isTTY ? process.stdout.columns : 0;

  if (argv.watch === undefined) {
    let snap: RulesSnapshot;
    try {
      snap = await readRules(opts);
    } catch (err) {
      return fail((err as Error).message, err instanceof UnknownNameError ? 2 : 1);
    }
    if (argv.json) {
      process.stdout.write(`${JSON.stringify({ backends: snap.backends, summary: snap.summary, warnings: snap.warnings, rules: snap.rules })}\n`);
    } else {
      process.stdout.write(`${[...renderBackends(snap), ...renderRules(snap.rules, { color, nonzero: argv.nonzero, width })].join('\n')}\n`);
    }
    if (snap.summary.length === 0) process.exitCode = 1;
    return;
  }

  const deltas = new RuleDeltas();
  const poll = pollEvery(argv.watch * 1000, () => readRules(opts), (result, atSec) => {
    if (result instanceof Error) {
      fail(result.message, result instanceof UnknownNameError ? 2 : 1);
      return false;
    }
    const rows = deltas.update(result.rules, atSec);
    if (argv.json) {
      process.stdout.write(`${JSON.stringify({ at: atSec, backends: result.backends, rules: rows })}\n`);
      return true;
    }
    const stamp = watchStamp(atSec);
    const out = [
      `netscope rules${argv.netns ? ` --netns ${argv.netns}` : ''} — every ${argv.watch}s — ${stamp}   (* moving, ! DROP/REJECT hit; Ctrl-C stops)`,
      ...renderBackends(result),
      ...renderRules(rows, { color, nonzero: argv.nonzero, deltas: true, width }),
    ];
    redraw(out);
    return true;
  });
  await pollUntilSignal(poll);
}
