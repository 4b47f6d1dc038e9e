/**
 * What the parent and a namespace agent say to each other. The agent gets one JSON argument (its job),
 * streams packets as a pcap stream on stdout, and writes status lines on stderr, each starting with
 * AGENT_LINE_PREFIX followed by one JSON AgentMessage (other stderr lines come from libpcap/ip and are
 * treated as plain text). On stdin the parent writes "go\n" (start streaming) and "stop\n"; EOF on stdin
 * also means stop — that is how an agent dies with its parent.
 */
import type { PcapErrorKind } from '../libpcap/handle';

export const AGENT_LINE_PREFIX = '@netscope-agent ';

export interface CaptureJob {
  mode: 'capture';
  iface: string;
  filter: string;
  /** Snapshot length (tcpdump -s); 0 or omitted = 262144. */
  snaplen?: number;
  /** Promiscuous mode (default on; tcpdump -p turns it off). */
  promisc?: boolean;
  /** libpcap immediate mode (TPACKET_V2: one ring slot per frame; lowest latency, smaller ring). */
  immediate?: boolean;
  /** Ring block timeout (ms): the longest a packet waits in a partly filled block. */
  timeoutMs: number;
  ringBytes: number;
  /** Seconds between stats messages. */
  statsIntervalMs: number;
}

export interface SendJob {
  mode: 'send';
  iface: string;
  file: string;
  /** Frames per second; 0 = not rate-limited by pps. */
  pps: number;
  /** Multiplier on the file's own timing; 0 = ignore file timing. */
  speed: number;
  /** Stop after this many frames (0 = no limit). */
  count: number;
  /** Times to go through the file (0 = until count is reached or stopped). */
  loops: number;
}

export type AgentJob = CaptureJob | SendJob;

export interface AgentCounters {
  packets: number;
  bytes: number;
  /** Records cut short by the snapshot length (caplen < original length). */
  truncated: number;
  /** rx_dropped of the interface since the agent started (/proc/net/dev in its namespace). */
  ifaceRxDropped: number;
  /** Packets the agent captured but dropped because the parent fell too far behind reading them. */
  agentDropped: number;
  /** pcap_stats since streaming began: packets received by the filter, dropped by the kernel (ring full), dropped by the interface. */
  kernelReceived: number;
  kernelDropped: number;
  kernelIfDropped: number;
}

export type AgentMessage =
  | { type: 'ready'; linktype: number; snaplen: number; nano: boolean; warning?: string }
  | { type: 'error'; kind: PcapErrorKind | 'setup'; message: string }
  /** The capture socket failed (interface deleted or down): libpcap's message; "done" follows. */
  | { type: 'lost'; message: string }
  | { type: 'warning'; message: string }
  | ({ type: 'stats' } & AgentCounters)
  | ({ type: 'done' } & AgentCounters)
  | { type: 'sent'; sent: number; failed: number; bytes: number; errors: string[]; elapsedMs: number; skipped: number };

export function encodeAgentMessage(m: AgentMessage): string {
  return `${AGENT_LINE_PREFIX}${JSON.stringify(m)}\n`;
}

/** Parses one stderr line: an AgentMessage, or null for plain text. */
export function decodeAgentLine(line: string): AgentMessage | null {
  if (!line.startsWith(AGENT_LINE_PREFIX)) return null;
  try {
    const m = JSON.parse(line.slice(AGENT_LINE_PREFIX.length)) as AgentMessage;
    return typeof m === 'object' && m !== null && typeof m.type === 'string' ? m : null;
  } catch {
    return null;
  }
}
