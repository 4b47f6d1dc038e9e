/**
 * The record stream every source produces (files, stdin, live capture, namespace agents).
 * A record is a view: `buf` may be reused for the next record, so copy out what you keep.
 */

/** DLT / LINKTYPE values netscope understands (pcap-linktype(7)). */
export const LinkType = {
  NULL: 0,
  EN10MB: 1,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export interface PacketRecord {
  /** Bytes of the capture; the frame starts at `offset`. Valid only until the next record. */
  buf: Buffer;
  offset: number;
  /** Bytes captured (present in buf from offset). */
  caplen: number;
  /** Original length on the wire. */
  len: number;
  /** Epoch seconds (integer). Seconds and fraction are kept apart: 64-bit ns values exceed 2^53. */
  tsSec: number;
  /** Fraction of the second in nanoseconds, 0..999_999_999. */
  tsNsec: number;
  /** LINKTYPE_* of the interface this record came from. */
  linktype: number;
  /** Index of the interface in the source's interface list (pcapng: unique across sections; pcap: 0). */
  ifIndex: number;
  /** Interface name when known (pcapng if_name, live capture "NETNS/IFACE"), else undefined. */
  iface: string | undefined;
}

/**
 * A zeroed record over `buf`, for a source that reuses one record object for all it delivers. Built in one
 * place so every source's record has the same field order (one hidden class for the decoder to see).
 */
export function blankRecord(buf: Buffer): PacketRecord {
  return { buf, offset: 0, caplen: 0, len: 0, tsSec: 0, tsNsec: 0, linktype: 0, ifIndex: 0, iface: undefined };
}

/** Called once per record; the record object and its buffer are reused afterwards. */
export type RecordHandler = (rec: PacketRecord) => void;

/** Where and why a capture stream stopped being readable. */
export interface ReadError {
  /** Byte offset in the stream where the damaged structure starts. */
  offset: number;
  message: string;
}

export interface InterfaceInfo {
  linktype: number;
  snaplen: number;
  name: string | undefined;
}

/** Formats a timestamp as "SEC.NNNNNNNNN" (exactly 9 fraction digits). */
export function formatTs(sec: number, nsec: number): string {
  const f = String(nsec);
  return `${sec}.${'000000000'.slice(f.length)}${f}`;
}
