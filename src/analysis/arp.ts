/**
 * ARP health: who is asked for (requests per target IP), who answers, which targets never answer, which IP
 * is claimed by more than one MAC (duplicate address / conflict), and gratuitous announcements.
 *
 * A "claim" is any ARP packet whose sender protocol address is set: the sender says "this IP is at my MAC".
 * Probes (sender IP 0.0.0.0, RFC 5227) and gratuitous ARP (sender IP == target IP) are counted separately:
 * nobody is expected to answer them, so they never make a target "unanswered".
 *
 * Per packet this only indexes a Map by a 32-bit integer and bumps numbers; strings are built for output.
 */
import { L, PacketView } from '../decode/view';
import { formatTs } from '../pcap/record';
import { ip4Text, macText } from './addr';
import { KIND_INDEX, ProblemSink } from './problemDigest';
import { Problem, ProblemKind } from './problems';

export interface ArpTargetStats {
  ip: string;
  requests: number;
  replies: number;
  probes: number;
  gratuitous: number;
  /** Distinct MACs that claimed this IP (first is the first seen). */
  macs: string[];
  /** IP of the last host that asked for this target (null if only probes/gratuitous). */
  lastRequester: string | null;
  lastSeen: string;
}

export interface ArpCounters {
  requests: number;
  replies: number;
  probes: number;
  gratuitous: number;
  conflicts: number;
  /** ARP packets not tracked per IP because maxTargets was reached (still counted above). */
  untracked: number;
}

const MAX_MACS_PER_IP = 8;

export class ArpTracker {
  private readonly index = new Map<number, number>();
  private ips: number[] = [];
  private requests: number[] = [];
  private replies: number[] = [];
  private probes: number[] = [];
  private gratuitous: number[] = [];
  private requester: number[] = [];
  private lastSec: number[] = [];
  private lastNs: number[] = [];
  /** Claiming MAC as hi16 * 2^32 + lo32 (exact in a double); -1 = none yet. */
  private claim: number[] = [];
  /** MACs seen claiming each IP, allocated only once a second MAC shows up (a conflict). */
  private readonly conflictMacs = new Map<number, number[]>();
  private readonly conflictTime = new Map<number, string>();
  readonly counters: ArpCounters = { requests: 0, replies: 0, probes: 0, gratuitous: 0, conflicts: 0, untracked: 0 };

  constructor(private readonly maxTargets = 1 << 18) {}

  observe(view: PacketView, tsSec: number, tsNs: number): void {
    if ((view.layers & L.ARP) === 0) return;
    const op = view.arpOp;
    if (op !== 1 && op !== 2) return;
    const spa = view.arpSpa >>> 0;
    const tpa = view.arpTpa >>> 0;
    const c = this.counters;
    const grat = spa !== 0 && spa === tpa;
    if (op === 1) {
      if (spa === 0) c.probes++;
      else if (grat) c.gratuitous++;
      else c.requests++;
    } else {
      c.replies++;
      if (grat) c.gratuitous++;
    }
    // The target entry: what was asked for (request) or answered about (reply: the sender's IP).
    const subject = op === 1 ? tpa : spa;
    const t = this.slot(subject, tsSec, tsNs);
    if (t >= 0) {
      if (op === 1) {
        if (spa === 0) this.probes[t]++;
        else if (grat) this.gratuitous[t]++;
        else {
          this.requests[t]++;
          this.requester[t] = spa;
        }
      } else {
        this.replies[t]++;
        if (grat) this.gratuitous[t]++;
      }
    }
    if (spa !== 0) this.claimBy(spa, view, tsSec, tsNs);
  }

  private claimBy(ip: number, view: PacketView, tsSec: number, tsNs: number): void {
    const o = view.arpShaOff;
    if (o < 0 || o + 6 > view.base + view.caplen || o + 6 > view.buf.length) return;
    const b = view.buf;
    const mac = ((b[o] << 8) | b[o + 1]) * 0x100000000 + (((b[o + 2] << 24) | (b[o + 3] << 16) | (b[o + 4] << 8) | b[o + 5]) >>> 0);
    const t = this.slot(ip, tsSec, tsNs);
    if (t < 0) return;
    const prev = this.claim[t];
    if (prev === -1) {
      this.claim[t] = mac;
      return;
    }
    if (prev === mac) return;
    // A different MAC claims the same IP. Remember each distinct MAC once; the last claimant stays current.
    let list = this.conflictMacs.get(ip | 0);
    if (!list) {
      list = [prev];
      this.conflictMacs.set(ip | 0, list);
    }
    if (!list.includes(mac) && list.length < MAX_MACS_PER_IP) {
      list.push(mac);
      this.counters.conflicts++;
    }
    this.conflictTime.set(ip | 0, formatTs(tsSec, tsNs));
    this.claim[t] = mac;
  }

  private slot(ip: number, tsSec: number, tsNs: number): number {
    let t = this.index.get(ip | 0);
    if (t === undefined) {
      if (this.ips.length >= this.maxTargets) {
        this.counters.untracked++;
        return -1;
      }
      t = this.ips.length;
      this.index.set(ip | 0, t);
      this.ips.push(ip);
      this.requests.push(0);
      this.replies.push(0);
      this.probes.push(0);
      this.gratuitous.push(0);
      this.requester.push(-1);
      this.lastSec.push(tsSec);
      this.lastNs.push(tsNs);
      this.claim.push(-1);
    }
    this.lastSec[t] = tsSec;
    this.lastNs[t] = tsNs;
    return t;
  }

  private macsOf(t: number): string[] {
    const list = this.conflictMacs.get(this.ips[t] | 0);
    const raw = list ?? (this.claim[t] >= 0 ? [this.claim[t]] : []);
    return raw.map((m) => macText(Math.floor(m / 0x100000000), m % 0x100000000));
  }

  targets(): ArpTargetStats[] {
    const out: ArpTargetStats[] = [];
    for (let t = 0; t < this.ips.length; t++) {
      out.push({
        ip: ip4Text(this.ips[t]),
        requests: this.requests[t],
        replies: this.replies[t],
        probes: this.probes[t],
        gratuitous: this.gratuitous[t],
        macs: this.macsOf(t),
        lastRequester: this.requester[t] >= 0 ? ip4Text(this.requester[t]) : null,
        lastSeen: formatTs(this.lastSec[t], this.lastNs[t]),
      });
    }
    return out;
  }

  problems(): Problem[] {
    const out: Problem[] = [];
    for (let t = 0; t < this.ips.length; t++) this.problemsOf(t, out);
    return out;
  }

  /** Offers every target's problems to a digest as numbers; the reference is base + target index. */
  offerProblems(b: ProblemSink, base: number): void {
    for (let t = 0; t < this.ips.length; t++) {
      const when = this.lastSec[t] + this.lastNs[t] / 1e9;
      if (this.requests[t] > 0 && this.replies[t] === 0) b.offer(KIND_INDEX['arp-unanswered'], this.requests[t], when, base + t);
      if (this.conflictMacs.size > 0) {
        const list = this.conflictMacs.get(this.ips[t] | 0);
        if (list !== undefined) b.offer(KIND_INDEX['arp-conflict'], list.length, when, base + t);
      }
    }
  }

  /** The problem of `kind` of target index `t` (from offerProblems' reference), if it has one. */
  problemAt(t: number, kind: ProblemKind): Problem | undefined {
    const out: Problem[] = [];
    this.problemsOf(t, out);
    return out.find((p) => p.kind === kind);
  }

  private problemsOf(t: number, out: Problem[]): void {
    const ip = ip4Text(this.ips[t]);
    if (this.requests[t] > 0 && this.replies[t] === 0) {
      const who = this.requester[t] >= 0 ? ip4Text(this.requester[t]) : null;
      out.push({
        kind: 'arp-unanswered',
        text: `ARP: ${this.requests[t]} request(s) for ${ip}${who ? ` from ${who}` : ''}, no reply (host absent or down)`,
        time: formatTs(this.lastSec[t], this.lastNs[t]),
        flow: null,
        packets: this.requests[t],
        details: { target: ip, requests: this.requests[t], requester: who },
      });
    }
    const conflict = this.conflictMacs.get(this.ips[t] | 0);
    if (conflict) {
      const macs = this.macsOf(t);
      out.push({
        kind: 'arp-conflict',
        text: `ARP conflict: ${ip} claimed by ${macs.length} MACs: ${macs.join(', ')}`,
        time: this.conflictTime.get(this.ips[t] | 0) ?? null,
        flow: null,
        packets: macs.length,
        details: { ip, macs },
      });
    }
  }
}
