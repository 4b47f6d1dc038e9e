/**
 * Problems the analysis engine reports (failed connects, resets, unanswered echo/ARP, ARP conflicts, MAC
 * moves, ICMP errors, evictions): one shape for text and JSON output. Built only when a snapshot is taken or a
 * flow leaves the table, never per packet.
 */

export type ProblemKind =
  | 'tcp-failed-connect'
  | 'tcp-reset'
  | 'icmp-unanswered'
  | 'icmp-error'
  | 'arp-unanswered'
  | 'arp-conflict'
  | 'mac-move'
  | 'flows-evicted';

export type ProblemValue = string | number | boolean | null | string[];

export interface Problem {
  kind: ProblemKind;
  /** One line for people: what happened, between whom, how often. */
  text: string;
  /** When it was last seen ("SEC.NNNNNNNNN"), or null for counters. */
  time: string | null;
  /** The flow key it belongs to (FlowRecord.key), or null for ARP/MAC problems. */
  flow: string | null;
  /**
   * Packets affected, what the digest ranks by: a failed connect or reset, the flow's packets; unanswered echo
   * or ARP, the requests without a reply; ICMP errors, the errors; a MAC move, the moves; evictions, the flows.
   */
  packets: number;
  /** Machine-readable facts behind `text` (addresses, counts, sides). */
  details: Record<string, ProblemValue>;
}

/** Order in which problem kinds are listed: what breaks connectivity first. */
export const PROBLEM_ORDER: readonly ProblemKind[] = [
  'tcp-failed-connect',
  'tcp-reset',
  'icmp-unanswered',
  'icmp-error',
  'arp-unanswered',
  'arp-conflict',
  'mac-move',
  'flows-evicted',
];

const UNREACH_CODES = [
  'network unreachable',
  'host unreachable',
  'protocol unreachable',
  'port unreachable',
  'fragmentation needed',
  'source route failed',
  'destination network unknown',
  'destination host unknown',
  'source host isolated',
  'network administratively prohibited',
  'host administratively prohibited',
  'network unreachable for TOS',
  'host unreachable for TOS',
  'communication administratively prohibited',
  'host precedence violation',
  'precedence cutoff in effect',
];

/** Name of an ICMPv4 error (type/code) as users know it from ping/traceroute. */
function icmp4ErrorText(type: number, code: number): string {
  switch (type) {
    case 3:
      return `destination unreachable (${UNREACH_CODES[code] ?? `code ${code}`})`;
    case 11:
      return code === 1 ? 'time exceeded (fragment reassembly)' : 'time exceeded (TTL expired in transit)';
    case 12:
      return `parameter problem (code ${code})`;
    case 5:
      return `redirect (code ${code})`;
    case 4:
      return 'source quench';
    default:
      return `ICMP type ${type} code ${code}`;
  }
}

const UNREACH6_CODES = [
  'no route to destination',
  'administratively prohibited',
  'beyond scope of source address',
  'address unreachable',
  'port unreachable',
  'source address failed ingress/egress policy',
  'reject route to destination',
  'error in source routing header',
];

function icmp6ErrorText(type: number, code: number): string {
  switch (type) {
    case 1:
      return `destination unreachable (${UNREACH6_CODES[code] ?? `code ${code}`})`;
    case 2:
      return 'packet too big';
    case 3:
      return code === 1 ? 'time exceeded (fragment reassembly)' : 'time exceeded (hop limit exceeded in transit)';
    case 4:
      return `parameter problem (code ${code})`;
    default:
      return `ICMPv6 type ${type} code ${code}`;
  }
}

/**
 * Name of an ICMP error (`v6`: ICMPv6 numbering), with the MTU the sender reported when it is one about size
 * (IPv4 fragmentation needed, IPv6 packet too big): the number a path-MTU problem is about.
 */
export function icmpErrorText(type: number, code: number, v6 = false, mtu = 0): string {
  const text = v6 ? icmp6ErrorText(type, code) : icmp4ErrorText(type, code);
  return mtu > 0 ? `${text}, MTU ${mtu}` : text;
}

const KIND_RANK = new Map<string, number>(PROBLEM_ORDER.map((k, i) => [k, i]));

export function compareProblems(x: Problem, y: Problem): number {
  const d = (KIND_RANK.get(x.kind) ?? -1) - (KIND_RANK.get(y.kind) ?? -1);
  if (d !== 0) return d;
  // Times are "SEC.NNNNNNNNN" (digits and a dot): code-unit order is their collation order, without ICU.
  const a = x.time ?? '';
  const b = y.time ?? '';
  return a < b ? -1 : a > b ? 1 : 0;
}
