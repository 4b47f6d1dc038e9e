/**
 * Firewall rule counters of one network namespace from every backend at once: iptables and ip6tables on the
 * nf_tables backend (iptables-nft-save -c) and on the legacy x_tables backend (iptables-legacy-save -c), and
 * native nftables tables (nft -j list ruleset, minus the tables iptables-nft made). RuleDeltas turns two
 * successive reads into per-interval deltas and rates. No formatting here: the CLI and the dashboard share it.
 */
import { parseIptablesSave } from './iptables';
import { isXtablesTableName, parseNftRuleset, parseNftTables, type NftParseResult } from './nft';
import { isDropTarget, type RuleBackend, type RuleCounter } from './rule-counter';
import { CommandError, UnknownNameError, isRootUser, isValidNetnsName, netnsExists, netnsPermissionMessage, run, type NetnsRef } from './run';

export { isDropTarget, kubeChainRole, kubeService, type RuleBackend, type RuleCounter } from './rule-counter';

export interface ReadRulesOptions {
  /** Namespace to read (named, or "pid:1234"); the current one when absent. */
  netns?: NetnsRef;
  /** Only this table (filter, nat, mangle, raw, security, or an nft table name). */
  table?: string;
  /** Only this chain. */
  chain?: string;
}

export interface BackendTables {
  backend: RuleBackend;
  /** "filter", "nat" … (nft: "inet netscope_fw"). */
  tables: string[];
  /** Rules in those tables, policies not included. */
  rules: number;
}

export interface RulesSnapshot {
  rules: RuleCounter[];
  /** Backends that hold at least one table, in the order they were read. */
  backends: RuleBackend[];
  /** What each backend holds (every backend that could be read, also the empty ones). */
  summary: BackendTables[];
  /** Backends that could not be read (tool missing, permission) and why, one line each. */
  warnings: string[];
}

interface SaveTool {
  backend: RuleBackend;
  argv: string[];
  family: 'ip' | 'ip6';
}

const SAVE_TOOLS: SaveTool[] = [
  { backend: 'iptables-nft', argv: ['iptables-nft-save', '-c'], family: 'ip' },
  { backend: 'ip6tables-nft', argv: ['ip6tables-nft-save', '-c'], family: 'ip6' },
  { backend: 'iptables-legacy', argv: ['iptables-legacy-save', '-c'], family: 'ip' },
  { backend: 'ip6tables-legacy', argv: ['ip6tables-legacy-save', '-c'], family: 'ip6' },
];

function oneLine(err: unknown): string {
  const msg = err instanceof CommandError ? err.message : err instanceof Error ? err.message : String(err);
  return msg.split('\n').map((l) => l.trim()).filter((l) => l !== '').join('; ');
}

/** Runs a command; a missing tool or failure becomes a warning instead of failing the whole read. */
async function tryRead(argv: string[], netns: NetnsRef, warnings: string[]): Promise<string | undefined> {
  try {
    return (await run(argv, { netns })).stdout;
  } catch (err) {
    if (err instanceof CommandError && err.code === 'ENOENT' && netnsArgv0Missing(err)) throw err;
    warnings.push(`${argv[0]}: ${oneLine(err)}`);
    return undefined;
  }
}

/** A missing `ip` (used to enter the namespace) is fatal; a missing save tool is only a warning. */
function netnsArgv0Missing(err: CommandError): boolean {
  return err.argv[0] === 'ip' || err.argv[0] === 'nsenter';
}

/**
 * Lists only the tables that are not iptables-nft's: with kube-proxy those hold tens of thousands of rules,
 * and `nft -j list ruleset` would spend seconds printing what iptables-nft-save already gave us. Falls back to
 * the whole ruleset when a table cannot be listed by name.
 */
async function readNativeNft(tablesText: string, xtablesHint: Set<string>, netns: NetnsRef, warnings: string[]): Promise<NftParseResult> {
  const wanted = parseNftTables(tablesText).filter((t) => !(isXtablesTableName(t.family, t.name) && xtablesHint.has(`${t.family} ${t.name}`)));
  const out: NftParseResult = { tables: [], rules: [] };
  const texts = await Promise.all(wanted.map((t) => run(['nft', '-j', 'list', 'table', t.family, t.name], { netns }).then((r) => r.stdout, () => undefined)));
  if (texts.some((t) => t === undefined)) {
    const all = await tryRead(['nft', '-j', 'list', 'ruleset'], netns, warnings);
    return all === undefined ? out : parseNftRuleset(all, xtablesHint);
  }
  for (const text of texts) {
    const parsed = parseNftRuleset(text ?? '', xtablesHint);
    out.tables.push(...parsed.tables);
    out.rules.push(...parsed.rules);
  }
  return out;
}

/** Fails early and clearly on a namespace that does not exist (instead of five tools failing). */
export function assertNetnsExists(netns: NetnsRef): void {
  if (netns === undefined || netns === '') return;
  const pid = /^pid:(\d+)$/.exec(netns);
  if (!pid && !isValidNetnsName(netns)) throw new UnknownNameError(`invalid network namespace name "${netns}": use letters, digits, "_", "." or "-"`);
  if (!netnsExists(netns)) throw new UnknownNameError(`no network namespace "${netns}" (${pid ? 'no such process' : 'see ip netns list'})`);
}

/**
 * Reads every backend's rules and counters in `netns`. Never changes anything: save tools and `nft list` only
 * read (no table is created by looking).
 */
export async function readRules(opts: ReadRulesOptions = {}): Promise<RulesSnapshot> {
  assertNetnsExists(opts.netns);
  const warnings: string[] = [];
  const [saves, nftTables] = await Promise.all([
    Promise.all(SAVE_TOOLS.map((t) => tryRead(t.argv, opts.netns, warnings))),
    tryRead(['nft', '-j', 'list', 'tables'], opts.netns, warnings),
  ]);
  const rules: RuleCounter[] = [];
  const summary: BackendTables[] = [];
  const xtablesHint = new Set<string>();
  // Every table and chain that exists (also chains without rules), for --table/--chain.
  const scope = new RuleScope(opts.netns === undefined || opts.netns === '' ? 'in this namespace' : `in namespace ${opts.netns}`);
  SAVE_TOOLS.forEach((tool, i) => {
    const text = saves[i];
    if (text === undefined) return;
    const parsed = parseIptablesSave(text, tool.backend, tool.family);
    if (tool.backend.endsWith('-nft')) for (const t of parsed.tables) xtablesHint.add(`${tool.family} ${t.table}`);
    for (const t of parsed.tables) for (const c of t.chains) scope.add(t.table, c.name);
    summary.push({ backend: tool.backend, tables: parsed.tables.map((t) => t.table), rules: parsed.rules.filter((r) => r.position > 0).length });
    rules.push(...parsed.rules);
  });
  if (nftTables !== undefined) {
    const parsed = await readNativeNft(nftTables, xtablesHint, opts.netns, warnings);
    const native = parsed.tables.filter((t) => !t.xtables);
    summary.push({ backend: 'nft', tables: native.map((t) => `${t.family} ${t.name}`), rules: parsed.rules.filter((r) => r.position > 0).length });
    rules.push(...parsed.rules);
  }
  // Nothing readable and not root: that is the problem, not five tools' messages.
  if (summary.length === 0 && !isRootUser()) {
    throw new Error(opts.netns ? netnsPermissionMessage(opts.netns, 'reading its firewall rules') : 'reading firewall rules needs root (CAP_NET_ADMIN): run as root (sudo netscope rules)');
  }
  for (const r of rules) scope.add(r.table, r.chain);
  const tables = opts.table === undefined ? undefined : scope.tables(opts.table);
  const chains = opts.chain === undefined ? undefined : scope.chains(opts.chain, tables);
  const selected = rules.filter((r) => (tables === undefined || tables.has(r.table)) && (chains === undefined || chains.has(r.chain)));
  return {
    rules: selected,
    backends: summary.filter((s) => s.tables.length > 0).map((s) => s.backend),
    summary,
    warnings,
  };
}

/** --table or --chain names nothing that exists: a usage error (exit 2) whose message lists what does. */
export class UnknownRuleScopeError extends UnknownNameError {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownRuleScopeError';
  }
}

/**
 * The tables and chains of one read. A name given by the user matches exactly when something has that name,
 * else regardless of case ("forward" is FORWARD, "FILTER" is filter): iptables names are case-sensitive, but
 * nobody means a chain that does not exist.
 */
class RuleScope {
  private readonly byTable = new Map<string, Set<string>>();

  constructor(private readonly where: string) {}

  add(table: string, chain: string): void {
    let chains = this.byTable.get(table);
    if (chains === undefined) this.byTable.set(table, (chains = new Set()));
    chains.add(chain);
  }

  tables(want: string): Set<string> {
    const found = match(want, [...this.byTable.keys()]);
    if (found.size === 0) {
      const have = [...this.byTable.keys()];
      throw new UnknownRuleScopeError(`no table "${want}" ${this.where} — ${have.length > 0 ? `tables: ${have.join(', ')}` : 'no backend holds any table'}`);
    }
    return found;
  }

  chains(want: string, tables: Set<string> | undefined): Set<string> {
    const have = new Set<string>();
    for (const [t, chains] of this.byTable) if (tables === undefined || tables.has(t)) for (const c of chains) have.add(c);
    const found = match(want, [...have]);
    if (found.size === 0) {
      const where = tables === undefined ? '' : ` table ${[...tables].join(', ')}`;
      throw new UnknownRuleScopeError(`no chain "${want}" ${this.where}${where} — ${have.size > 0 ? `chains: ${[...have].join(', ')}` : 'no chains'}`);
    }
    return found;
  }
}

function match(want: string, names: string[]): Set<string> {
  const exact = names.filter((n) => n === want);
  if (exact.length > 0) return new Set(exact);
  const lower = want.toLowerCase();
  return new Set(names.filter((n) => n.toLowerCase() === lower));
}

export interface RuleDelta extends RuleCounter {
  /** Packets and bytes since the previous update (0 on the first sight of a rule). */
  dPackets: number;
  dBytes: number;
  /** Packets and bytes per second over the last interval. */
  pps: number;
  bps: number;
  /** A DROP/REJECT rule (or DROP policy) whose counter moved in the last interval. */
  hitDrop: boolean;
  /** First time this rule is seen by this RuleDeltas. */
  isNew: boolean;
}

/**
 * Per-rule deltas between successive snapshots, matched by RuleCounter.key. A counter that went down was
 * zeroed (iptables -Z, rule replaced): its current value is the delta since then.
 */
export class RuleDeltas {
  private prev = new Map<string, { packets: number; bytes: number; atSec: number }>();
  private updates = 0;

  update(rules: RuleCounter[], atSec: number): RuleDelta[] {
    const next = new Map<string, { packets: number; bytes: number; atSec: number }>();
    const first = this.updates === 0;
    this.updates++;
    const out = rules.map((r): RuleDelta => {
      const before = this.prev.get(r.key);
      next.set(r.key, { packets: r.packets, bytes: r.bytes, atSec });
      let dPackets = 0;
      let dBytes = 0;
      let dt = 0;
      if (before) {
        dPackets = r.packets >= before.packets ? r.packets - before.packets : r.packets;
        dBytes = r.bytes >= before.bytes ? r.bytes - before.bytes : r.bytes;
        dt = atSec - before.atSec;
      }
      return {
        ...r,
        dPackets,
        dBytes,
        pps: dt > 0 ? dPackets / dt : 0,
        bps: dt > 0 ? dBytes / dt : 0,
        hitDrop: dPackets > 0 && isDropTarget(r.target),
        isNew: !first && before === undefined,
      };
    });
    this.prev = next;
    return out;
  }
}
