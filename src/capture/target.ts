/**
 * Capture targets: "IFACE" (this namespace), "IFACE@NETNS" (a named namespace in /run/netns),
 * "IFACE@pid:1234" (the namespace of a process), or a Kubernetes pod: "IFACE@POD", "IFACE@NS/POD",
 * "IFACE@pod:NS/POD", and "NS/POD" / "pod:NS/POD" alone for the pod's eth0. Parsing is pure; pods are resolved
 * by resolveTargets (the runtime, topology/netnsRef); the existence checks ask the kernel.
 */
import fs from 'fs';
import { isValidIfName, isValidNetnsName, runJson } from '../host/run';
import { isExplicitPodRef, parsePodRef } from '../k8s/podRef';
import { resolveNetnsRef, selectPodNamespaces, NetnsRefError, type ResolvedNetns } from '../topology/netnsRef';

export interface CaptureTarget {
  iface: string;
  /** Named namespace, or "pid:1234"; undefined = the namespace netscope runs in. */
  netns?: string;
  /** What the user wrote for the namespace when it may name a pod (resolved into netns by resolveTargets). */
  ref?: string;
  /** The pod ("namespace/name") the namespace belongs to: records and pcapng interfaces are named after it. */
  pod?: string;
}

/** A user mistake in a target (unknown interface/namespace, bad name): the CLI exits 2 with the message. */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

/** Parses "veth1", "cni0@node1", "eth0@pid:1234", "eth0@default/web-0", "default/web-0"; throws TargetError. */
export function parseTarget(spec: string): CaptureTarget {
  if (!spec.includes('@') && isExplicitPodRef(spec)) {
    if (!parsePodRef(spec)) throw new TargetError(`"${spec}": not a pod reference; use NAMESPACE/POD, pod:NAMESPACE/POD or IFACE@NAMESPACE/POD`);
    return { iface: 'eth0', ref: spec };
  }
  const at = spec.indexOf('@');
  const iface = at < 0 ? spec : spec.slice(0, at);
  const netns = at < 0 ? undefined : spec.slice(at + 1);
  if (!isValidIfName(iface)) {
    throw new TargetError(`"${spec}": interface name "${iface}" is not valid (1-15 of A-Z a-z 0-9 _ . -); use IFACE, IFACE@NETNS or IFACE@pid:PID`);
  }
  if (netns !== undefined) {
    if (/^pid:\d+$/.test(netns)) return { iface, netns };
    if (isExplicitPodRef(netns)) {
      if (!parsePodRef(netns)) throw new TargetError(`"${spec}": "${netns}" is not a pod reference; use IFACE@NAMESPACE/POD or IFACE@pod:NAMESPACE/POD`);
      return { iface, ref: netns };
    }
    if (!isValidNetnsName(netns)) {
      throw new TargetError(`"${spec}": namespace "${netns}" is not valid; use a name from "ip netns list", pid:PID or a pod (NAMESPACE/POD)`);
    }
    // A plain name may still be a pod's: resolveTargets looks it up when /run/netns has no such namespace.
    return { iface, netns };
  }
  return { iface };
}

function applyResolved(t: CaptureTarget, r: ResolvedNetns): CaptureTarget {
  const out: CaptureTarget = { iface: t.iface, netns: r.id === '' ? undefined : r.id };
  if (r.pod) out.pod = r.label;
  return out;
}

/**
 * Resolves pod references in targets to their network namespaces (one discovery of namespaces and pods for
 * all of them). Throws TargetError (usage: unknown or ambiguous, candidates listed).
 */
export async function resolveTargets(targets: CaptureTarget[]): Promise<CaptureTarget[]> {
  const out: CaptureTarget[] = [];
  for (const t of targets) {
    const ref = t.ref ?? (t.netns !== undefined && !/^pid:\d+$/.test(t.netns) && !fs.existsSync(`/run/netns/${t.netns}`) ? t.netns : undefined);
    if (ref === undefined) {
      out.push(t);
      continue;
    }
    try {
      out.push(applyResolved(t, await resolveNetnsRef(ref)));
    } catch (e) {
      if (e instanceof NetnsRefError) throw new TargetError(`-i ${t.iface}@${ref}: ${e.message}`);
      throw e;
    }
  }
  return out;
}

/** IFACE in every pod whose labels match `selector`. Throws TargetError when none does. */
export async function selectorTargets(selector: string, iface = 'eth0'): Promise<CaptureTarget[]> {
  try {
    return (await selectPodNamespaces(selector)).map((r) => applyResolved({ iface }, r));
  } catch (e) {
    if (e instanceof NetnsRefError) throw new TargetError(e.message);
    throw e;
  }
}

/** The name records carry: "NETNS/IFACE" ("namespace/pod/IFACE" for a pod), or "IFACE" in netscope's own namespace. */
export function targetLabel(t: CaptureTarget): string {
  if (t.pod !== undefined) return `${t.pod}/${t.iface}`;
  return t.netns === undefined ? t.iface : `${t.netns}/${t.iface}`;
}

/** The spelling the user typed ("IFACE@NETNS", "IFACE@namespace/pod"), for messages. */
export function targetSpec(t: CaptureTarget): string {
  if (t.pod !== undefined) return `${t.iface}@${t.pod}`;
  const ns = t.netns ?? t.ref;
  return ns === undefined ? t.iface : `${t.iface}@${ns}`;
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
