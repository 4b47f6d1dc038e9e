/**
 * Counters around the probe: firewall rules of every namespace on the path (all backends, via host/rules.ts),
 * interface rx/tx/drop counters and neighbour tables (via discovery), read before and after, as deltas.
 * Read-only: nothing is added, zeroed or changed anywhere.
 */
import { RuleDeltas, readRules, type RuleDelta } from '../host/rules';
import { run } from '../host/run';
import type { Topology } from '../topology/discover';
import type { Hop, IfaceDelta, NeighbourState, RuleHit } from './types';

export interface RulesBefore {
  deltas: Map<string, RuleDeltas>;
  /** Namespaces holding iptables-legacy rules (nftables tracing cannot see them). */
  legacy: string[];
  warnings: string[];
}

function nsArg(netns: string): string | undefined {
  return netns === '' ? undefined : netns;
}

/** First read of the rule counters of each namespace (the baseline). */
export async function readRulesBefore(namespaces: string[]): Promise<RulesBefore> {
  const deltas = new Map<string, RuleDeltas>();
  const warnings: string[] = [];
  const legacy: string[] = [];
  await Promise.all(
    namespaces.map(async (ns) => {
      const d = new RuleDeltas();
      try {
        const snap = await readRules({ netns: nsArg(ns) });
        if (snap.backends.some((b) => b.endsWith('-legacy'))) legacy.push(ns);
        d.update(snap.rules, Date.now() / 1000);
        deltas.set(ns, d);
      } catch (e) {
        warnings.push(`firewall counters of ${ns || 'host'} not readable: ${e instanceof Error ? e.message : String(e)}`);
      }
    }),
  );
  return { deltas, legacy, warnings };
}

/** Second read: every rule whose counter moved, per namespace. */
export async function readRuleHits(before: RulesBefore, labels: Map<string, string>): Promise<{ hits: RuleHit[]; warnings: string[] }> {
  const hits: RuleHit[] = [];
  const warnings: string[] = [];
  await Promise.all(
    [...before.deltas].map(async ([ns, d]) => {
      let rows: RuleDelta[];
      try {
        rows = d.update((await readRules({ netns: nsArg(ns) })).rules, Date.now() / 1000);
      } catch (e) {
        warnings.push(`firewall counters of ${ns || 'host'} not readable after the probe: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      for (const r of rows) {
        if (r.dPackets <= 0) continue;
        hits.push({
          netns: ns,
          netnsLabel: labels.get(ns) ?? (ns || 'host'),
          backend: r.backend,
          family: r.family,
          table: r.table,
          chain: r.chain,
          position: r.position,
          text: r.text,
          target: r.target,
          dPackets: r.dPackets,
          dBytes: r.dBytes,
        });
      }
    }),
  );
  const order = [...before.deltas.keys()];
  hits.sort((a, b) => order.indexOf(a.netns) - order.indexOf(b.netns) || a.table.localeCompare(b.table) || a.chain.localeCompare(b.chain) || a.position - b.position);
  return { hits, warnings };
}

/** Interface counter changes of the hops between two discoveries. */
export function interfaceDeltas(hops: Hop[], before: Topology, after: Topology): IfaceDelta[] {
  const out: IfaceDelta[] = [];
  for (const h of hops) {
    const a = before.interfaces.find((i) => i.netns === h.netns && i.name === h.iface)?.stats;
    const b = after.interfaces.find((i) => i.netns === h.netns && i.name === h.iface)?.stats;
    if (!a || !b) continue;
    out.push({
      netns: h.netns,
      iface: h.iface,
      rxPackets: b.rxPackets - a.rxPackets,
      txPackets: b.txPackets - a.txPackets,
      rxDropped: b.rxDropped - a.rxDropped,
      txDropped: b.txDropped - a.txDropped,
    });
  }
  return out;
}

/**
 * Neighbour entries for the path's next hops after the probe (INCOMPLETE/FAILED: ARP got no answer), with the
 * state before it (absent: there was no entry, so the probe had to resolve the address first).
 */
export function neighbourStates(before: Topology, after: Topology, nextHops: Array<{ netns: string; ip: string; dev: string }>): NeighbourState[] {
  const out: NeighbourState[] = [];
  const find = (t: Topology, nh: { netns: string; ip: string; dev: string }) => t.neighbours.find((x) => x.netns === nh.netns && x.ip === nh.ip && x.dev === nh.dev);
  for (const nh of nextHops) {
    const n = find(after, nh);
    if (!n) continue;
    const b = find(before, nh);
    out.push({ netns: n.netns, ip: n.ip, dev: n.dev, ...(n.mac ? { mac: n.mac } : {}), state: n.state, ...(b ? { stateBefore: b.state } : {}) });
  }
  return out;
}

/** net.ipv4.ip_forward of a namespace (null when it cannot be read). */
export async function readIpForward(netns: string): Promise<boolean | null> {
  try {
    const r = await run(['sysctl', '-n', 'net.ipv4.ip_forward'], { netns: nsArg(netns) });
    return r.stdout.trim() === '1';
  } catch {
    return null;
  }
}

/** rp_filter of "all" and of one interface in a namespace (null when they cannot be read). */
export async function readRpFilter(netns: string, iface: string): Promise<{ all: number; dev: number } | null> {
  try {
    // sysctl separates with dots: an interface name's own dots are written as slashes.
    const r = await run(['sysctl', '-n', 'net.ipv4.conf.all.rp_filter', `net.ipv4.conf.${iface.replace(/\./g, '/')}.rp_filter`], { netns: nsArg(netns) });
    const [all, dev] = r.stdout.trim().split('\n').map((x) => Number(x.trim()));
    return Number.isInteger(all) && Number.isInteger(dev) ? { all, dev } : null;
  } catch {
    return null;
  }
}
