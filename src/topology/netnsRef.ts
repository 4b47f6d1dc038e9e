/**
 * Namespace arguments of commands that do not discover the whole machine (capture, rules, fdb, watch): a name
 * in /run/netns or pid:PID is taken as is; anything else (a pod: "POD", "NS/POD", "pod:NS/POD") is looked up
 * among the machine's namespaces with their pods — the same matching as findNetns (matchNetns).
 */
import fs from 'fs';
import { isExplicitPodRef, matchesSelector, parseSelector } from '../k8s/podRef';
import { isValidNetnsName } from '../host/run';
import { listNamespaces, lookupNetns, NetnsRefError, type NetnsInfo } from './discover';

export { NetnsRefError };

/** What a resolved reference names: the id commands run in (a /run/netns name, "pid:N", "" = own) and a label. */
export interface ResolvedNetns {
  id: string;
  label: string;
  pod?: NetnsInfo['pod'];
}

/**
 * Resolves a namespace argument; NetnsRefError (exit 2, candidates listed) when ambiguous, or unknown and written
 * as a pod (NS/POD, pod:…). A plain name that matches nothing is returned as is, so the command reports a
 * missing namespace its usual way.
 */
export async function resolveNetnsRef(ref: string): Promise<ResolvedNetns> {
  if (/^pid:\d+$/.test(ref)) return { id: ref, label: ref };
  if (isValidNetnsName(ref) && fs.existsSync(`/run/netns/${ref}`)) return { id: ref, label: ref };
  let ns: NetnsInfo;
  try {
    ns = lookupNetns(await listNamespaces(), ref);
  } catch (e) {
    if (e instanceof NetnsRefError && e.kind === 'unknown' && !isExplicitPodRef(ref) && isValidNetnsName(ref)) return { id: ref, label: ref };
    throw e;
  }
  return ns.pod ? { id: ns.id, label: ns.label, pod: ns.pod } : { id: ns.id, label: ns.id === '' ? 'host' : ns.label };
}

/** Every pod namespace whose labels match `selector` ("app=web,tier!=db"); NetnsRefError when none does. */
export async function selectPodNamespaces(selector: string): Promise<ResolvedNetns[]> {
  let terms;
  try {
    terms = parseSelector(selector);
  } catch (e) {
    throw new NetnsRefError((e as Error).message, []);
  }
  const all = await listNamespaces();
  const pods = all.filter((n) => n.pod !== undefined);
  const hits = pods.filter((n) => matchesSelector(n.pod?.labels ?? {}, terms)).sort((a, b) => a.label.localeCompare(b.label));
  if (hits.length === 0) {
    const cands = pods.map((n) => `${n.label} {${Object.entries(n.pod?.labels ?? {}).filter(([k]) => !k.startsWith('io.kubernetes.')).map(([k, v]) => `${k}=${v}`).join(',')}}`);
    throw new NetnsRefError(`--selector ${selector}: no pod matches (${cands.length ? `pods: ${cands.slice(0, 12).join(', ')}` : 'no pods found: is the container runtime reachable? (--runtime-endpoint)'})`, cands);
  }
  return hits.map((n) => ({ id: n.id, label: n.label, pod: n.pod }));
}
