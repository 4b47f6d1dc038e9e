/**
 * Rule-exact verdicts: what nftables tracing saw of the probes in each namespace on the path. Builds the match
 * expressions for the probe's identity, turns the trace events into per-namespace walks of our probes (which
 * hooks they reached, which rule or policy dropped them), and names an iptables-nft drop the way iptables
 * shows it (rule position and iptables-save text).
 */
import { isXtablesTableName } from '../host/nft';
import { TRACE_HOOKS } from '../host/nft-trace';
import { parseTracedPacket, walksOf, type TraceEvent } from '../host/nft-trace-parse';
import { run } from '../host/run';
import type { ProbeIdentity, ProbeProto, TracedDrop, TracedWalk } from './types';

/** nft match expressions selecting the probes and their replies (by identity only: NAT may rewrite addresses). */
export function traceMatches(proto: ProbeProto, identity: ProbeIdentity, port: number | null, v6 = false): string[] {
  if (proto === 'icmp') {
    return v6
      ? [`icmpv6 type { echo-request, echo-reply } icmpv6 id ${identity.icmpId}`]
      : [`icmp type { echo-request, echo-reply } icmp id ${identity.icmpId}`];
  }
  const ports = `{ ${(identity.sourcePorts ?? []).join(', ')} }`;
  return [`${proto} sport ${ports} ${proto} dport ${port}`, `${proto} dport ${ports} ${proto} sport ${port}`];
}

/** Which way a traced packet travels, or undefined when it is not one of ours. */
function directionOf(packet: string, proto: ProbeProto, identity: ProbeIdentity, port: number | null): 'request' | 'reply' | undefined {
  const p = parseTracedPacket(packet);
  if (proto === 'icmp') {
    if (p.icmpId !== identity.icmpId) return undefined;
    if (p.icmpType === 'echo-request') return 'request';
    if (p.icmpType === 'echo-reply') return 'reply';
    return undefined;
  }
  if (p.l4 !== proto) return undefined;
  const ports = new Set(identity.sourcePorts ?? []);
  if (p.sport !== undefined && ports.has(p.sport) && p.dport === port) return 'request';
  if (p.dport !== undefined && ports.has(p.dport) && p.sport === port) return 'reply';
  return undefined;
}

/** "counter packets 3 bytes 252" changes every time: shown as "counter". */
export function stableRuleText(text: string): string {
  return text.replace(/\bcounter packets \d+ bytes \d+/g, 'counter').replace(/\s+/g, ' ').trim();
}

const HOOK_OF = new Map(TRACE_HOOKS.map(([chain, hook]) => [chain, hook]));

export interface TraceAnalysis {
  drops: TracedDrop[];
  walks: TracedWalk[];
}

/** Our probes' walks and drops in each namespace, from the events the monitors read. */
export function analyseTrace(
  events: Map<string, TraceEvent[]>,
  ownTable: string,
  spec: { proto: ProbeProto; identity: ProbeIdentity; port: number | null },
  labels: Map<string, string>,
): TraceAnalysis {
  const drops = new Map<string, TracedDrop>();
  const walks = new Map<string, TracedWalk>();
  const probesOf = new Map<string, Set<string>>();
  for (const [netns, evs] of events) {
    const label = labels.get(netns) ?? (netns || 'host');
    for (const w of walksOf(evs)) {
      const dir = directionOf(w.packet, spec.proto, spec.identity, spec.port);
      if (dir === undefined) continue;
      const hooks = w.chains
        .map((c) => c.split(' '))
        .filter(([, table]) => table === ownTable)
        .map(([, , chain]) => HOOK_OF.get(chain) ?? chain);
      const wkey = `${netns}|${dir}|${hooks.join(',')}|${w.iif ?? ''}|${w.drop ? 'drop' : ''}`;
      const wk = walks.get(wkey);
      if (wk) wk.packets++;
      else walks.set(wkey, { netns, netnsLabel: label, direction: dir, hooks, ...(w.iif !== undefined ? { iif: w.iif } : {}), ...(w.oif !== undefined ? { oif: w.oif } : {}), dropped: w.drop !== undefined, packets: 1 });
      const d = w.drop;
      if (!d) continue;
      const key = `${netns}|${dir}|${d.family}|${d.table}|${d.chain}|${d.kind}|${d.handle ?? ''}`;
      const tp = parseTracedPacket(w.packet);
      const probe = spec.proto === 'icmp' ? `${tp.icmpSeq}` : `${dir === 'request' ? tp.sport : tp.dport}`;
      const have = drops.get(key);
      if (have) {
        have.packets++;
        const seen = probesOf.get(key) ?? new Set<string>();
        seen.add(probe);
        probesOf.set(key, seen);
        have.probes = seen.size;
        continue;
      }
      probesOf.set(key, new Set([probe]));
      const xt = isXtablesTableName(d.family, d.table) && /^[A-Z][A-Z0-9_-]*$/.test(d.chain);
      drops.set(key, {
        netns,
        netnsLabel: label,
        direction: dir,
        backend: xt ? (d.family === 'ip6' ? 'ip6tables-nft' : 'iptables-nft') : 'nft',
        family: d.family,
        table: d.table,
        chain: d.chain,
        policy: d.kind === 'policy',
        ...(d.handle !== undefined ? { handle: d.handle } : {}),
        text: d.kind === 'policy' ? `policy ${d.verdict}` : stableRuleText(d.text),
        verdict: d.verdict ?? 'drop',
        packets: 1,
        probes: 1,
        ...(w.dropIif !== undefined ? { iif: w.dropIif } : {}),
        ...(w.dropOif !== undefined ? { oif: w.dropOif } : {}),
      });
    }
  }
  return { drops: [...drops.values()], walks: [...walks.values()] };
}

/**
 * For drops in iptables-nft tables: the rule's position in its chain and its iptables-save text (what the
 * user wrote), found by the rule handle's place in `nft -a -j list chain`.
 */
export async function describeXtablesDrops(drops: TracedDrop[]): Promise<void> {
  await Promise.all(
    drops.map(async (d) => {
      if (d.backend === 'nft' || d.policy || d.handle === undefined) return;
      const netns = d.netns === '' ? undefined : d.netns;
      try {
        const listed = JSON.parse((await run(['nft', '-a', '-j', 'list', 'chain', d.family, d.table, d.chain], { netns })).stdout) as { nftables?: Array<{ rule?: { handle?: number } }> };
        const handles = (listed.nftables ?? []).filter((x) => x.rule).map((x) => x.rule?.handle);
        const pos = handles.indexOf(d.handle) + 1;
        if (pos === 0) return;
        const save = (await run([d.family === 'ip6' ? 'ip6tables-nft-save' : 'iptables-nft-save', '-t', d.table], { netns })).stdout;
        const rules = save.split('\n').filter((l) => l.startsWith(`-A ${d.chain} `));
        const line = rules[pos - 1];
        d.iptables = { position: pos, text: line ? line.slice(`-A ${d.chain} `.length) : '' };
      } catch {
        /* the rule is named by its nft form */
      }
    }),
  );
}
