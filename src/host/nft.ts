/**
 * Parser for `nft -j list ruleset`: native nftables tables, chains and rules with their counters. Tables that
 * iptables-nft created are recognised (they are read through iptables-nft-save instead, where rules keep their
 * iptables syntax) and skipped. Rule text is rendered from the JSON expressions in nft's own syntax, close to
 * what `nft list ruleset` prints; anything unknown is rendered as its JSON so nothing is silently lost.
 */
import { RuleKeyer, annotateKube, type RuleCounter } from './rule-counter';

export interface NftTableInfo {
  family: string;
  name: string;
  /** Created by iptables-nft / ip6tables-nft (xtables compatibility), not by nft. */
  xtables: boolean;
  chains: number;
  rules: number;
}

export interface NftParseResult {
  tables: NftTableInfo[];
  /** Rules of the native tables (xtables tables are left out) plus one policy row per base chain. */
  rules: RuleCounter[];
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const XT_TABLES: Record<string, Set<string>> = {
  ip: new Set(['filter', 'nat', 'mangle', 'raw', 'security']),
  ip6: new Set(['filter', 'nat', 'mangle', 'raw', 'security']),
};
const XT_BASE_CHAINS = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: Json | undefined): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

function quoteIfNeeded(s: string): string {
  return /^[A-Za-z0-9_.:/-]+$/.test(s) && !/^\d/.test(s) ? s : JSON.stringify(s);
}

/** Renders a value (right-hand side, set element, address, …). */
function renderValue(v: Json | undefined): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return v.startsWith('@') ? v : /^[A-Za-z0-9_.:/*-]+$/.test(v) ? v : JSON.stringify(v);
  // A bare array is a list of flags (ct state, tcp flags): nft writes it comma-separated; sets are {"set": …}.
  if (Array.isArray(v)) return v.map(renderValue).join(',');
  if ('set' in v) {
    const s = v.set;
    return Array.isArray(s) ? `{ ${s.map(renderValue).join(', ')} }` : renderValue(s);
  }
  if ('prefix' in v && isObject(v.prefix)) return `${renderValue(v.prefix.addr)}/${renderValue(v.prefix.len)}`;
  if ('range' in v && Array.isArray(v.range)) return `${renderValue(v.range[0])}-${renderValue(v.range[1])}`;
  if ('concat' in v && Array.isArray(v.concat)) return v.concat.map(renderValue).join(' . ');
  if ('elem' in v && isObject(v.elem)) return renderValue(v.elem.val);
  return renderExprValue(v);
}

/** Renders an expression used as a value: meta/payload/ct keys and friends. */
function renderExprValue(v: JsonObject): string {
  if (isObject(v.meta)) return `meta ${str(v.meta.key)}`.replace(/^meta (iifname|oifname|iif|oif|iiftype|oiftype)$/, '$1');
  if (isObject(v.payload)) {
    const p = v.payload;
    if (p.protocol !== undefined) return `${str(p.protocol)} ${str(p.field)}`;
    return `@${str(p.base)},${str(p.offset)},${str(p.len)}`;
  }
  if (isObject(v.ct)) return `ct ${p(v.ct.dir)}${str(v.ct.key)}`;
  if (isObject(v.fib)) return `fib ${(Array.isArray(v.fib.flags) ? v.fib.flags.map(str) : [str(v.fib.flags)]).join(' . ')} ${str(v.fib.result)}`;
  if (isObject(v.rt)) return `rt ${str(v.rt.key)}`;
  if (isObject(v.socket)) return `socket ${str(v.socket.key)}`;
  if (isObject(v.exthdr)) return `exthdr ${str(v.exthdr.name)} ${str(v.exthdr.field)}`.trim();
  if (isObject(v['tcp option'])) return `tcp option ${str(v['tcp option'].name)} ${str(v['tcp option'].field)}`.trim();
  if (isObject(v.map)) return `${renderValue(v.map.key)} map ${renderValue(v.map.data)}`;
  if (isObject(v['&'])) return binop('&', v['&']);
  if (Array.isArray(v['&'])) return v['&'].map(renderValue).join(' & ');
  if (Array.isArray(v['|'])) return v['|'].map(renderValue).join(' | ');
  if (Array.isArray(v['^'])) return v['^'].map(renderValue).join(' ^ ');
  if (isObject(v.symhash)) return `symhash mod ${str(v.symhash.mod)}`;
  if (isObject(v.jhash)) return `jhash mod ${str(v.jhash.mod)}`;
  if (isObject(v.numgen)) return `numgen ${str(v.numgen.mode)} mod ${str(v.numgen.mod)}`;
  return JSON.stringify(v);
}

function p(dir: Json | undefined): string {
  return typeof dir === 'string' ? `${dir} ` : '';
}

function binop(op: string, v: JsonObject): string {
  return `${renderValue(v.left)} ${op} ${renderValue(v.right)}`;
}

function renderMatch(m: JsonObject): string {
  const left = renderValue(m.left);
  const op = str(m.op);
  const right = renderValue(m.right);
  // "==" and "in" are implicit in nft syntax; the others are written.
  return op === '==' || op === 'in' || op === '' ? `${left} ${right}` : `${left} ${op} ${right}`;
}

function renderNat(kind: string, v: Json): string {
  if (!isObject(v)) return kind;
  let s = kind;
  if (typeof v.family === 'string') s += ` ${v.family}`;
  const addr = v.addr !== undefined ? renderValue(v.addr) : '';
  const port = v.port !== undefined ? renderValue(v.port) : '';
  if (addr || port) s += ` to ${addr}${port ? `:${port}` : ''}`;
  if (Array.isArray(v.flags)) s += ` ${v.flags.map(str).join(',')}`;
  else if (typeof v.flags === 'string') s += ` ${v.flags}`;
  return s;
}

interface RenderedRule {
  text: string;
  target: string;
  counter?: { packets: number; bytes: number };
}

/** Renders a rule's expression list; the counter statement is taken out (counters are not part of the text). */
export function renderNftExprs(exprs: Json[]): RenderedRule {
  const parts: string[] = [];
  let target = '';
  let counter: { packets: number; bytes: number } | undefined;
  for (const e of exprs) {
    if (!isObject(e)) {
      parts.push(JSON.stringify(e));
      continue;
    }
    const [kind] = Object.keys(e);
    const v = e[kind];
    switch (kind) {
      case 'match':
        parts.push(isObject(v) ? renderMatch(v) : JSON.stringify(e));
        break;
      case 'counter':
        if (isObject(v) && typeof v.packets === 'number' && typeof v.bytes === 'number') counter = { packets: v.packets, bytes: v.bytes };
        else if (typeof v === 'string') {
          parts.push(`counter name ${quoteIfNeeded(v)}`); // a named counter object: its totals live elsewhere
        }
        break;
      case 'accept':
      case 'drop':
      case 'continue':
      case 'return':
        parts.push(kind);
        target = kind;
        break;
      case 'jump':
      case 'goto': {
        const t = isObject(v) ? str(v.target) : '';
        parts.push(`${kind} ${t}`);
        target = `${kind} ${t}`;
        break;
      }
      case 'reject': {
        let s = 'reject';
        if (isObject(v)) {
          const type = str(v.type);
          const code = str(v.expr);
          if (type === 'tcp reset') s += ' with tcp reset';
          else if (type || code) s += ` with ${type || 'icmpx'}${code ? ` ${code}` : ''}`;
        }
        parts.push(s);
        target = 'reject';
        break;
      }
      case 'snat':
      case 'dnat':
      case 'masquerade':
      case 'redirect':
        parts.push(renderNat(kind, v));
        target = kind;
        break;
      case 'log': {
        let s = 'log';
        if (isObject(v)) {
          if (typeof v.prefix === 'string') s += ` prefix ${JSON.stringify(v.prefix)}`;
          if (v.level !== undefined) s += ` level ${str(v.level)}`;
          if (v.group !== undefined) s += ` group ${str(v.group)}`;
        }
        parts.push(s);
        break;
      }
      case 'limit': {
        if (isObject(v)) {
          const over = v.inv === true ? 'over ' : '';
          const unit = typeof v.rate_unit === 'string' && v.rate_unit !== 'packets' ? ` ${v.rate_unit}` : '';
          const burst = v.burst !== undefined && v.burst !== 0 ? ` burst ${str(v.burst)} packets` : '';
          parts.push(`limit rate ${over}${str(v.rate)}${unit}/${str(v.per)}${burst}`);
        } else parts.push('limit');
        break;
      }
      case 'mangle':
        parts.push(isObject(v) ? `${renderValue(v.key)} set ${renderValue(v.value)}` : 'mangle');
        break;
      case 'notrack':
        parts.push('notrack');
        break;
      case 'queue':
        parts.push(isObject(v) && v.num !== undefined ? `queue num ${renderValue(v.num)}` : 'queue');
        target = 'queue';
        break;
      case 'vmap':
        parts.push(isObject(v) ? `${renderValue(v.key)} vmap ${renderValue(v.data)}` : 'vmap');
        target = 'vmap';
        break;
      case 'set':
        parts.push(isObject(v) ? `${str(v.op)} @${str(v.set).replace(/^@/, '')} { ${renderValue(v.elem)} }` : 'set');
        break;
      case 'xt':
        // A compat expression iptables-nft wrote; nft cannot show its arguments.
        parts.push(isObject(v) ? `xt ${str(v.type)} ${quoteIfNeeded(str(v.name))}` : 'xt');
        if (isObject(v) && v.type === 'target') target = str(v.name);
        break;
      default:
        parts.push(v === null ? kind : `${kind} ${JSON.stringify(v)}`);
    }
  }
  return { text: parts.join(' '), target, ...(counter ? { counter } : {}) };
}

/** Whether iptables-nft / ip6tables-nft use this family and name for one of their tables. */
export function isXtablesTableName(family: string, name: string): boolean {
  return XT_TABLES[family]?.has(name) === true;
}

/** The "nftables" array of `nft -j` output (non-empty, trimmed); NftParseError when it is not there. */
function nftablesItems(trimmed: string): Json[] {
  let doc: Json;
  try {
    doc = JSON.parse(trimmed) as Json;
  } catch {
    throw new NftParseError(`output is not JSON (first bytes: ${JSON.stringify(trimmed.slice(0, 60))})`);
  }
  if (!isObject(doc) || !Array.isArray(doc.nftables)) throw new NftParseError('expected an object with an "nftables" array');
  return doc.nftables;
}

/** Parses `nft -j list tables`: the family and name of every table. */
export function parseNftTables(text: string): Array<{ family: string; name: string }> {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const items = nftablesItems(trimmed);
  const out: Array<{ family: string; name: string }> = [];
  for (const item of items) {
    if (isObject(item) && isObject(item.table)) out.push({ family: str(item.table.family), name: str(item.table.name) });
  }
  return out;
}

/** Whether a table is one that iptables-nft (or ip6tables-nft) created for its own use. */
function isXtablesTable(family: string, name: string, baseChains: string[], hasXtExpr: boolean, xtablesHint?: Set<string>): boolean {
  if (!isXtablesTableName(family, name)) return false;
  if (xtablesHint?.has(`${family} ${name}`)) return true;
  if (hasXtExpr) return true;
  return baseChains.length > 0 && baseChains.every((c) => XT_BASE_CHAINS.has(c));
}

export class NftParseError extends Error {
  constructor(problem: string) {
    super(`nft -j list ruleset: ${problem}`);
    this.name = 'NftParseError';
  }
}

/**
 * Parses `nft -j list ruleset`. `xtablesHint` holds "family table" pairs that iptables-nft-save listed, which
 * settles the rare case of a native table that happens to look like an iptables one.
 */
export function parseNftRuleset(text: string, xtablesHint?: Set<string>): NftParseResult {
  const trimmed = text.trim();
  if (trimmed === '') return { tables: [], rules: [] };
  const items = nftablesItems(trimmed);

  interface ChainRec { family: string; table: string; name: string; hook?: string; policy?: string }
  interface RuleRec { family: string; table: string; chain: string; handle?: number; comment?: string; expr: Json[] }
  const tables: Array<{ family: string; name: string }> = [];
  const chains: ChainRec[] = [];
  const rulesIn: RuleRec[] = [];
  for (const item of items) {
    if (!isObject(item)) continue;
    if (isObject(item.table)) {
      tables.push({ family: str(item.table.family), name: str(item.table.name) });
    } else if (isObject(item.chain)) {
      const c = item.chain;
      const rec: ChainRec = { family: str(c.family), table: str(c.table), name: str(c.name) };
      if (typeof c.hook === 'string') rec.hook = c.hook;
      if (typeof c.policy === 'string') rec.policy = c.policy;
      chains.push(rec);
    } else if (isObject(item.rule)) {
      const r = item.rule;
      if (!Array.isArray(r.expr)) throw new NftParseError(`rule without "expr" in ${str(r.family)} ${str(r.table)} ${str(r.chain)}`);
      const rec: RuleRec = { family: str(r.family), table: str(r.table), chain: str(r.chain), expr: r.expr };
      if (typeof r.handle === 'number') rec.handle = r.handle;
      if (typeof r.comment === 'string') rec.comment = r.comment;
      rulesIn.push(rec);
    }
  }

  const tkey = (family: string, table: string): string => `${family} ${table}`;
  const infos = new Map<string, NftTableInfo>();
  for (const t of tables) {
    const k = tkey(t.family, t.name);
    const base = chains.filter((c) => c.family === t.family && c.table === t.name && c.hook !== undefined).map((c) => c.name);
    const own = rulesIn.filter((r) => r.family === t.family && r.table === t.name);
    const hasXt = own.some((r) => r.expr.some((e) => isObject(e) && 'xt' in e));
    infos.set(k, {
      family: t.family,
      name: t.name,
      xtables: isXtablesTable(t.family, t.name, base, hasXt, xtablesHint),
      chains: chains.filter((c) => c.family === t.family && c.table === t.name).length,
      rules: own.length,
    });
  }

  // Rows are emitted chain by chain in the order nft lists chains: policy first, then the rules.
  const byChain = new Map<string, RuleCounter[]>();
  const chainKey = (family: string, table: string, chain: string): string => `${tkey(family, table)} ${chain}`;
  const rowsOf = (k: string): RuleCounter[] => {
    let rows = byChain.get(k);
    if (!rows) byChain.set(k, (rows = []));
    return rows;
  };
  const keyer = new RuleKeyer();
  const positions = new Map<string, number>();
  for (const c of chains) {
    if (infos.get(tkey(c.family, c.table))?.xtables === true) continue;
    const rows = rowsOf(chainKey(c.family, c.table, c.name));
    if (c.hook === undefined || c.policy === undefined) continue;
    const text = `policy ${c.policy}`;
    // nftables keeps no counter for a chain policy: the row is there so the policy is visible, uncounted.
    rows.push(
      annotateKube({
        key: keyer.key('nft', c.family, c.table, c.name, text),
        backend: 'nft',
        family: c.family,
        table: c.table,
        chain: c.name,
        position: 0,
        text,
        target: c.policy,
        packets: 0,
        bytes: 0,
        counted: false,
      }),
    );
  }
  for (const r of rulesIn) {
    if (infos.get(tkey(r.family, r.table))?.xtables === true) continue;
    const ck = chainKey(r.family, r.table, r.chain);
    const rows = rowsOf(ck);
    const position = (positions.get(ck) ?? 0) + 1;
    positions.set(ck, position);
    const rendered = renderNftExprs(r.expr);
    const text = r.comment !== undefined ? `${rendered.text} comment ${JSON.stringify(r.comment)}`.trim() : rendered.text;
    const rule: RuleCounter = {
      key: keyer.key('nft', r.family, r.table, r.chain, text),
      backend: 'nft',
      family: r.family,
      table: r.table,
      chain: r.chain,
      position,
      text,
      target: rendered.target,
      packets: rendered.counter?.packets ?? 0,
      bytes: rendered.counter?.bytes ?? 0,
      counted: rendered.counter !== undefined,
    };
    if (r.comment !== undefined) rule.comment = r.comment;
    if (r.handle !== undefined) rule.handle = r.handle;
    rows.push(annotateKube(rule));
  }
  const out = [...byChain.values()].flat();
  return { tables: [...infos.values()], rules: out };
}
