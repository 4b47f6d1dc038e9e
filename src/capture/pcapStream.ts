/**
 * The header of the classic pcap stream an agent writes to its parent. The records after it come from the
 * libpcap binding as they are (little-endian record headers, nanosecond fractions): see libpcap/handle.ts.
 */
export const PCAP_NSEC_MAGIC = 0xa1b23c4d;

/** The 24-byte pcap global header (little-endian, nanosecond timestamps). */
export function pcapStreamHeader(linktype: number, snaplen: number): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(PCAP_NSEC_MAGIC, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(snaplen, 16);
  h.writeUInt32LE(linktype, 20);
  return h;
}
