/**
 * Matches captured packets to the probes by their identity (ICMP echo id, TCP/UDP source ports + UDP payload
 * tag) and counts, per hop, the probes seen on the way there, the replies on the way back, the ICMP errors and
 * resets about them, and the ARP exchanges. Pure: records in, counts out (the capture feeds it live; tests feed
 * it crafted frames).
 */
import { decodeRecord } from '../decode/decode';
import { ip4ToString, macToString } from '../decode/format';
import { L, PacketView, TCP } from '../decode/view';
import { parseIp4 } from '../decode/addr';
import type { PacketRecord } from '../pcap/record';
import type { ArpExchange, HopObservation, ObservedError, ProbeIdentity, ProbeProto } from './types';

export interface MatchSpec {
  proto: ProbeProto;
  /** FROM's and TO's addresses (TO as the probes address it). */
  fromIp: string;
  toIp: string;
  port: number | null;
  identity: ProbeIdentity;
}

interface HopCounts {
  /** First capture time (µs since the epoch) of each request probe seen here, by probe key. */
  requestTimes: Map<number, number>;
  /** Destination MACs of the probe frames seen here (only probes: a handful of strings). */
  requestMacs: Map<string, number>;
  requests: Set<number>;
  replies: Set<number>;
  errors: Map<string, ObservedError>;
  arpRequests: number;
  arpReplies: number;
}

const ICMP_UNREACH_NAMES: Record<number, string> = {
  0: 'icmp-net-unreachable',
  1: 'icmp-host-unreachable',
  3: 'icmp-port-unreachable',
  4: 'icmp-frag-needed',
  9: 'icmp-admin-prohibited',
  10: 'icmp-admin-prohibited',
  13: 'icmp-admin-prohibited',
};

function errorKind(type: number, code: number): string {
  if (type === 3) return ICMP_UNREACH_NAMES[code] ?? 'icmp-unreachable';
  if (type === 11) return 'icmp-time-exceeded';
  if (type === 5) return 'icmp-redirect';
  return `icmp-type-${type}`;
}

export class ProbeMatcher {
  private readonly view = new PacketView();
  private readonly hopByLabel = new Map<string, number>();
  private readonly counts: HopCounts[];
  private readonly arp = new Map<string, ArpExchange>();
  private readonly arpPerHop = new Map<string, Map<number, { requests: number; replies: number }>>();
  /** ARP replies per answered address: the MACs that answered (two: a duplicate address). */
  private readonly arpAnswerers = new Map<string, Set<string>>();
  private readonly fromIp: number;
  private readonly toIp: number;
  private readonly sports: Set<number>;
  private readonly tag: Buffer | null;
  /** Packets that matched a probe, a reply or an error (for the summary). */
  matched = 0;

  /** `hops`: the capture label of each hop ("NETNS/IFACE", or "IFACE" in netscope's own namespace) in order. */
  constructor(
    hops: string[],
    private readonly spec: MatchSpec,
  ) {
    hops.forEach((label, i) => this.hopByLabel.set(label, i));
    this.counts = hops.map(() => ({ requestTimes: new Map(), requestMacs: new Map(), requests: new Set(), replies: new Set(), errors: new Map(), arpRequests: 0, arpReplies: 0 }));
    this.fromIp = parseIp4(spec.fromIp) ?? -1;
    this.toIp = parseIp4(spec.toIp) ?? -1;
    this.sports = new Set(spec.identity.sourcePorts ?? []);
    this.tag = spec.identity.tag ? Buffer.from(spec.identity.tag) : null;
  }

  /** Counts one captured record (its rec.iface names the hop). */
  observe(rec: PacketRecord): void {
    const hop = rec.iface === undefined ? undefined : this.hopByLabel.get(rec.iface);
    if (hop === undefined) return;
    const v = decodeRecord(this.view, rec);
    const c = this.counts[hop];
    if (v.layers & L.ARP) {
      this.observeArp(v, hop, c);
      return;
    }
    if (!(v.layers & L.IPV4)) return;
    if (v.layers & L.ICMP && v.layers & L.ICMP_INNER) {
      this.observeIcmpError(v, c);
      return;
    }
    switch (this.spec.proto) {
      case 'icmp':
        if (!(v.layers & L.ICMP) || v.icmpId !== this.spec.identity.icmpId) return;
        if (v.icmpType === 8 && v.ip4Dst === this.toIp) {
          c.requests.add(v.icmpSeq);
          this.noteRequest(rec, v.icmpSeq, c);
          this.noteMac(v, c);
          this.matched++;
        } else if (v.icmpType === 0 && v.ip4Src === this.toIp) {
          c.replies.add(v.icmpSeq);
          this.matched++;
        }
        return;
      case 'tcp':
        if (!(v.layers & L.TCP)) return;
        if (v.ip4Dst === this.toIp && v.dport === this.spec.port && this.sports.has(v.sport)) {
          if (v.tcpFlags & TCP.SYN && !(v.tcpFlags & TCP.ACK)) {
            c.requests.add(v.sport);
            this.noteRequest(rec, v.sport, c);
            this.noteMac(v, c);
            this.matched++;
          }
        } else if (v.ip4Src === this.toIp && v.sport === this.spec.port && this.sports.has(v.dport)) {
          this.matched++;
          if (v.tcpFlags & TCP.RST) this.addError(c, 'rst', v.ip4Src);
          else if (v.tcpFlags & TCP.SYN && v.tcpFlags & TCP.ACK) c.replies.add(v.dport);
        }
        return;
      case 'udp':
        if (!(v.layers & L.UDP)) return;
        if (v.ip4Dst === this.toIp && v.dport === this.spec.port && this.sports.has(v.sport) && this.hasTag(v)) {
          c.requests.add(v.sport);
          this.noteRequest(rec, v.sport, c);
          this.noteMac(v, c);
          this.matched++;
        } else if (v.ip4Src === this.toIp && v.sport === this.spec.port && this.sports.has(v.dport)) {
          c.replies.add(v.dport);
          this.matched++;
        }
        return;
    }
  }

  private noteRequest(rec: PacketRecord, key: number, c: HopCounts): void {
    if (!c.requestTimes.has(key)) c.requestTimes.set(key, rec.tsSec * 1e6 + Math.floor(rec.tsNsec / 1000));
  }

  /**
   * Per hop: the median time (µs) the request probes took from the previous hop that saw them to this one,
   * from the capture timestamps as the records carry them (undefined: no earlier hop saw the same probe).
   */
  hopLatencies(): Array<number | undefined> {
    const out: Array<number | undefined> = [];
    let prev: Map<number, number> | undefined;
    for (const c of this.counts) {
      if (c.requestTimes.size === 0) {
        out.push(undefined);
        continue;
      }
      const d: number[] = [];
      if (prev) for (const [k, t] of c.requestTimes) {
        const p = prev.get(k);
        if (p !== undefined) d.push(t - p);
      }
      d.sort((a, b) => a - b);
      out.push(d.length > 0 ? d[Math.floor((d.length - 1) / 2)] : undefined);
      prev = c.requestTimes;
    }
    return out;
  }

  private noteMac(v: PacketView, c: HopCounts): void {
    if (v.ethDstOff < 0) return;
    const mac = macToString(v.buf, v.ethDstOff);
    c.requestMacs.set(mac, (c.requestMacs.get(mac) ?? 0) + 1);
  }

  private hasTag(v: PacketView): boolean {
    if (this.tag === null) return true;
    if (v.payloadOff < 0 || v.payloadLen < this.tag.length) return false;
    return v.buf.subarray(v.payloadOff, v.payloadOff + v.payloadLen).indexOf(this.tag) >= 0;
  }

  private addError(c: HopCounts, kind: string, from: number, mtu?: number): void {
    const key = `${kind}|${from}`;
    const e = c.errors.get(key);
    if (e) e.count++;
    else c.errors.set(key, { kind, from: ip4ToString(from), ...(mtu !== undefined ? { mtu } : {}), count: 1 });
  }

  /** An ICMP error quoting one of our probes (or one of the replies, on the way back). */
  private observeIcmpError(v: PacketView, c: HopCounts): void {
    const forward = v.icmpInnerDst === this.toIp;
    const backward = v.icmpInnerSrc === this.toIp;
    if (!forward && !backward) return;
    let ours = false;
    switch (this.spec.proto) {
      case 'icmp': {
        if (v.icmpInnerProto !== 1) return;
        // The quoted ICMP header follows the quoted IPv4 header: id at +4.
        const q = v.l4Off + 8;
        const inner = q + ((v.buf[q] & 0x0f) << 2);
        if (inner + 8 > v.base + v.caplen) return;
        ours = ((v.buf[inner + 4] << 8) | v.buf[inner + 5]) === this.spec.identity.icmpId;
        break;
      }
      case 'tcp':
      case 'udp': {
        const proto = this.spec.proto === 'tcp' ? 6 : 17;
        if (v.icmpInnerProto !== proto) return;
        ours = forward ? this.sports.has(v.icmpInnerSport) && v.icmpInnerDport === this.spec.port : this.sports.has(v.icmpInnerDport) && v.icmpInnerSport === this.spec.port;
        break;
      }
    }
    if (!ours) return;
    this.matched++;
    const mtu = v.icmpType === 3 && v.icmpCode === 4 ? (v.buf[v.l4Off + 6] << 8) | v.buf[v.l4Off + 7] : undefined;
    this.addError(c, errorKind(v.icmpType, v.icmpCode), v.ip4Src, mtu);
  }

  private observeArp(v: PacketView, hop: number, c: HopCounts): void {
    // Requests: who-has TPA tell SPA. Replies: SPA is-at, answering TPA.
    const request = v.arpOp === 1;
    const target = request ? v.arpTpa : v.arpSpa;
    const asker = request ? v.arpSpa : v.arpTpa;
    if (v.arpOp !== 1 && v.arpOp !== 2) return;
    const key = `${target}|${asker}`;
    let e = this.arp.get(key);
    if (!e) {
      e = { target: ip4ToString(target), asker: ip4ToString(asker), requests: 0, replies: 0, seenAt: [] };
      this.arp.set(key, e);
    }
    // The same broadcast is seen on every hop of the segment: an exchange counts what its busiest hop saw.
    const perHop = this.arpPerHop.get(key) ?? new Map<number, { requests: number; replies: number }>();
    this.arpPerHop.set(key, perHop);
    const h = perHop.get(hop) ?? { requests: 0, replies: 0 };
    perHop.set(hop, h);
    if (request) {
      h.requests++;
      c.arpRequests++;
      if (h.requests > e.requests) e.requests = h.requests;
    } else {
      h.replies++;
      c.arpReplies++;
      if (v.arpShaOff >= 0) {
        const who = this.arpAnswerers.get(e.target) ?? new Set<string>();
        who.add(macToString(v.buf, v.arpShaOff));
        this.arpAnswerers.set(e.target, who);
      }
      if (h.replies > e.replies) e.replies = h.replies;
    }
    if (!e.seenAt.includes(hop + 1)) e.seenAt.push(hop + 1);
  }

  /** Per-hop observations, in hop order. `captured[i]` false marks hops that had no capture. */
  observations(captured: Array<{ captured: boolean; note?: string }>): HopObservation[] {
    return this.counts.map((c, i) => ({
      request: c.requests.size,
      reply: c.replies.size,
      errors: [...c.errors.values()],
      arpRequests: c.arpRequests,
      arpReplies: c.arpReplies,
      captured: captured[i]?.captured ?? true,
      ...(captured[i]?.note !== undefined ? { note: captured[i].note } : {}),
    }));
  }

  /** Per hop: destination MACs of the probe frames seen there, with counts. */
  requestMacs(): Array<Record<string, number>> {
    return this.counts.map((c) => Object.fromEntries(c.requestMacs));
  }

  /** The MACs that answered ARP for each address (more than one: two holders of one address). */
  arpAnswers(): Map<string, string[]> {
    return new Map([...this.arpAnswerers].map(([ip, macs]) => [ip, [...macs].sort()]));
  }

  /** ARP exchanges seen, in the order they were first seen. */
  arpExchanges(): ArpExchange[] {
    return [...this.arp.values()].map((e) => ({ ...e, seenAt: [...e.seenAt].sort((a, b) => a - b) }));
  }
}
