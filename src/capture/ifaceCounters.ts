/**
 * Interface counters from /proc/net/dev. /proc/net follows the network namespace of the reading process
 * (unlike /sys, which shows the namespace that mounted it), so an agent started with nsenter reads its own.
 * These are the losses netscope can see; libpcap's ring drops are not exposed by cap.
 */
import fs from 'fs';

export interface IfaceCounters {
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txPackets: number;
  txDropped: number;
}

/** Parses /proc/net/dev text into name → counters. */
export function parseProcNetDev(text: string): Map<string, IfaceCounters> {
  const out = new Map<string, IfaceCounters>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (name === '' || f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.set(name, { rxBytes: f[0], rxPackets: f[1], rxErrors: f[2], rxDropped: f[3], txPackets: f[9], txDropped: f[11] });
  }
  return out;
}

/** Counters of every interface in this process's namespace (empty map when /proc is unreadable). */
export function readIfaceCounters(): Map<string, IfaceCounters> {
  try {
    return parseProcNetDev(fs.readFileSync('/proc/net/dev', 'utf8'));
  } catch {
    return new Map();
  }
}
