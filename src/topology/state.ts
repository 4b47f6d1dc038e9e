/**
 * Reads what the kernel has now, for the planner: which named namespaces exist and which topology owns them,
 * and inside the namespaces that matter, links (with veth peers), static routes, the declared sysctls and
 * the iptables rules netscope owns. Read-only.
 */
import { ipJson, readMainRoutes, type IpLinkJson, type IpRouteJson } from '../host/iproute';
import { run } from '../host/run';
import { discover, type IfInfo } from './discover';
import { ownerOf } from './ownership';

export interface OwnedRule {
  table: string;
  chain: string;
  /** The "#hash" in the comment (declared rule identity); "" when absent. */
  hash: string;
  owner: string;
  /** The rule as iptables-save prints it, without "-A CHAIN" (to delete it with -D). */
  args: string[];
}

export interface LiveState {
  /** Every named namespace → the topology owning it (lo alias), undefined when none. */
  namespaces: Map<string, string | undefined>;
  interfaces: IfInfo[];
  routes: Map<string, IpRouteJson[]>;
  sysctls: Map<string, Record<string, string>>;
  rules: Map<string, OwnedRule[]>;
}

/** Splits an iptables-save line into argv (double quotes group, backslash escapes inside them). */
export function splitSaveLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '\\' && i + 1 < line.length) cur += line[++i];
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') {
      quoted = true;
      inWord = true;
    } else if (ch === ' ' || ch === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** Rules in iptables-save output whose comment is a netscope marker. */
export function parseOwnedRules(save: string): OwnedRule[] {
  const out: OwnedRule[] = [];
  let table = '';
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    if (!line.startsWith('-A ')) continue;
    const argv = splitSaveLine(line);
    const ci = argv.indexOf('--comment');
    if (ci < 0) continue;
    const comment = argv[ci + 1] ?? '';
    const owner = ownerOf(comment);
    if (!owner) continue;
    const hash = / #([0-9a-f]+)$/.exec(comment)?.[1] ?? '';
    out.push({ table, chain: argv[1], hash, owner, args: argv.slice(2) });
  }
  return out;
}

/** Each named namespace and its owner (lo alias); namespaces vanishing meanwhile are skipped. */
export async function namedNamespaceOwners(): Promise<Map<string, string | undefined>> {
  const list = await ipJson<{ name: string }[]>(undefined, ['netns', 'list']);
  const entries = await Promise.all(
    list.map(async ({ name }): Promise<[string, string | undefined] | undefined> => {
      try {
        const lo = await ipJson<IpLinkJson[]>(name, ['link', 'show', 'dev', 'lo']);
        return [name, ownerOf(lo[0]?.ifalias)];
      } catch {
        return undefined;
      }
    }),
  );
  return new Map(entries.filter((e): e is [string, string | undefined] => e !== undefined));
}

async function readSysctls(ns: string, keys: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (keys.length === 0) return out;
  // One process for all keys; -e skips keys the kernel lacks (e.g. a per-interface key before the interface
  // exists): those stay unknown and the planner sets them.
  try {
    const { stdout } = await run(['sysctl', '-e', ...keys], { netns: ns });
    for (const line of stdout.split('\n')) {
      const eq = line.indexOf(' = ');
      if (eq > 0) out[line.slice(0, eq).trim()] = line.slice(eq + 3).trim().replace(/\s+/g, ' ');
    }
  } catch {
    /* leave unknown */
  }
  return out;
}

async function readRules(ns: string): Promise<OwnedRule[]> {
  try {
    const { stdout } = await run(['iptables-save'], { netns: ns });
    return parseOwnedRules(stdout);
  } catch {
    return [];
  }
}

/**
 * Live state for a topology: all named namespaces with owners, and details for `relevant` namespaces (those
 * the topology declares or owns) that exist. sysctlKeys: per namespace, the keys to read.
 */
export async function readLiveState(relevant: string[], sysctlKeys: Map<string, string[]>): Promise<LiveState> {
  const namespaces = await namedNamespaceOwners();
  const present = relevant.filter((n) => namespaces.has(n));
  const [topo, details] = await Promise.all([
    present.length > 0 ? discover({ netns: present }) : Promise.resolve({ interfaces: [] as IfInfo[] }),
    Promise.all(
      present.map(async (ns) => {
        const [routes, sysctls, rules] = await Promise.all([readMainRoutes(ns), readSysctls(ns, sysctlKeys.get(ns) ?? []), readRules(ns)]);
        return { ns, routes, sysctls, rules };
      }),
    ),
  ]);
  const state: LiveState = { namespaces, interfaces: topo.interfaces, routes: new Map(), sysctls: new Map(), rules: new Map() };
  for (const d of details) {
    state.routes.set(d.ns, d.routes);
    state.sysctls.set(d.ns, d.sysctls);
    state.rules.set(d.ns, d.rules);
  }
  return state;
}
