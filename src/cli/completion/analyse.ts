/**
 * What to complete at the cursor, from the command line typed so far and the interface spec (spec.ts): a
 * subcommand, an option, an option's value, or a positional. Pure: live values are looked up elsewhere
 * (values.ts) from the ValueKind this returns.
 */
import { findOption, GLOBAL_OPTIONS, subcommand, type CommandSpec, type OptionSpec } from '../spec';

/** Values looked up live (values.ts) or listed from the file system. */
export type ValueKind =
  | 'interface' // IFACE and IFACE@NETNS
  | 'netns'
  | 'bridge' // BRIDGE and BRIDGE@NETNS
  | 'bridge-name'
  | 'chain'
  | 'endpoint' // namespaces and pods
  | 'topology-file'
  | 'capture-file'
  | 'file'
  | 'filter'
  | 'none';

export interface CompletionRequest {
  /** Candidates known without asking the machine (subcommands, options, choices). */
  words: string[];
  /** Live values to add. */
  kind: ValueKind;
  /** Prepended to every value ("--netns=" when completing "--netns=no"). */
  lead: string;
  /** The part of the current word being completed (after `lead`). */
  prefix: string;
  /** Option values already on the line, by option name ("netns" → "node1"), for values that depend on them. */
  given: Record<string, string>;
}

/** Which live values a positional or option takes: "<command path> <name>" first, then the name alone. */
const KINDS: Record<string, ValueKind> = {
  interface: 'interface',
  netns: 'netns',
  chain: 'chain',
  write: 'file',
  filter: 'filter',
  'read file': 'capture-file',
  'replay file': 'capture-file',
  'topo apply file': 'topology-file',
  'topo destroy file': 'topology-file',
  'fdb bridge': 'bridge',
  'watch bridge': 'bridge',
  'topo show bridge': 'bridge-name',
  'diagnose from': 'endpoint',
  'diagnose to': 'endpoint',
};

function kindOf(path: string[], name: string): ValueKind {
  return KINDS[`${path.join(' ')} ${name}`] ?? KINDS[name] ?? 'none';
}

const takesValue = (o: OptionSpec | undefined, flag: string): o is OptionSpec =>
  o !== undefined && o.type !== 'boolean' && o.type !== 'count' && !flag.startsWith('--no-');

function optionWords(spec: CommandSpec, cur: string, top: boolean): string[] {
  const opts = [...spec.options, ...GLOBAL_OPTIONS].filter((o) => !o.hidden);
  const out = opts.map((o) => (o.name.length === 1 ? `-${o.name}` : `--${o.name}`));
  if (top) out.push('--version');
  // Single-letter aliases only when the user typed a single dash.
  if (!cur.startsWith('--')) for (const o of opts) for (const a of o.aliases) if (a.length === 1) out.push(`-${a}`);
  return out;
}

function valueRequest(path: string[], o: OptionSpec, lead: string, prefix: string, given: Record<string, string>): CompletionRequest {
  if (o.choices) return { words: o.choices, kind: 'none', lead, prefix, given };
  return { words: [], kind: kindOf(path, o.name), lead, prefix, given };
}

/**
 * `words`: the words after "netscope" before the cursor's word; `cur`: the word at the cursor (maybe "").
 */
export function analyse(root: CommandSpec, words: string[], cur: string): CompletionRequest {
  let spec = root;
  const path: string[] = [];
  let pending: OptionSpec | undefined;
  let positional = 0;
  let endOfOptions = false;
  const given: Record<string, string> = {};
  for (const w of words) {
    if (pending !== undefined) {
      given[pending.name] = w;
      pending = undefined;
      continue;
    }
    if (w === '--' && !endOfOptions) {
      endOfOptions = true;
      continue;
    }
    if (w.startsWith('-') && w !== '-' && !endOfOptions) {
      const eq = w.indexOf('=');
      const o = findOption(spec, eq > 0 ? w.slice(0, eq) : w);
      if (eq > 0) {
        if (o) given[o.name] = w.slice(eq + 1);
      } else if (takesValue(o, w)) {
        pending = o;
      }
      continue;
    }
    const sub = positional === 0 ? subcommand(spec, w) : undefined;
    if (sub !== undefined) {
      spec = sub;
      path.push(sub.name);
      continue;
    }
    positional++;
  }
  if (pending !== undefined) return valueRequest(path, pending, '', cur, given);
  if (cur.startsWith('-') && !endOfOptions) {
    const eq = cur.indexOf('=');
    if (cur.startsWith('--') && eq > 0) {
      const o = findOption(spec, cur.slice(0, eq));
      if (takesValue(o, cur)) return valueRequest(path, o, cur.slice(0, eq + 1), cur.slice(eq + 1), given);
      return { words: [], kind: 'none', lead: '', prefix: cur, given };
    }
    return { words: optionWords(spec, cur, path.length === 0), kind: 'none', lead: '', prefix: cur, given };
  }
  if (spec.commands.length > 0 && positional === 0) {
    return { words: spec.commands.filter((c) => !c.hidden).map((c) => c.name), kind: 'none', lead: '', prefix: cur, given };
  }
  const ps = spec.positionals;
  const p = positional < ps.length ? ps[positional] : ps.length > 0 && ps[ps.length - 1].variadic ? ps[ps.length - 1] : undefined;
  return { words: p?.choices ?? [], kind: p === undefined ? 'none' : kindOf(path, p.name), lead: '', prefix: cur, given };
}
