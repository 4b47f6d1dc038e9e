/**
 * Live values for completion, from the same discovery the commands use: namespaces (topology/discover.ts),
 * interfaces and bridges (`ip -j link` per namespace, host/iproute.ts), firewall chains (host/rules.ts), files
 * by extension. Every lookup is best effort: a failure completes nothing rather than printing an error into
 * the user's command line.
 */
import { promises as fsp } from 'fs';
import path from 'path';
import { linkKind, readLinks } from '../../host/iproute';
import { closeSharedPodResolver, podLabel, sharedPodResolver } from '../../k8s/pods';
import { listNamespaces } from '../../topology/discover';
import type { CompletionRequest, ValueKind } from './analyse';

/** Pod names for completion (NAMESPACE/POD), from the container runtime or the kubelet's files; none on failure. */
export async function podNames(): Promise<string[]> {
  try {
    const table = await sharedPodResolver().resolve();
    return table.pods.map(podLabel);
  } catch {
    return [];
  } finally {
    closeSharedPodResolver();
  }
}

/** Named namespaces and process-held ones (pid:PID); netscope's own is the bare form (no @). */
async function namespaceIds(): Promise<string[]> {
  const all = await listNamespaces();
  return all.map((n) => n.id).filter((id) => id !== '');
}

/** IFACE (this namespace) and IFACE@NETNS; with "@" typed, only the namespaces matching what follows it. */
async function links(prefix: string, onlyBridges: boolean): Promise<string[]> {
  const at = prefix.indexOf('@');
  const nsPart = at < 0 ? undefined : prefix.slice(at + 1);
  const ids = await namespaceIds();
  // Without "@", process-held namespaces (pid:…) would flood the list: they are offered once "@pid:" is typed.
  const wanted = nsPart === undefined ? ids.filter((id) => !id.startsWith('pid:')) : ids.filter((id) => id.startsWith(nsPart));
  const targets: (string | undefined)[] = nsPart === undefined ? [undefined, ...wanted] : wanted;
  const lists = await Promise.all(
    targets.map(async (ns) => {
      try {
        const ls = await readLinks(ns);
        return ls.filter((l) => !onlyBridges || linkKind(l) === 'bridge').map((l) => (ns === undefined ? l.ifname : `${l.ifname}@${ns}`));
      } catch {
        return [];
      }
    }),
  );
  return lists.flat();
}

async function chains(given: Record<string, string>): Promise<string[]> {
  const { readRules } = await import('../../host/rules');
  const snap = await readRules({ netns: given.netns });
  const set = new Set<string>();
  for (const r of snap.rules) if (given.table === undefined || r.table === given.table) set.add(r.chain);
  return [...set].sort();
}

const EXTENSIONS: Partial<Record<ValueKind, RegExp>> = {
  'topology-file': /\.(ya?ml|json)$/i,
  'capture-file': /\.(pcap|pcapng|cap|dmp)$/i,
};

/** Files under the directory `prefix` names whose names fit `kind`, and directories (ending in "/"). */
async function files(prefix: string, kind: ValueKind): Promise<string[]> {
  const slash = prefix.lastIndexOf('/');
  const dir = slash < 0 ? '' : prefix.slice(0, slash + 1);
  let entries: import('fs').Dirent[];
  try {
    entries = await fsp.readdir(dir === '' ? '.' : dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const re = EXTENSIONS[kind];
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.') && !prefix.slice(slash + 1).startsWith('.')) continue;
    let isDir = e.isDirectory();
    if (e.isSymbolicLink()) isDir = await fsp.stat(path.join(dir || '.', e.name)).then((s) => s.isDirectory(), () => false);
    if (isDir) out.push(`${dir}${e.name}/`);
    else if (re === undefined || re.test(e.name)) out.push(`${dir}${e.name}`);
  }
  return out.sort();
}

/** pcap-filter words (the filter positional of read/capture/watch). */
const FILTER_WORDS = ['host', 'net', 'port', 'portrange', 'src', 'dst', 'tcp', 'udp', 'icmp', 'icmp6', 'arp', 'ip', 'ip6', 'vlan', 'vxlan', 'ether', 'and', 'or', 'not'];

/** The live values of a request's kind (not yet filtered by its prefix). */
export async function lookUp(req: CompletionRequest): Promise<string[]> {
  switch (req.kind) {
    case 'netns':
      return namespaceIds();
    case 'interface':
      return links(req.prefix, false);
    case 'bridge':
      return links(req.prefix, true);
    case 'bridge-name':
      return [...new Set((await links(req.prefix.includes('@') ? req.prefix : '', true)).map((b) => b.split('@')[0]))];
    case 'chain':
      return chains(req.given);
    case 'endpoint':
      return [...(await namespaceIds()).filter((id) => !id.startsWith('pid:')), ...(await podNames())];
    case 'topology-file':
    case 'capture-file':
    case 'file':
      return files(req.prefix, req.kind);
    case 'filter':
      return FILTER_WORDS;
    case 'none':
      return [];
  }
}

/** Everything to offer: static words and live values, those starting with the prefix, `lead` prepended. */
export async function candidates(req: CompletionRequest): Promise<string[]> {
  let live: string[] = [];
  try {
    live = await lookUp(req);
  } catch {
    live = [];
  }
  const all = [...new Set([...req.words, ...live])].filter((w) => w.startsWith(req.prefix));
  return all.map((w) => req.lead + w);
}
