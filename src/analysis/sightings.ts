/**
 * Multi-point captures: one packet seen on several interfaces (a merged pcapng, a capture with several -i
 * along a pod path) is one packet. Sightings recognises "the same packet" by the fields a bridge/veth path
 * does not change — IP addresses, IP id, protocol, total length, ports and TCP sequence/ack, ICMP id and
 * sequence (not TTL or MACs, which routers change) — seen again within a short window (50 ms) on another
 * interface, and measures the delay from the first sighting to each later one, per interface pair.
 *
 * Memory is fixed: a table of recent packets (64k entries, probe runs of 4, oldest replaced) and per
 * interface pair a bounded sample of delays. Looking a packet up allocates nothing.
 */
import { L, PacketView } from '../decode/view';

const SLOTS = 1 << 16;
const PROBE = 4;
/** A repeat further apart than this from the first sighting is a new packet (a retransmission with the same id). */
const WINDOW_NS = 50_000_000;
/** Delays kept per interface pair for the median (reservoir sampling beyond). */
const SAMPLES = 4096;
/** Packets remembered while only one interface has been seen (the first microseconds of a merged capture). */
const RING = 64;

/** Delay from the first sighting on `from` to a later one on `to`. */
export interface HopLatency {
  from: string;
  to: string;
  /** Packets seen on both. */
  packets: number;
  medianUs: number;
  maxUs: number;
}

function rd32(b: Buffer, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) | 0;
}

function mix(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x9e3779b1);
  return (h << 13) | (h >>> 19);
}

export class Sightings {
  private readonly key = new Int32Array(2 * SLOTS);
  private readonly sec = new Float64Array(SLOTS);
  private readonly ns = new Int32Array(SLOTS);
  private readonly ifc = new Int32Array(SLOTS);
  private rotor = 0;
  private readonly pairs = new Map<number, { n: number; max: number; samples: Float64Array; kept: number }>();
  private seed = 0x12345678;
  /** Interface id of the first sighting of the packet last passed to see() (valid when it returned true). */
  firstIf = -1;
  /**
   * False until a second interface shows up: until then only the last RING packets are kept (in a ring, cheap),
   * and startMulti() moves them into the table, so the first packets of a merged capture are recognised too.
   */
  private multi = false;
  private readonly ringKey = new Int32Array(2 * RING);
  private readonly ringSec = new Float64Array(RING);
  private readonly ringNs = new Int32Array(RING);
  private readonly ringIf = new Int32Array(RING);
  private ringPos = 0;

  /** A second interface appeared: from now on every packet is looked up; the recent ones are remembered. */
  startMulti(): void {
    if (this.multi) return;
    this.multi = true;
    for (let i = 0; i < Math.min(this.ringPos, RING); i++) {
      const r = (this.ringPos - Math.min(this.ringPos, RING) + i) & (RING - 1);
      this.remember(this.ringKey[2 * r], this.ringKey[2 * r + 1], this.ringSec[r], this.ringNs[r], this.ringIf[r]);
    }
  }

  /**
   * True when `v` is a packet already seen on another interface within the window (its first interface is
   * then in firstIf and the delay is counted); false for a packet seen first (it is remembered) or one that has
   * no identifying fields (not IP or ARP).
   */
  see(v: PacketView, ifId: number, tsSec: number, tsNs: number): boolean {
    const layers = v.layers;
    let h = 0x2545f491;
    let c = 0x6b43a9b5;
    if ((layers & L.IPV4) !== 0) {
      h = mix(mix(mix(h, v.ip4Src | 0), v.ip4Dst | 0), (v.ipId << 16) | (v.ipProto & 0xff));
      c = mix(c, (v.ipTotalLen << 16) ^ v.ipFragOff);
    } else if ((layers & L.IPV6) !== 0) {
      const b = v.buf;
      const so = v.ip6SrcOff;
      const d = v.ip6DstOff;
      const end = Math.min(v.base + v.caplen, b.length);
      if (so < 0 || d < 0 || so + 16 > end || d + 16 > end) return false;
      for (let i = 0; i < 16; i += 4) h = mix(mix(h, rd32(b, so + i)), rd32(b, d + i));
      c = mix(c, (v.ip6Plen << 8) | (v.ipProto & 0xff));
    } else if ((layers & L.ARP) !== 0) {
      h = mix(mix(h, v.arpSpa | 0), v.arpTpa | 0);
      c = mix(c, v.arpOp);
    } else {
      return false;
    }
    if ((layers & (L.TCP | L.UDP)) !== 0) {
      c = mix(c, ((v.sport & 0xffff) << 16) | (v.dport & 0xffff));
      if ((layers & L.TCP) !== 0) c = mix(mix(c, v.tcpSeq | 0), v.tcpAck | 0);
    } else if ((layers & L.ICMP) !== 0) {
      c = mix(c, (v.icmpType << 24) ^ ((v.icmpId & 0xffff) << 8) ^ v.icmpSeq);
    }
    if (!this.multi) {
      const r = this.ringPos++ & (RING - 1);
      this.ringKey[2 * r] = h;
      this.ringKey[2 * r + 1] = c;
      this.ringSec[r] = tsSec;
      this.ringNs[r] = tsNs;
      this.ringIf[r] = ifId;
      return false;
    }
    const base = (h ^ (h >>> 16)) & (SLOTS - 1);
    let victim = -1;
    let oldest = Infinity;
    for (let i = 0; i < PROBE; i++) {
      const p = (base + i) & (SLOTS - 1);
      if (this.key[2 * p] === h && this.key[2 * p + 1] === c && this.sec[p] !== 0) {
        const dt = (tsSec - this.sec[p]) * 1e9 + (tsNs - this.ns[p]);
        if (dt >= 0 && dt <= WINDOW_NS && this.ifc[p] !== ifId) {
          this.firstIf = this.ifc[p];
          this.count(this.ifc[p], ifId, dt / 1000);
          return true;
        }
        victim = p; // the same packet again on its own interface, or much later: a new first sighting
        break;
      }
      const t = this.sec[p] + this.ns[p] / 1e9;
      if (t < oldest) {
        oldest = t;
        victim = p;
      }
    }
    this.store(victim < 0 ? (base + (this.rotor++ & (PROBE - 1))) & (SLOTS - 1) : victim, h, c, tsSec, tsNs, ifId);
    return false;
  }

  private store(p: number, h: number, c: number, tsSec: number, tsNs: number, ifId: number): void {
    this.key[2 * p] = h;
    this.key[2 * p + 1] = c;
    this.sec[p] = tsSec;
    this.ns[p] = tsNs;
    this.ifc[p] = ifId;
  }

  /** Inserts a first sighting (from the ring) into the first free or oldest entry of its probe run. */
  private remember(h: number, c: number, tsSec: number, tsNs: number, ifId: number): void {
    const base = (h ^ (h >>> 16)) & (SLOTS - 1);
    let victim = base;
    let oldest = Infinity;
    for (let i = 0; i < PROBE; i++) {
      const p = (base + i) & (SLOTS - 1);
      const t = this.sec[p] + this.ns[p] / 1e9;
      if (t < oldest) {
        oldest = t;
        victim = p;
      }
    }
    this.store(victim, h, c, tsSec, tsNs, ifId);
  }

  /** Per interface pair (first sighting → later one): packets, median and maximum delay. */
  hops(ifaceName: (id: number) => string): HopLatency[] {
    const out: HopLatency[] = [];
    for (const [k, p] of this.pairs) {
      const s = p.samples.slice(0, p.kept).sort();
      const mid = s.length >> 1;
      const median = s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
      out.push({ from: ifaceName(Math.floor(k / 65536)), to: ifaceName(k % 65536), packets: p.n, medianUs: round3(median), maxUs: round3(p.max) });
    }
    return out.sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : a.medianUs - b.medianUs));
  }

  private count(from: number, to: number, us: number): void {
    const k = from * 65536 + to;
    let p = this.pairs.get(k);
    if (p === undefined) {
      p = { n: 0, max: 0, samples: new Float64Array(SAMPLES), kept: 0 };
      this.pairs.set(k, p);
    }
    p.n++;
    if (us > p.max) p.max = us;
    if (p.kept < SAMPLES) p.samples[p.kept++] = us;
    else {
      // Reservoir sampling: every delay so far had the same chance to be kept.
      this.seed = (Math.imul(this.seed, 1664525) + 1013904223) >>> 0;
      const j = this.seed % p.n;
      if (j < SAMPLES) p.samples[j] = us;
    }
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
