/**
 * What the dashboard's sources hand the model, as plain rows (converted from the engines' records by adapt.ts),
 * and what a pane gives the view back.
 */
import type { RuleDelta } from '../host/rules';

export type Severity = 'bad' | 'warn' | 'info';

export interface FlowBadge {
  text: string;
  severity: Severity;
}

/** One flow as the dashboard shows it (converted from the flow engine's snapshot). */
export interface FlowInfo {
  /** Stable identity across snapshots (selection follows it when rows re-sort). */
  key: string;
  /** tcp udp icmp icmp6 arp … */
  proto: string;
  /** Initiator and responder endpoints as printed, e.g. "10.244.1.2:40022". */
  a: string;
  b: string;
  packetsAB: number;
  packetsBA: number;
  bytesAB: number;
  bytesBA: number;
  /** Rate over the flow engine's last complete interval. */
  bytesPerSec: number;
  firstSec: number;
  lastSec: number;
  /** Protocol state in words ("established", "syn-sent", "reset", "echo", …), "" when none. */
  state: string;
  badges: FlowBadge[];
  ifaces: string[];
  /** Extra facts for the detail view ("rtt 0.1/0.2/0.4 ms", "vni 42"). */
  notes: string[];
}

/** A kernel FDB entry with what the host could resolve about the MAC. */
export interface FdbRow {
  mac: string;
  port: string;
  vlan?: number;
  flags: string[];
  /** Seconds since the bridge last saw the MAC as a source. */
  ageSec?: number;
  /** Namespace/pod label and the MAC's addresses there, when resolved. */
  pod?: string;
  ips: string[];
}

/** A MAC learned from captured frames (source addresses). */
export interface WireMac {
  mac: string;
  iface: string;
  vlan?: number;
  lastSec: number;
  ips: string[];
}

export interface MacMove {
  mac: string;
  from: string;
  to: string;
}

/** A rule counter row as the pane shows it: the rule reader's delta (src/host/rules.ts), backend as plain text. */
export interface RuleRow
  extends Pick<RuleDelta, 'key' | 'table' | 'chain' | 'position' | 'text' | 'target' | 'packets' | 'bytes' | 'dPackets' | 'dBytes' | 'pps' | 'hitDrop' | 'service'> {
  /** Where the rule lives: "iptables-nft", "iptables-legacy", "nft". */
  backend: string;
}

/** One capture interface's accounting, as tcpdump reports it at exit; a drop counter is undefined when unknown. */
export interface SourceStat {
  target: string;
  /** Captured (delivered to netscope). */
  packets: number;
  bytes: number;
  /** Dropped by the kernel: the capture buffer was full (pcap_stats ps_drop). */
  kernelDrops?: number;
  /** Dropped by the interface or its driver (pcap_stats ps_ifdrop, or the interface's rx_dropped growth). */
  ifDrops?: number;
  /** Captured but dropped by netscope's agent because the dashboard fell behind reading. */
  agentDrops?: number;
}

export interface TopologyLine {
  text: string;
  severity?: Severity;
}

export interface PaneText {
  label: string;
  lines: string[];
}

/**
 * Problems of one kind from a digest: how many, and the most significant few as one line each. The problem
 * kind is the analysis engine's (tcp-failed-connect, arp-unanswered, …); the pane writes its title.
 */
export interface ProblemGroup {
  kind: string;
  count: number;
  top: string[];
}
