/**
 * tcpdump's relative TCP sequence numbers: per connection, the sequence and acknowledgement numbers of the
 * first segment with ACK set (or of a SYN-ACK) become the base that later segments are printed against, in
 * both directions (tcpdump's print-tcp.c `tcp_seq_hash`). tcpdump keeps every connection forever; here a
 * fixed table of SLOTS entries (open addressing, PROBES probes, the home slot overwritten when all are
 * taken) keeps memory bounded: a capture with more live connections than that may print a connection's
 * numbers absolute once more, as if it had just been seen.
 */
import { L, type PacketView } from './view';

const SLOTS = 1 << 14;
const PROBES = 8;
/** Key words per slot: family, 4 + 4 address words (IPv4 uses one each), ports. */
const KW = 10;

export class TcpSeqTable {
  private readonly keys = new Uint32Array(SLOTS * KW);
  private readonly used = new Uint8Array(SLOTS);
  private readonly seqBase = new Uint32Array(SLOTS);
  private readonly ackBase = new Uint32Array(SLOTS);
  private readonly key = new Uint32Array(KW);

  /** Results of the last relate(): numbers to print, and the bases tcpdump subtracts from SACK blocks. */
  seq = 0;
  ack = 0;
  thSeq = 0;
  thAck = 0;
  rev = false;

  /** Sets seq/ack (and the SACK bases) for the TCP segment in `v` as tcpdump prints them without -S. */
  relate(v: PacketView): void {
    let seq = v.tcpSeq;
    let ack = v.tcpAck;
    this.seq = seq;
    this.ack = ack;
    this.thSeq = 0;
    this.thAck = 0;
    this.rev = false;
    const flags = v.tcpFlags;
    if ((flags & 0x10) === 0) return;
    const k = this.key;
    const sport = v.sport;
    const dport = v.dport;
    const b = v.buf;
    let rev = sport > dport;
    k.fill(0);
    if (v.layers & L.IPV4) {
      k[0] = 4;
      if (sport === dport) rev = v.ip4Src > v.ip4Dst;
      k[1] = rev ? v.ip4Dst : v.ip4Src;
      k[5] = rev ? v.ip4Src : v.ip4Dst;
    } else {
      k[0] = 6;
      const s = v.ip6SrcOff;
      const d = v.ip6DstOff;
      if (sport === dport) rev = b.compare(b, s, s + 16, d, d + 16) > 0;
      const a = rev ? d : s;
      const z = rev ? s : d;
      for (let i = 0; i < 4; i++) {
        k[1 + i] = ((b[a + 4 * i] << 24) | (b[a + 4 * i + 1] << 16) | (b[a + 4 * i + 2] << 8) | b[a + 4 * i + 3]) >>> 0;
        k[5 + i] = ((b[z + 4 * i] << 24) | (b[z + 4 * i + 1] << 16) | (b[z + 4 * i + 2] << 8) | b[z + 4 * i + 3]) >>> 0;
      }
    }
    k[9] = rev ? ((dport << 16) | sport) >>> 0 : ((sport << 16) | dport) >>> 0;
    let h = 0x811c9dc5;
    for (let i = 0; i < KW; i++) h = Math.imul(h ^ k[i], 0x01000193);
    const home = (h >>> 0) & (SLOTS - 1);
    let slot = -1;
    let free = -1;
    for (let p = 0; p < PROBES; p++) {
      const s = (home + p) & (SLOTS - 1);
      if (this.used[s] === 0) {
        if (free < 0) free = s;
        continue;
      }
      const o = s * KW;
      let same = true;
      for (let i = 0; i < KW; i++) {
        if (this.keys[o + i] !== k[i]) {
          same = false;
          break;
        }
      }
      if (same) {
        slot = s;
        break;
      }
    }
    if (slot < 0 || (flags & 0x02) !== 0) {
      if (slot < 0) {
        slot = free >= 0 ? free : home;
        this.keys.set(k, slot * KW);
        this.used[slot] = 1;
      }
      if (rev) {
        this.ackBase[slot] = seq;
        this.seqBase[slot] = (ack - 1) >>> 0;
      } else {
        this.seqBase[slot] = seq;
        this.ackBase[slot] = (ack - 1) >>> 0;
      }
    } else if (rev) {
      seq = (seq - this.ackBase[slot]) >>> 0;
      ack = (ack - this.seqBase[slot]) >>> 0;
    } else {
      seq = (seq - this.seqBase[slot]) >>> 0;
      ack = (ack - this.ackBase[slot]) >>> 0;
    }
    this.seq = seq;
    this.ack = ack;
    this.thSeq = this.seqBase[slot];
    this.thAck = this.ackBase[slot];
    this.rev = rev;
  }

  /** Forgets every connection. */
  clear(): void {
    this.used.fill(0);
  }
}
