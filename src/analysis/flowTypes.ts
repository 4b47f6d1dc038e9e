/**
 * The flow engine's public shapes: options, one flow as plain data (FlowRecord) or as reused numbers
 * (FlowFacts), counters and snapshots. Data only; the engine is FlowTable (flows.ts).
 */
import type { ArpCounters, ArpTargetStats } from './arp';
import type { MacEntry } from './mac';
import type { Problem } from './problems';

export interface FlowTableOptions {
  /** Flows not seen for this long are removed by expire() (default 120 s; Infinity keeps them). */
  idleTimeoutSec?: number;
  /** Hard cap on flows held; beyond it the least recently seen flow is evicted (default 1,000,000). */
  maxFlows?: number;
  /** Interval for the per-flow rate (default 1 s). */
  rateIntervalSec?: number;
  /** Track flows of VXLAN inner frames, tagged with the VNI (default true). */
  trackInner?: boolean;
}

export type FlowSort = 'packets' | 'bytes' | 'rate' | 'start';

/** Address family of a flow key: IP v4/v6, ARP (keyed by the IP pair), or other Ethernet (keyed by MACs). */
export type FlowFamily = 'ipv4' | 'ipv6' | 'arp' | 'eth';

export type TcpState = 'syn-sent' | 'refused' | 'syn-received' | 'established' | 'closing' | 'closed' | 'reset' | 'midstream';

export interface TcpSummary {
  state: TcpState;
  /** SYNs (without ACK) seen; syns - 1 of them are retransmissions. */
  syns: number;
  synRetransmits: number;
  synAck: boolean;
  finA: boolean;
  finB: boolean;
  /** Side that sent a RST, if any (the last one). */
  rstBy: 'a' | 'b' | null;
}

export interface EchoSummary {
  requests: number;
  replies: number;
  unanswered: number;
  /** Round-trip times of matched request/reply pairs (by id+seq), milliseconds; null when none matched. */
  rttMinMs: number | null;
  rttAvgMs: number | null;
  rttMaxMs: number | null;
  rttSamples: number;
}

export interface ArpPairSummary {
  requests: number;
  replies: number;
}

export interface IcmpErrorSummary {
  count: number;
  /** The last error: ICMP type/code, the router/host that sent it. */
  type: number;
  code: number;
  from: string;
  text: string;
}

/** One flow as plain data (strings and numbers), safe to keep after the table changes. */
export interface FlowRecord {
  /** "PROTO A[:PORT] <-> B[:PORT][ vni N]": stable while the flow lives. */
  key: string;
  proto: string;
  family: FlowFamily;
  /** Initiator side (SYN sender / echo requester / ARP requester / first seen). */
  a: string;
  aPort: number | null;
  b: string;
  bPort: number | null;
  /** ICMP echo identifier for echo flows. */
  echoId: number | null;
  /** VXLAN VNI for flows of inner frames. */
  vni: number | null;
  packetsAB: number;
  packetsBA: number;
  bytesAB: number;
  bytesBA: number;
  packets: number;
  bytes: number;
  /** First/last packet time, "SEC.NNNNNNNNN". */
  first: string;
  last: string;
  durationSec: number;
  /** Bytes per second over the last complete rate interval (live view). */
  rateBytesPerSec: number;
  /** Bytes per second averaged over the flow's lifetime, at least one rate interval long. */
  avgBytesPerSec: number;
  ifaces: string[];
  tcp: TcpSummary | null;
  echo: EchoSummary | null;
  arp: ArpPairSummary | null;
  icmpErrors: IcmpErrorSummary | null;
}

/**
 * One flow as numbers and constant strings, overwritten by FlowTable.readFlow(): for renderers of many rows
 * (`read --flows` prints every flow), which would otherwise build a FlowRecord of fresh strings per flow.
 * Fields mean what the FlowRecord fields of the same name mean; absent values are -1 instead of null.
 */
export class FlowFacts {
  family: FlowFamily = 'ipv4';
  proto = '';
  /** Addresses as uint32 for families ipv4 and arp; -1 otherwise (use FlowTable.flowAddress). */
  a4 = -1;
  b4 = -1;
  aPort = -1;
  bPort = -1;
  echoId = -1;
  vni = -1;
  packetsAB = 0;
  packetsBA = 0;
  bytesAB = 0;
  bytesBA = 0;
  firstSec = 0;
  firstNs = 0;
  lastSec = 0;
  lastNs = 0;
  durationSec = 0;
  rateBytesPerSec = 0;
  avgBytesPerSec = 0;
  /** Bit i: seen on interface i (FlowTable.ifaceName(i)); bit 31: on one beyond the first 31. */
  ifaceMask = 0;
  /** TCP state (null for other protocols), SYNs seen, side of the last RST. */
  tcpState: TcpState | null = null;
  syns = 0;
  rstBy: 'a' | 'b' | null = null;
  /** TCP: a SYN-ACK was seen; FIN from side a / side b. */
  synAck = false;
  finA = false;
  finB = false;
  /** Echo flows: requests, replies and RTT (ms, null-free: valid when rttSamples > 0); ARP flows: requests, replies. */
  requests = 0;
  replies = 0;
  rttSamples = 0;
  rttMinMs = 0;
  rttAvgMs = 0;
  rttMaxMs = 0;
  isEcho = false;
  isArp = false;
  /** True when ICMP errors quote this flow (details: FlowTable.flowRecord). */
  hasIcmpErrors = false;
}

export interface FlowCounters {
  packets: number;
  bytes: number;
  /** Flows currently in the table. */
  flows: number;
  created: number;
  expired: number;
  evicted: number;
  /** Packets not assignable to any flow (no IP/ARP/Ethernet layer decoded). */
  unkeyed: number;
  /** VXLAN inner frames tracked. */
  innerPackets: number;
  /** ICMP errors whose quoted flow was not in the table. */
  icmpErrorsUnmatched: number;
  /** Problems of removed flows beyond the retained log. */
  problemsDropped: number;
  /** Connects that failed: a RST answered the SYN (refused), or the flow left the table with SYNs unanswered. */
  tcpFailedConnects: number;
  /** Connections reset after the handshake answered (or seen mid-stream): counted once per reset. */
  tcpResets: number;
  /** ICMP destination unreachable (v4 type 3) and ICMPv6 destination unreachable (type 1) messages. */
  icmpUnreachables: number;
  /** Records of a packet already seen on another interface (multi-point capture): counted once, on its first sighting. */
  repeats: number;
  macs: number;
  macsUntracked: number;
  arp: ArpCounters;
}

export interface FlowSnapshot {
  /** Capture clock: newest packet time seen (or expire()'s now), "SEC.NNNNNNNNN". */
  now: string;
  flows: FlowRecord[];
  problems: Problem[];
  counters: FlowCounters;
  macs: MacEntry[];
  arpTargets: ArpTargetStats[];
}

export interface SnapshotOptions {
  sort?: FlowSort;
  /** Keep only the first N flows after sorting (0 = all). */
  top?: number;
  /** What sort 'rate' ranks by: the last complete interval (live views, default) or the lifetime average. */
  rateBy?: 'live' | 'average';
}
