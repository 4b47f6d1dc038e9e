/**
 * What a node's files say about pods when no runtime answers: the pod UID in a process's cgroup path and the
 * kubelet's log directory names (/var/log/pods/<namespace>_<name>_<uid>). Pure parsers.
 */

/** A UID in a cgroup path: dashed (cgroupfs), underscored (systemd slices), or a static pod's 32-hex hash. */
const POD_UID = /(?:^|[/-])pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32})(?:\.slice)?(?=\/|$)/i;

/**
 * The pod UID in the text of /proc/PID/cgroup, for either layout the kubelet makes:
 *   cgroup v1/v2 cgroupfs: …/kubepods/besteffort/pod0f1e…/<container>
 *   systemd:               …/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f1e_….slice/cri-containerd-….scope
 * Only paths under a "kubepods" cgroup count. undefined when the process is not in a pod.
 */
export function podUidFromCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    // "hierarchy-id:controllers:path" (v1) or "0::path" (v2)
    const colon = line.indexOf(':', line.indexOf(':') + 1);
    if (colon < 0) continue;
    const p = line.slice(colon + 1);
    if (!p.includes('kubepods')) continue;
    const m = POD_UID.exec(p);
    if (m) return m[1].replace(/_/g, '-').toLowerCase();
  }
  return undefined;
}

export interface KubeletPodDir {
  namespace: string;
  name: string;
  uid: string;
}

/** "<namespace>_<name>_<uid>" (names are DNS labels/subdomains: they hold no "_"). */
export function parseKubeletPodDir(dir: string): KubeletPodDir | undefined {
  const parts = dir.split('_');
  if (parts.length !== 3 || parts.some((p) => p === '')) return undefined;
  const [namespace, name, uid] = parts;
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(namespace) || !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(name)) return undefined;
  return { namespace, name, uid: uid.toLowerCase() };
}

/** The cgroup parent a kubelet gives a pod (cgroupfs driver), e.g. "/kubepods/besteffort/pod<uid>". */
export function kubeletCgroupParent(uid: string, qos: 'besteffort' | 'burstable' | 'guaranteed' = 'besteffort'): string {
  return qos === 'guaranteed' ? `/kubepods/pod${uid}` : `/kubepods/${qos}/pod${uid}`;
}
