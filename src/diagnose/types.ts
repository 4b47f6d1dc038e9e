/**
 * The data diagnose works with and reports: endpoints, the path (hops), what each hop saw, and the verdict.
 * Everything here is plain data so the JSON output is these objects as they are (docs/diagnose.md).
 */
import type { RuleDelta } from '../host/rules';

export type ProbeProto = 'icmp' | 'tcp' | 'udp';

/** One end of the diagnosed path. */
export interface Endpoint {
  /** What the user typed (namespace, pod name or IP). */
  ref: string;
  /** Namespace id as discovery names it ("" = netscope's own); null when nobody holds the address. */
  netns: string | null;
  /** Namespace label for output ("host" for netscope's own). */
  label: string;
  /** The interface holding `ip` (null when unknown). */
  iface: string | null;
  ip: string;
  /** The address's prefix length on `iface` (null when unknown). */
  prefixlen: number | null;
}

/** What a hop is on the path. */
export type HopRole =
  /** FROM's interface: probes leave here. */
  | 'source'
  /** The other end of a veth (a namespace boundary crossed). */
  | 'veth peer'
  /** A bridge port the frame enters or leaves a bridge through. */
  | 'bridge port'
  /** The bridge itself, forwarding at layer 2 (frames between ports never reach the bridge device). */
  | 'bridge'
  /** An interface where a namespace receives the packet to route it (a router's ingress). */
  | 'router in'
  /** The interface a router forwards the packet out of. */
  | 'router out'
  /** TO's interface: probes arrive here. */
  | 'destination';

export interface Hop {
  /** 1-based position on the path. */
  index: number;
  netns: string;
  netnsLabel: string;
  iface: string;
  kind: string;
  role: HopRole;
  /** Administratively up. */
  up: boolean;
  /** Operational state (UP, DOWN, LOWERLAYERDOWN, UNKNOWN …). */
  state: string;
  mtu: number;
  /** Bridge this interface is a port of. */
  master?: string;
  /** Only on the reply path (asymmetric routing). */
  replyOnly?: boolean;
}

/** Static findings from the kernel's configuration, before any probe is sent. */
export type CauseCode =
  | 'firewall'
  | 'link-down'
  | 'not-attached'
  | 'wrong-bridge'
  | 'subnet-mismatch'
  | 'no-route'
  | 'forwarding-disabled'
  | 'arp-unanswered'
  | 'wrong-neighbour'
  | 'rp-filter'
  | 'service-no-endpoints'
  | 'duplicate-ip'
  | 'port-closed'
  | 'mtu'
  | 'unreachable'
  | 'no-reply'
  | 'unknown';

export interface PathIssue {
  cause: CauseCode;
  /** Index into the hop list where traffic stops (null: before the first hop, e.g. no route in FROM). */
  hop: number | null;
  /** Request path or reply path. */
  direction: 'request' | 'reply';
  summary: string;
  evidence: string[];
}

/** The path as found from the configuration: hops in order, and the first problem on it (if any). */
export interface PathTrace {
  hops: Hop[];
  /** Namespaces that route the packet between subnets (where ip_forward must be on). */
  routers: string[];
  /** Addresses ARP must resolve along the path, as "netns|ip" pairs (first: FROM's next hop). */
  nextHops: Array<{ netns: string; ip: string; dev: string }>;
  issue?: PathIssue;
}

/** What one hop saw of the probes. */
export interface HopObservation {
  /** Distinct probes seen travelling FROM → TO. */
  request: number;
  /** Distinct replies (echo reply, SYN-ACK, UDP reply) seen travelling TO → FROM. */
  reply: number;
  /** ICMP errors and TCP resets about our probes, as one-line descriptions with counts. */
  errors: ObservedError[];
  arpRequests: number;
  arpReplies: number;
  /** Median µs the probes took from the previous capturing hop to this one (capture timestamps). */
  addedUs?: number;
  /** false: not captured (link down, or the bridge device itself between two ports). */
  captured: boolean;
  /** Why it was not captured. */
  note?: string;
}

export interface ObservedError {
  /** "rst", "icmp-port-unreachable", "icmp-frag-needed", "icmp-host-unreachable", "icmp-net-unreachable",
   *  "icmp-admin-prohibited", "icmp-unreachable", "icmp-time-exceeded". */
  kind: string;
  /** Who sent it (IPv4 source address). */
  from: string;
  /** Next-hop MTU for frag-needed. */
  mtu?: number;
  count: number;
}

/** An ARP exchange seen on the path: who asked for whom, and whether anyone answered. */
export interface ArpExchange {
  target: string;
  asker: string;
  requests: number;
  replies: number;
  /** Hop indexes where the requests were seen. */
  seenAt: number[];
}

/** Counter changes during the probe: the rule reader's delta fields (position 0 = chain policy), plus where. */
export interface RuleHit extends Pick<RuleDelta, 'family' | 'table' | 'chain' | 'position' | 'text' | 'target' | 'dPackets' | 'dBytes'> {
  netns: string;
  netnsLabel: string;
  backend: string;
}

/** A rule (or chain policy) that nftables tracing saw drop our probes or their replies. */
export interface TracedDrop {
  netns: string;
  netnsLabel: string;
  direction: 'request' | 'reply';
  /** Who owns the table: native nftables, or iptables-nft / ip6tables-nft (their tables in nft). */
  backend: 'nft' | 'iptables-nft' | 'ip6tables-nft';
  family: string;
  table: string;
  chain: string;
  /** The chain's policy dropped it (no rule did). */
  policy: boolean;
  /** nft rule handle (absent for a policy). */
  handle?: number;
  /** The rule as nft prints it (counter values left out), or "policy drop". */
  text: string;
  /** drop (a reject rule also ends with drop after sending its answer). */
  verdict: string;
  /** Packets it dropped (a TCP SYN retransmitted counts again). */
  packets: number;
  /** Distinct probes (or replies) among them. */
  probes: number;
  /** Interfaces of the packet in the dropping chain. */
  iif?: string;
  oif?: string;
  /** iptables-nft: the rule's position in its chain and its iptables-save text. */
  iptables?: { position: number; text: string };
}

/** Where a probe (or reply) went in one namespace, by the netfilter hooks it reached. */
export interface TracedWalk {
  netns: string;
  netnsLabel: string;
  direction: 'request' | 'reply';
  /** prerouting, input, forward, output, postrouting — in the order reached. */
  hooks: string[];
  iif?: string;
  oif?: string;
  dropped: boolean;
  packets: number;
}

/** What tracing did: the method per namespace and what it found. */
export interface TraceSummary {
  /** "nftrace" where it ran; namespaces whose rules are iptables-legacy only are read by counters. */
  method: 'nftrace' | 'off';
  traced: string[];
  failed: Array<{ netns: string; reason: string }>;
  /** Namespaces with iptables-legacy rules: tracing cannot see those, counters are the method there. */
  legacy: string[];
  drops: TracedDrop[];
  walks: TracedWalk[];
}

export interface IfaceDelta {
  netns: string;
  iface: string;
  rxPackets: number;
  txPackets: number;
  rxDropped: number;
  txDropped: number;
}

export interface NeighbourState {
  netns: string;
  ip: string;
  dev: string;
  mac?: string;
  /** After the probe. */
  state: string[];
  /** Before the probe (absent: no entry then). */
  stateBefore?: string[];
}

export interface ProbeResult {
  proto: ProbeProto;
  sent: number;
  /** Echo replies / connections established / UDP replies. */
  answered: number;
  /** TCP: connections refused (RST); UDP: ICMP port unreachable reported to the socket. */
  refused: number;
  /** A local error before anything was sent (no route, message too long …), as the tool reported it. */
  localError?: string;
  /** Identity carried by the probes. */
  identity: ProbeIdentity;
}

/** How the probes are sent: what the probe plan sets and the report echoes back. */
export interface ProbeSettings {
  proto: ProbeProto;
  port: number | null;
  /** ICMP: echo payload bytes (ping -s); UDP: datagram payload bytes (at least the tag). */
  size: number;
  count: number;
  timeoutMs: number;
  /** Set the don't-fragment bit (ICMP: -M do; TCP/UDP: the kernel's default path-MTU discovery sets it). */
  df: boolean;
  identity: ProbeIdentity;
}

export interface ProbeIdentity {
  /** ICMP echo identifier. */
  icmpId?: number;
  /** TCP/UDP source ports, one per probe. */
  sourcePorts?: number[];
  /** UDP payload tag. */
  tag?: string;
}

export interface Verdict {
  connected: boolean;
  cause: CauseCode | null;
  /** Hop index (1-based) where traffic stopped; null when connected or before the first hop. */
  hop: number | null;
  direction: 'request' | 'reply' | null;
  summary: string;
  evidence: string[];
  /** A hop that adds far more latency than the others (capture timestamps), when there is one. */
  slowHop?: number;
}

export interface DiagnoseReport {
  version: 1;
  from: Endpoint;
  to: Endpoint;
  probe: ProbeSettings;
  verdict: Verdict;
  hops: Array<Hop & { observed: HopObservation }>;
  arp: ArpExchange[];
  result: ProbeResult;
  counters: {
    rules: RuleHit[];
    interfaces: IfaceDelta[];
    neighbours: NeighbourState[];
  };
  trace: TraceSummary;
  /** Each captured hop's accounting, as tcpdump reports it (pcap_stats), plus what netscope itself dropped. */
  capture: CaptureAccounting[];
  warnings: string[];
  durationMs: number;
}

export interface CaptureAccounting {
  iface: string;
  captured: number;
  receivedByFilter: number | null;
  droppedByKernel: number | null;
  droppedByInterface: number | null;
  droppedByNetscope: number;
}
