/** Reading a capture held in memory back into plain objects, for the reader's and the writers' tests. */
import { CaptureParser } from '../../src/pcap/reader';
import type { PacketRecord, ReadError } from '../../src/pcap/record';

/** A record copied out of the parser's reused buffer, with its bytes as hex. */
export type CopiedRecord = Omit<PacketRecord, 'buf' | 'offset'> & { data: string };

export function copyRecord(r: PacketRecord): CopiedRecord {
  return {
    data: r.buf.toString('hex', r.offset, r.offset + r.caplen),
    caplen: r.caplen,
    len: r.len,
    tsSec: r.tsSec,
    tsNsec: r.tsNsec,
    linktype: r.linktype,
    ifIndex: r.ifIndex,
    iface: r.iface,
  };
}

/** Parses a whole capture file in one push; returns its records, the end-of-stream error and the parser. */
export function parseCapture(
  file: Buffer,
  opts?: { maxCaplen?: number },
): { recs: CopiedRecord[]; error: ReadError | null; p: CaptureParser } {
  const recs: CopiedRecord[] = [];
  const p = new CaptureParser((r) => recs.push(copyRecord(r)), opts);
  p.push(file);
  const error = p.end();
  return { recs, error, p };
}
