/**
 * Parser for `iptables-save -c` (and ip6tables-save, both backends): the stable text format that carries
 * per-rule and per-policy counters. Pure: text in, RuleCounter rows out; malformed input is an error that
 * names the line, never a crash.
 */
import { RuleKeyer, annotateKube, type RuleBackend, type RuleCounter } from './rule-counter';

export interface IptablesSaveTable {
  table: string;
  /** Chains in the order they were declared, with their policy ("-" for user chains). */
  chains: Array<{ name: string; policy: string }>;
}

export interface IptablesSaveResult {
  tables: IptablesSaveTable[];
  rules: RuleCounter[];
}

export class IptablesSaveError extends Error {
  constructor(
    readonly lineNo: number,
    problem: string,
    line: string,
  ) {
    super(`iptables-save output line ${lineNo}: ${problem}: ${JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line)}`);
    this.name = 'IptablesSaveError';
  }
}

/** Splits a rule spec the way iptables-save quotes it: "…" groups words, backslash escapes " and \. */
export function splitRuleWords(spec: string): string[] {
  // Most rules have no quotes at all: split them without walking characters.
  if (!spec.includes('"')) return spec.split(/[ \t]+/).filter((w) => w !== '');
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i];
    if (quoted) {
      if (c === '\\' && i + 1 < spec.length && (spec[i + 1] === '"' || spec[i + 1] === '\\')) {
        cur += spec[++i];
      } else if (c === '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c === '"') {
      quoted = true;
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quoted) throw new Error('unterminated quote');
  if (inWord) words.push(cur);
  return words;
}

const COUNTERS = /^\[(\d+):(\d+)\]$/;

function ruleTarget(words: string[]): string {
  for (let i = 0; i < words.length - 1; i++) {
    const w = words[i];
    if (w === '-j' || w === '--jump' || w === '-g' || w === '--goto') return words[i + 1];
  }
  return '';
}

function ruleComment(words: string[]): string | undefined {
  const i = words.indexOf('--comment');
  return i >= 0 && i + 1 < words.length ? words[i + 1] : undefined;
}

/**
 * Parses `iptables-save -c` output of one backend. `family` is "ip" for iptables and "ip6" for ip6tables.
 * Rule lines without counters (plain `iptables-save`) are accepted with counted=false.
 */
export function parseIptablesSave(text: string, backend: RuleBackend, family: 'ip' | 'ip6'): IptablesSaveResult {
  const tables: IptablesSaveTable[] = [];
  const rules: RuleCounter[] = [];
  let table: IptablesSaveTable | undefined;
  const positions = new Map<string, number>();
  const keyer = new RuleKeyer();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    const line = lines[n].replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      if (table) throw new IptablesSaveError(lineNo, `table "${table.table}" has no COMMIT before the next table`, line);
      const name = line.slice(1).trim();
      if (!/^[a-z0-9_-]+$/i.test(name)) throw new IptablesSaveError(lineNo, 'bad table name', line);
      table = { table: name, chains: [] };
      tables.push(table);
      positions.clear();
      continue;
    }
    if (!table) throw new IptablesSaveError(lineNo, 'expected "*table" first (is this iptables-save output?)', line);
    if (line === 'COMMIT') {
      table = undefined;
      continue;
    }
    if (line.startsWith(':')) {
      // ":CHAIN POLICY [packets:bytes]"
      const m = /^:(\S+)\s+(\S+)(?:\s+\[(\d+):(\d+)\])?\s*$/.exec(line);
      if (!m) throw new IptablesSaveError(lineNo, 'bad chain line', line);
      const [, chain, policy, p, b] = m;
      table.chains.push({ name: chain, policy });
      if (policy !== '-') {
        const text = `policy ${policy}`;
        rules.push(
          annotateKube({
            key: keyer.key(backend, family, table.table, chain, text),
            backend,
            family,
            table: table.table,
            chain,
            position: 0,
            text,
            target: policy,
            packets: p === undefined ? 0 : Number(p),
            bytes: b === undefined ? 0 : Number(b),
            counted: p !== undefined,
          }),
        );
      }
      continue;
    }
    let rest = line;
    let packets = 0;
    let bytes = 0;
    let counted = false;
    if (rest.startsWith('[')) {
      const sp = rest.indexOf(' ');
      const m = COUNTERS.exec(sp < 0 ? rest : rest.slice(0, sp));
      if (!m) throw new IptablesSaveError(lineNo, 'bad counters, expected [packets:bytes]', line);
      packets = Number(m[1]);
      bytes = Number(m[2]);
      counted = true;
      rest = sp < 0 ? '' : rest.slice(sp + 1);
    }
    const a = /^-A\s+(\S+)(?:\s+(.*))?$/.exec(rest);
    if (!a) throw new IptablesSaveError(lineNo, 'expected "-A CHAIN …", ":CHAIN POLICY", "*table" or "COMMIT"', line);
    const chain = a[1];
    const spec = (a[2] ?? '').trim();
    let words: string[];
    try {
      words = splitRuleWords(spec);
    } catch (err) {
      throw new IptablesSaveError(lineNo, (err as Error).message, line);
    }
    const position = (positions.get(chain) ?? 0) + 1;
    positions.set(chain, position);
    const rule: RuleCounter = {
      key: keyer.key(backend, family, table.table, chain, spec),
      backend,
      family,
      table: table.table,
      chain,
      position,
      text: spec,
      target: ruleTarget(words),
      packets,
      bytes,
      counted,
    };
    const comment = ruleComment(words);
    if (comment !== undefined) rule.comment = comment;
    rules.push(annotateKube(rule));
  }
  if (table) throw new IptablesSaveError(lines.length, `table "${table.table}" is not closed by COMMIT (output cut short?)`, '');
  return { tables, rules: groupByChain(tables, rules) };
}

/**
 * iptables-save declares every chain (with its policy) before any rule: reorders the rows chain by chain (policy
 * first, then the rules in order), chains in the order they were declared, so each chain is one group.
 */
function groupByChain(tables: IptablesSaveTable[], rules: RuleCounter[]): RuleCounter[] {
  const order = new Map<string, number>();
  for (const t of tables) for (const c of t.chains) order.set(`${t.table} ${c.name}`, order.size);
  const rank = (r: RuleCounter): number => order.get(`${r.table} ${r.chain}`) ?? order.size;
  return rules.map((r, i) => ({ r, i })).sort((a, b) => rank(a.r) - rank(b.r) || a.i - b.i).map((x) => x.r);
}
