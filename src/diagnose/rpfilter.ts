/**
 * Reverse-path filtering: a namespace that receives the probe (a router's ingress, or the destination) with
 * net.ipv4.conf.{all,IFACE}.rp_filter = 1 (strict) drops it when its route back to the source leaves by
 * another interface; with 2 (loose) when it has no route back at all. The kernel drops such packets after
 * the prerouting hook, silently (no ICMP, no rule counter). Pure: settings and routes in, an issue out.
 */
import type { Topology } from '../topology/discover';
import { lookupRoute } from './path';
import type { Hop, PathIssue, TracedWalk } from './types';

/** rp_filter settings of one receiving interface: the kernel uses the larger of "all" and the interface's. */
export interface RpFilterSetting {
  netns: string;
  iface: string;
  all: number;
  dev: number;
}

/** The hops where a namespace receives the request (where rp_filter applies), with their interface. */
export function receivingHops(hops: Hop[]): Hop[] {
  return hops.filter((h) => !h.replyOnly && (h.role === 'router in' || h.role === 'destination'));
}

export function rpFilterIssue(input: { topo: Topology; hops: Hop[]; settings: RpFilterSetting[]; src: string; walks: TracedWalk[]; labels: Map<string, string> }): PathIssue | undefined {
  for (const h of receivingHops(input.hops)) {
    const s = input.settings.find((x) => x.netns === h.netns && x.iface === h.iface);
    if (!s) continue;
    const mode = Math.max(s.all, s.dev);
    if (mode === 0) continue;
    const back = lookupRoute(input.topo, h.netns, input.src);
    const label = input.labels.get(h.netns) ?? (h.netns || 'host');
    const backDev = back?.dev;
    const strictFail = mode === 1 && back !== undefined && backDev !== undefined && backDev !== h.iface;
    const looseFail = back === undefined;
    if (!strictFail && !looseFail) continue;
    const which = s.dev >= s.all ? `net.ipv4.conf.${h.iface}.rp_filter = ${s.dev}` : `net.ipv4.conf.all.rp_filter = ${s.all}`;
    const walk = input.walks.find((w) => w.netns === h.netns && w.direction === 'request' && w.hooks.length > 0);
    const ns = h.netns === '' ? '' : `ip netns exec ${h.netns} `;
    return {
      cause: 'rp-filter',
      hop: h.index,
      direction: 'request',
      summary: `reverse-path filter in ${label}: ${which} drops packets from ${input.src} arriving on ${h.iface} (${back ? `the route back leaves by ${backDev}` : 'there is no route back'})`,
      evidence: [
        `sysctl in ${label}: net.ipv4.conf.all.rp_filter = ${s.all}, net.ipv4.conf.${h.iface}.rp_filter = ${s.dev} (the kernel uses the larger: ${mode === 1 ? 'strict' : 'loose'})`,
        back ? `route back to ${input.src} in ${label}: ${back.dst}${back.gateway ? ` via ${back.gateway}` : ''} dev ${backDev} — not ${h.iface}, where the probe arrives` : `no route back to ${input.src} in ${label}`,
        ...(h.role === 'router in' ? [`rp_filter checks ARP requests too: ${label} also ignores ${input.src}'s ARP for its gateway (unanswered ARP is a symptom of it)`] : []),
        ...(walk ? [`nft trace in ${label}: the probes reached ${walk.hooks.join(', ')}${walk.hooks.includes('input') || walk.hooks.includes('forward') ? '' : ' and stopped there (dropped by routing, after prerouting)'}`] : []),
        `fix: make the route back to ${input.src} leave by ${h.iface}, or ${ns}sysctl -w net.ipv4.conf.all.rp_filter=${mode === 1 && back ? 2 : 0} net.ipv4.conf.${h.iface}.rp_filter=${mode === 1 && back ? 2 : 0} (loose${mode === 1 && back ? '' : '/off'})`,
      ],
    };
  }
  return undefined;
}
