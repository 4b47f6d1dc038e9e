/**
 * Neighbour (ARP) faults: a next hop's neighbour entry that points at a MAC its holder does not have (a wrong
 * static entry, or a stale one after the holder changed MAC), and an address two MACs answer ARP for. Pure:
 * compares the neighbour tables after the probe, the MACs the captured probes were sent to, and the ARP
 * answers seen, with the MACs of the interfaces holding each next hop.
 */
import type { Topology } from '../topology/discover';
import { connectedNamespaces } from './path';
import type { Hop, PathIssue } from './types';

export interface NeighbourCheckInput {
  topo: Topology;
  hops: Hop[];
  nextHops: Array<{ netns: string; ip: string; dev: string }>;
  /** Per hop: destination MACs of the probe frames seen there. */
  requestMacs: Array<Record<string, number>>;
  /** MACs that answered ARP for each address. */
  arpAnswers: Map<string, string[]>;
  labels: Map<string, string>;
}

const BAD_STATES = new Set(['FAILED', 'INCOMPLETE', 'NOARP']);

function holdersOf(topo: Topology, ip: string, near: string): Array<{ netns: string; iface: string; mac: string }> {
  const nss = connectedNamespaces(topo, near);
  return topo.interfaces
    .filter((i) => nss.has(i.netns) && i.addrs.some((a) => a.local === ip))
    .map((i) => ({ netns: i.netns, iface: i.name, mac: i.mac.toLowerCase() }));
}

function whoHasMac(topo: Topology, mac: string, near: string): string | undefined {
  const nss = connectedNamespaces(topo, near);
  const i = topo.interfaces.find((x) => nss.has(x.netns) && x.mac.toLowerCase() === mac);
  return i ? `${i.netns || 'host'} ${i.name}` : undefined;
}

/** The first neighbour fault on the path's next hops (request path first), or undefined. */
export function neighbourIssue(input: NeighbourCheckInput): PathIssue | undefined {
  const { topo } = input;
  const label = (ns: string) => input.labels.get(ns) ?? (ns || 'host');
  for (const nh of input.nextHops) {
    const holders = holdersOf(topo, nh.ip, nh.netns).filter((h) => h.netns !== nh.netns);
    const hop = input.hops.find((h) => h.netns === nh.netns && h.iface === nh.dev);
    const direction = hop?.replyOnly ? 'reply' : 'request';
    // Two MACs answered ARP for the address: two holders, or one that answers for another.
    const answers = input.arpAnswers.get(nh.ip) ?? [];
    if (answers.length > 1) {
      const who = answers.map((m) => `${m} (${whoHasMac(topo, m, nh.netns) ?? 'not in this network'})`);
      return {
        cause: 'duplicate-ip',
        hop: hop?.index ?? null,
        direction,
        summary: `duplicate address: ${answers.length} MACs answer ARP for ${nh.ip} on ${label(nh.netns)} ${nh.dev}`,
        evidence: [`ARP replies for ${nh.ip}: ${who.join(', ')}`, `fix: give one of the holders another address (${holders.map((h) => `${label(h.netns)} ${h.iface}`).join(', ') || 'see the MACs above'})`],
      };
    }
    const entry = topo.neighbours.find((n) => n.netns === nh.netns && n.ip === nh.ip && n.dev === nh.dev);
    if (!entry?.mac || entry.state.some((s) => BAD_STATES.has(s)) || holders.length === 0) continue;
    const mac = entry.mac.toLowerCase();
    if (holders.some((h) => h.mac === mac)) continue;
    const owner = whoHasMac(topo, mac, nh.netns);
    const right = holders[0];
    const sent = hop ? Object.entries(input.requestMacs[hop.index - 1] ?? {}) : [];
    const ns = nh.netns === '' ? '' : `ip netns exec ${nh.netns} `;
    const permanent = entry.state.includes('PERMANENT');
    return {
      cause: 'wrong-neighbour',
      hop: hop?.index ?? null,
      direction,
      summary: `${label(nh.netns)}'s neighbour entry for ${nh.ip} points at MAC ${mac} (${owner ? `that is ${owner}` : 'nobody has it'}); ${nh.ip} is ${right.mac} on ${label(right.netns)} ${right.iface}`,
      evidence: [
        `neighbour entry in ${label(nh.netns)}: ${nh.ip} dev ${nh.dev} lladdr ${mac} ${entry.state.join(' ')}${permanent ? ' (static: it never expires)' : ''}`,
        ...sent.map(([m, n]) => `${n} probe frame(s) captured at hop ${hop?.index} sent to MAC ${m}`),
        `${right.mac} is the MAC of ${label(right.netns)} ${right.iface}, which holds ${nh.ip}: frames to ${mac} are ${owner ? `delivered to ${owner}` : 'flooded and discarded as not addressed to anyone'}`,
        `fix: ${ns}ip neigh replace ${nh.ip} dev ${nh.dev} lladdr ${right.mac} (or ${ns}ip neigh del ${nh.ip} dev ${nh.dev} to let ARP learn it)`,
      ],
    };
  }
  return undefined;
}
