/** tcpdump's -x/-xx/-X/-XX hex dumps of a packet, written into a LineBuffer after its text line. */
import { LinkType } from '../pcap/record';
import { HEX2, LineBuffer } from './lineBuffer';
import type { PacketView } from './view';

/** Bytes of the link-layer header tcpdump's -x/-X skip (the rest of the frame is dumped). */
export function linkHeaderLength(v: PacketView): number {
  if (v.l3Off >= 0) return v.l3Off - v.base;
  switch (v.linktype) {
    case LinkType.EN10MB:
      return 14 + 4 * v.vlanCount;
    case LinkType.LINUX_SLL:
      return 16;
    case LinkType.LINUX_SLL2:
      return 20;
    case LinkType.NULL:
    case LinkType.LOOP:
      return 4;
    default:
      return 0;
  }
}

/**
 * tcpdump's hex dump lines ("\t0x0010:  0af4 0102 …", 16 bytes a line) of buf[off, off+len), with the
 * printable-ASCII column of -X when `ascii`.
 */
export function writeHex(o: LineBuffer, buf: Buffer, off: number, len: number, ascii: boolean): void {
  for (let i = 0; i < len; i += 16) {
    const n = len - i < 16 ? len - i : 16;
    o.ascii('\t0x');
    o.ascii(HEX2[(i >>> 8) & 255]);
    o.ascii(HEX2[i & 255]);
    o.byte(58);
    o.byte(32);
    const from = o.pos - o.start;
    for (let j = 0; j < n; j += 2) {
      o.byte(32);
      o.ascii(HEX2[buf[off + i + j]]);
      if (j + 1 < n) o.ascii(HEX2[buf[off + i + j + 1]]);
    }
    if (ascii) {
      for (let w = o.pos - o.start - from; w < 40; w++) o.byte(32);
      o.byte(32);
      o.byte(32);
      for (let j = 0; j < n; j++) {
        const c = buf[off + i + j];
        o.byte(c > 32 && c < 127 ? c : 46); // isgraph: a space shows as '.', as in tcpdump
      }
    }
    o.byte(10);
  }
}
