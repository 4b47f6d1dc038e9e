/**
 * What the parent and a namespace agent say to each other. The agent gets one JSON argument (its job),
 * streams packets as a pcap stream on stdout, and writes status lines on stderr, each starting with
 * AGENT_LINE_PREFIX followed by one JSON AgentMessage (other stderr lines come from libpcap/ip and are
 * treated as plain text). On stdin the parent writes "go\n" (start streaming) and "stop\n"; EOF on stdin
 * also means stop — that is how an agent dies with its parent.
 */
import type { CapErrorKind } from './capHandle';

export const AGENT_LINE_PREFIX = '@netscope-agent ';

export interface CaptureJob {
  mode: 'capture';
  iface: string;
  filter: string;
  /** measureWallOffsetNs() of the parent, so every agent stamps on the same clock. */
  wallOffsetNs: string;
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
  /** Frames longer than cap's buffer (cut short). */
  truncated: number;
  /** rx_dropped of the interface since the agent started (/proc/net/dev in its namespace). */
  ifaceRxDropped: number;
  /** Packets the agent captured but dropped because the parent fell too far behind reading them. */
  agentDropped: number;
}

export type AgentMessage =
  | { type: 'ready'; linktype: number; snaplen: number }
  | { type: 'error'; kind: CapErrorKind | 'setup'; message: string }
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
