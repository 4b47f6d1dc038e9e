/**
 * MAC learning from the wire, the way a bridge builds its FDB: every unicast source MAC is remembered with
 * the interface and VLAN (or VXLAN VNI) where it was last seen; seeing it somewhere else is a move. Moves are
 * what a user hunting a loop, a duplicated pod MAC or a flapping bond needs, so each one is recorded.
 *
 * Storage is an open-addressing table over typed arrays keyed by the 48-bit MAC: no allocation per packet.
 */
import { L, PacketView } from '../decode/view';
import { formatTs } from '../pcap/record';
import { macText } from './addr';
import { Problem } from './problems';

export interface MacEntry {
  mac: string;
  /** Interface where last seen as source. */
  iface: string;
  /** Outermost VLAN id, or null when untagged. */
  vlan: number | null;
  /** VXLAN VNI when learned from an inner frame, else null. */
  vni: number | null;
  packets: number;
  firstSeen: string;
  lastSeen: string;
  moves: number;
}

export interface MacMove {
  mac: string;
  from: string;
  to: string;
  time: string;
}

/** Where a MAC was seen: interface id, VLAN (0 = none), VNI (-1 = none). */
function locationText(ifName: string, vlan: number, vni: number): string {
  let s = ifName;
  if (vlan !== 0) s += ` vlan ${vlan}`;
  if (vni >= 0) s += ` vni ${vni}`;
  return s;
}

export class MacLearner {
  private cap: number;
  private mask: number;
  private count = 0;
  // Two cached entries (a conversation alternates between the MACs of its two ends): slot (-1 = none), MAC,
  // location ((interface id + 1) · 65536 + VLAN) and VNI, plus packets and last-seen time not yet in the arrays.
  private c0Slot = -1;
  private c0Hi = 0;
  private c0Lo = 0;
  private c0Loc = 0;
  private c0Vni = 0;
  private c0Pend = 0;
  private c0Sec = 0;
  private c0Ns = 0;
  private c1Slot = -1;
  private c1Hi = 0;
  private c1Lo = 0;
  private c1Loc = 0;
  private c1Vni = 0;
  private c1Pend = 0;
  private c1Sec = 0;
  private c1Ns = 0;
  /** Which entry the last cache hit or fill was (the other one is replaced next). */
  private cLastHit = 0;
  private hi!: Uint32Array;
  private lo!: Uint32Array;
  /** 0 = empty slot, else 1 + interface id. */
  private ifc!: Uint16Array;
  private vlan!: Uint16Array;
  private vni!: Int32Array;
  private packets!: Float64Array;
  private firstSec!: Float64Array;
  private firstNs!: Uint32Array;
  private lastSec!: Float64Array;
  private lastNs!: Uint32Array;
  private moveCount!: Uint32Array;
  private readonly moveLog: MacMove[] = [];
  /** MACs not learned because the table reached maxMacs. */
  untracked = 0;
  /** Moves not kept in the log (beyond maxMoveLog); they are still counted per MAC. */
  movesDropped = 0;

  constructor(
    private readonly ifaceName: (id: number) => string,
    private readonly maxMacs = 1 << 18,
    private readonly maxMoveLog = 10_000,
  ) {
    this.cap = 256;
    this.mask = this.cap - 1;
    this.allocate();
  }

  get size(): number {
    return this.count;
  }

  /** Learns the source MAC of `view` (needs the Ethernet layer) seen on interface `ifId`, inside VNI `vni` (-1 = none). */
  observe(view: PacketView, ifId: number, vni: number, tsSec: number, tsNs: number): void {
    if ((view.layers & L.ETH) === 0 || view.ethSrcOff < 0) return;
    const buf = view.buf;
    const o = view.ethSrcOff;
    if (o + 6 > view.base + view.caplen || o + 6 > buf.length) return;
    // Group (multicast/broadcast) addresses are never valid sources: a bridge doesn't learn them either.
    if ((buf[o] & 1) !== 0) return;
    const hi = (buf[o] << 8) | buf[o + 1];
    const lo = ((buf[o + 2] << 24) | (buf[o + 3] << 16) | (buf[o + 4] << 8) | buf[o + 5]) >>> 0;
    if (hi === 0 && lo === 0) return;
    const vlan = (view.layers & L.VLAN) !== 0 && view.vlanCount > 0 ? view.vlanIds[0] : 0;
    // Most packets come from the few senders of the last packets: a cached entry, unchanged, needs no lookup
    // and no array write (its packets and last-seen time are written when it leaves the cache or is read).
    const loc = (ifId + 1) * 65536 + vlan;
    if (this.c0Slot >= 0 && this.c0Lo === lo && this.c0Hi === hi && this.c0Loc === loc && this.c0Vni === vni) {
      this.c0Pend++;
      this.c0Sec = tsSec;
      this.c0Ns = tsNs;
      this.cLastHit = 0;
      return;
    }
    if (this.c1Slot >= 0 && this.c1Lo === lo && this.c1Hi === hi && this.c1Loc === loc && this.c1Vni === vni) {
      this.c1Pend++;
      this.c1Sec = tsSec;
      this.c1Ns = tsNs;
      this.cLastHit = 1;
      return;
    }
    let s = this.findSlot(hi, lo);
    // Its location may change below: a cached copy would no longer see a move back.
    if (this.c0Slot === s) this.uncache0();
    if (this.c1Slot === s) this.uncache1();
    if (this.ifc[s] === 0) {
      if (this.count >= this.maxMacs) {
        this.untracked++;
        return;
      }
      if ((this.count + 1) * 2 > this.cap) {
        this.grow();
        s = this.findSlot(hi, lo);
      }
      this.count++;
      this.hi[s] = hi;
      this.lo[s] = lo;
      this.ifc[s] = ifId + 1;
      this.vlan[s] = vlan;
      this.vni[s] = vni;
      this.firstSec[s] = tsSec;
      this.firstNs[s] = tsNs;
    } else if (this.ifc[s] !== ifId + 1 || this.vlan[s] !== vlan || this.vni[s] !== vni) {
      this.moveCount[s]++;
      if (this.moveLog.length < this.maxMoveLog) {
        this.moveLog.push({
          mac: macText(hi, lo),
          from: locationText(this.ifaceName(this.ifc[s] - 1), this.vlan[s], this.vni[s]),
          to: locationText(this.ifaceName(ifId), vlan, vni),
          time: formatTs(tsSec, tsNs),
        });
      } else {
        this.movesDropped++;
      }
      this.ifc[s] = ifId + 1;
      this.vlan[s] = vlan;
      this.vni[s] = vni;
    }
    this.packets[s]++;
    this.lastSec[s] = tsSec;
    this.lastNs[s] = tsNs;
    // Cache s in place of the entry not hit last.
    if (this.cLastHit === 0) {
      this.uncache1();
      this.c1Slot = s;
      this.c1Hi = hi;
      this.c1Lo = lo;
      this.c1Loc = loc;
      this.c1Vni = vni;
      this.cLastHit = 1;
    } else {
      this.uncache0();
      this.c0Slot = s;
      this.c0Hi = hi;
      this.c0Lo = lo;
      this.c0Loc = loc;
      this.c0Vni = vni;
      this.cLastHit = 0;
    }
  }

  /** Writes the cached entries' pending packets and last-seen times to the arrays (they stay cached). */
  private flushCache(): void {
    this.flush0();
    this.flush1();
  }

  /** Writes cached entry 0's pending packets and last-seen time to the arrays. */
  private flush0(): void {
    if (this.c0Slot >= 0 && this.c0Pend > 0) {
      this.packets[this.c0Slot] += this.c0Pend;
      this.lastSec[this.c0Slot] = this.c0Sec;
      this.lastNs[this.c0Slot] = this.c0Ns;
      this.c0Pend = 0;
    }
  }

  private flush1(): void {
    if (this.c1Slot >= 0 && this.c1Pend > 0) {
      this.packets[this.c1Slot] += this.c1Pend;
      this.lastSec[this.c1Slot] = this.c1Sec;
      this.lastNs[this.c1Slot] = this.c1Ns;
      this.c1Pend = 0;
    }
  }

  private uncache0(): void {
    this.flush0();
    this.c0Slot = -1;
    this.c0Pend = 0;
  }

  private uncache1(): void {
    this.flush1();
    this.c1Slot = -1;
    this.c1Pend = 0;
  }

  /** Every learned MAC, most recently seen first. */
  entries(): MacEntry[] {
    this.flushCache();
    const out: { e: MacEntry; t: number }[] = [];
    for (let s = 0; s < this.cap; s++) {
      if (this.ifc[s] === 0) continue;
      out.push({
        t: this.lastSec[s] + this.lastNs[s] / 1e9,
        e: {
          mac: macText(this.hi[s], this.lo[s]),
          iface: this.ifaceName(this.ifc[s] - 1),
          vlan: this.vlan[s] === 0 ? null : this.vlan[s],
          vni: this.vni[s] < 0 ? null : this.vni[s],
          packets: this.packets[s],
          firstSeen: formatTs(this.firstSec[s], this.firstNs[s]),
          lastSeen: formatTs(this.lastSec[s], this.lastNs[s]),
          moves: this.moveCount[s],
        },
      });
    }
    out.sort((x, y) => y.t - x.t);
    return out.map((x) => x.e);
  }

  moves(): readonly MacMove[] {
    return this.moveLog;
  }

  /** One problem per MAC that moved (with every hop kept in the log), plus a note if the log overflowed. */
  problems(): Problem[] {
    const byMac = new Map<string, MacMove[]>();
    for (const m of this.moveLog) {
      const l = byMac.get(m.mac);
      if (l) l.push(m);
      else byMac.set(m.mac, [m]);
    }
    const out: Problem[] = [];
    for (const [mac, list] of byMac) {
      const last = list[list.length - 1];
      const path = [list[0].from, ...list.map((m) => m.to)];
      out.push({
        kind: 'mac-move',
        text: `MAC ${mac} moved ${list.length}×: ${path.join(' → ')}`,
        time: last.time,
        flow: null,
        packets: list.length,
        details: { mac, moves: list.length, path, from: list[0].from, to: last.to },
      });
    }
    if (this.movesDropped > 0) {
      out.push({
        kind: 'mac-move',
        text: `${this.movesDropped} further MAC moves not itemised (log full)`,
        time: null,
        flow: null,
        packets: this.movesDropped,
        details: { dropped: this.movesDropped },
      });
    }
    return out;
  }

  private findSlot(hi: number, lo: number): number {
    let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    let s = h & this.mask;
    while (this.ifc[s] !== 0 && (this.hi[s] !== hi || this.lo[s] !== lo)) s = (s + 1) & this.mask;
    return s;
  }

  /** Fresh, empty slot arrays of this.cap slots (the constructor and grow share them). */
  private allocate(): void {
    this.hi = new Uint32Array(this.cap);
    this.lo = new Uint32Array(this.cap);
    this.ifc = new Uint16Array(this.cap);
    this.vlan = new Uint16Array(this.cap);
    this.vni = new Int32Array(this.cap);
    this.packets = new Float64Array(this.cap);
    this.firstSec = new Float64Array(this.cap);
    this.firstNs = new Uint32Array(this.cap);
    this.lastSec = new Float64Array(this.cap);
    this.lastNs = new Uint32Array(this.cap);
    this.moveCount = new Uint32Array(this.cap);
  }

  private grow(): void {
    // Slots move: write the cached entries back and drop them.
    this.uncache0();
    this.uncache1();
    const old = {
      cap: this.cap,
      hi: this.hi,
      lo: this.lo,
      ifc: this.ifc,
      vlan: this.vlan,
      vni: this.vni,
      packets: this.packets,
      firstSec: this.firstSec,
      firstNs: this.firstNs,
      lastSec: this.lastSec,
      lastNs: this.lastNs,
      moveCount: this.moveCount,
    };
    this.cap *= 2;
    this.mask = this.cap - 1;
    this.allocate();
    for (let i = 0; i < old.cap; i++) {
      if (old.ifc[i] === 0) continue;
      const s = this.findSlot(old.hi[i], old.lo[i]);
      this.hi[s] = old.hi[i];
      this.lo[s] = old.lo[i];
      this.ifc[s] = old.ifc[i];
      this.vlan[s] = old.vlan[i];
      this.vni[s] = old.vni[i];
      this.packets[s] = old.packets[i];
      this.firstSec[s] = old.firstSec[i];
      this.firstNs[s] = old.firstNs[i];
      this.lastSec[s] = old.lastSec[i];
      this.lastNs[s] = old.lastNs[i];
      this.moveCount[s] = old.moveCount[i];
    }
  }
}
