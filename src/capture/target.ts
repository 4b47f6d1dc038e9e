/**
 * Capture targets: "IFACE" (this namespace), "IFACE@NETNS" (a named namespace in /run/netns) or
 * "IFACE@pid:1234" (the namespace of a process). Parsing is pure; the existence checks ask the kernel.
 */
import fs from 'fs';
import { isValidIfName, isValidNetnsName, runJson } from '../host/run';

export interface CaptureTarget {
  iface: string;
  /** Named namespace, or "pid:1234"; undefined = the namespace netscope runs in. */
  netns?: string;
}

/** A user mistake in a target (unknown interface/namespace, bad name): the CLI exits 2 with the message. */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

/** Parses "veth1", "cni0@node1", "eth0@pid:1234"; throws TargetError with the accepted forms. */
export function parseTarget(spec: string): CaptureTarget {
  const at = spec.indexOf('@');
  const iface = at < 0 ? spec : spec.slice(0, at);
  const netns = at < 0 ? undefined : spec.slice(at + 1);
  if (!isValidIfName(iface)) {
    throw new TargetError(`"${spec}": interface name "${iface}" is not valid (1-15 of A-Z a-z 0-9 _ . -); use IFACE, IFACE@NETNS or IFACE@pid:PID`);
  }
  if (netns !== undefined) {
    if (/^pid:\d+$/.test(netns)) return { iface, netns };
    if (!isValidNetnsName(netns)) {
      throw new TargetError(`"${spec}": namespace "${netns}" is not valid; use a name from "ip netns list" or pid:PID`);
    }
    return { iface, netns };
  }
  return { iface };
}

/** The name records carry: "NETNS/IFACE", or "IFACE" in netscope's own namespace. */
export function targetLabel(t: CaptureTarget): string {
  return t.netns === undefined ? t.iface : `${t.netns}/${t.iface}`;
}

/** The spelling the user typed ("IFACE@NETNS"), for messages. */
export function targetSpec(t: CaptureTarget): string {
  return t.netns === undefined ? t.iface : `${t.iface}@${t.netns}`;
}

/** Named namespaces as `ip netns list` knows them (/run/netns). */
export function listNamedNetns(): string[] {
  try {
    return fs.readdirSync('/run/netns').sort();
  } catch {
    return [];
  }
}

/** Throws TargetError when the target's namespace does not exist, listing those that do. */
export function checkNetnsExists(t: CaptureTarget): void {
  if (t.netns === undefined) return;
  const pid = /^pid:(\d+)$/.exec(t.netns);
  if (pid) {
    if (!fs.existsSync(`/proc/${pid[1]}/ns/net`)) {
      throw new TargetError(`"${targetSpec(t)}": no process ${pid[1]} (or its namespace is not visible); check the pid`);
    }
    return;
  }
  if (!fs.existsSync(`/run/netns/${t.netns}`)) {
    const names = listNamedNetns();
    throw new TargetError(
      `"${targetSpec(t)}": no network namespace "${t.netns}"; ` +
        (names.length ? `existing: ${names.join(', ')}` : 'there are no named namespaces (ip netns list is empty)'),
    );
  }
}

/** Interface names in the target's namespace (`ip -j link show`). */
export async function listInterfaces(netns: string | undefined): Promise<string[]> {
  const links = await runJson<Array<{ ifname?: string }>>(['ip', '-j', 'link', 'show'], { netns });
  return links.map((l) => l.ifname ?? '').filter((n) => n !== '').sort();
}

/** Throws TargetError when the namespace or the interface does not exist, listing what exists. */
export async function checkTargetExists(t: CaptureTarget): Promise<void> {
  checkNetnsExists(t);
  const names = await listInterfaces(t.netns);
  if (!names.includes(t.iface)) {
    const where = t.netns === undefined ? 'this namespace' : `namespace ${t.netns}`;
    throw new TargetError(`"${targetSpec(t)}": no interface "${t.iface}" in ${where}; existing: ${names.join(', ') || 'none'}`);
  }
}
