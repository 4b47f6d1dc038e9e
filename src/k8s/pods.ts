/**
 * Pod identity: network namespace (by inode) → pod namespace/name, uid, IPs, labels, containers. Asked of the
 * container runtime over CRI (ListPodSandbox + verbose PodSandboxStatus for the netns path and pid); when no
 * runtime answers, the cgroup path of a process in each namespace (…pod<UID>…) joined with the kubelet's
 * /var/log/pods/<namespace>_<name>_<uid> directories. Sandbox details and per-process cgroup reads are cached,
 * so a warm resolution costs one list call (or one /proc scan). A runtime that fails is reported once.
 */
import { promises as fsp } from 'fs';
import path from 'path';
import { CriClient, CriError, type CriContainer, type CriPodSandbox, type CriPodSandboxStatusResponse } from './cri';
import { parseKubeletPodDir, podUidFromCgroup, type KubeletPodDir } from './kubelet';

export interface PodContainer {
  id: string;
  name: string;
  state: string;
  image: string;
}

export interface PodInfo {
  namespace: string;
  name: string;
  uid: string;
  /** Pod IPs the runtime reports (empty from the kubelet fallback: discovery adds the interface's). */
  ips: string[];
  labels: Record<string, string>;
  containers: PodContainer[];
  netnsInode: number;
  /** The namespace's bind mount (/run/netns/cni-…), when the runtime reports one. */
  netnsPath?: string;
  /** A process in the namespace (the sandbox's pause process). */
  pid?: number;
  sandboxId?: string;
  source: 'cri' | 'kubelet';
  /** The node-side end of the pod's veth (filled by discovery, which sees both ends). */
  nodeVeth?: { netns: string; ifname: string };
}

export interface PodTable {
  pods: PodInfo[];
  byInode: Map<number, PodInfo>;
  /** Where the answer came from: the CRI endpoint, "kubelet" (cgroup + /var/log/pods), or "none". */
  source: string;
}

export interface PodResolverOptions {
  /** CRI endpoint ("unix:///run/containerd/containerd.sock"); default: env, then the usual sockets. */
  endpoint?: string;
  /** Root of /proc (tests use a made-up tree). */
  procRoot?: string;
  /** The kubelet's pod log directory. */
  podLogDir?: string;
  /** Deadline of each runtime call. */
  timeoutMs?: number;
  /** Where "runtime did not answer" goes (once per endpoint and problem). Default: stderr. */
  onWarning?: (message: string) => void;
}

/** Sockets tried when neither --runtime-endpoint nor an environment variable names one. */
export const DEFAULT_RUNTIME_ENDPOINTS = [
  'unix:///run/containerd/containerd.sock',
  'unix:///var/run/crio/crio.sock',
  'unix:///var/run/cri-dockerd.sock',
];

/** --runtime-endpoint (copied here by the CLI), then the variable crictl uses. */
export function configuredEndpoint(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.NETSCOPE_RUNTIME_ENDPOINT || env.CONTAINER_RUNTIME_ENDPOINT || undefined;
}

/** Deadline of each runtime call: 1 s, or NETSCOPE_RUNTIME_TIMEOUT_MS (a slow or very loaded node). */
export function configuredTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.NETSCOPE_RUNTIME_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : 1000;
}

function socketPath(endpoint: string): string | undefined {
  if (endpoint.startsWith('unix://')) return endpoint.slice('unix://'.length);
  if (endpoint.startsWith('/')) return endpoint;
  return undefined;
}

async function isSocket(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isSocket();
  } catch {
    return false;
  }
}

/** How long a runtime that failed is left alone before it is asked again. */
const RETRY_FAILED_MS = 30_000;

interface SandboxDetail {
  netnsInode: number;
  netnsPath?: string;
  pid?: number;
  ips: string[];
}

interface ProcEntry {
  inode: number;
  uid: string | undefined;
}

/** The pid and network namespace path in a verbose PodSandboxStatus (containerd and CRI-O put both in "info"). */
export function sandboxInfo(res: CriPodSandboxStatusResponse): { pid?: number; netnsPath?: string } {
  const raw = res.info?.info;
  if (!raw) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    return {};
  }
  const d = doc as { pid?: unknown; runtimeSpec?: { linux?: { namespaces?: { type?: string; path?: string }[] } } };
  const out: { pid?: number; netnsPath?: string } = {};
  if (typeof d.pid === 'number' && d.pid > 0) out.pid = d.pid;
  const net = d.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network');
  if (net?.path) out.netnsPath = net.path;
  return out;
}

export class PodResolver {
  private readonly procRoot: string;
  private readonly podLogDir: string;
  private readonly timeoutMs: number;
  private readonly onWarning: (message: string) => void;
  private readonly clients = new Map<string, CriClient>();
  private readonly sandboxes = new Map<string, SandboxDetail>();
  private readonly procs = new Map<number, ProcEntry>();
  private readonly reported = new Set<string>();
  /** Endpoint → when it failed: a dead runtime is not waited for again on every poll of a dashboard. */
  private readonly failedAt = new Map<string, number>();

  constructor(private readonly opts: PodResolverOptions = {}) {
    this.procRoot = opts.procRoot ?? '/proc';
    this.podLogDir = opts.podLogDir ?? '/var/log/pods';
    this.timeoutMs = opts.timeoutMs ?? configuredTimeoutMs();
    this.onWarning = opts.onWarning ?? ((m) => process.stderr.write(`netscope: warning: ${m}\n`));
  }

  private warnOnce(key: string, message: string): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.onWarning(message);
  }

  /** Endpoints to ask, in order: the configured one (even if absent: the user named it), else existing defaults. */
  private async endpoints(): Promise<string[]> {
    const named = this.opts.endpoint ?? configuredEndpoint();
    if (named) return [named];
    const found: string[] = [];
    for (const e of DEFAULT_RUNTIME_ENDPOINTS) {
      const p = socketPath(e);
      if (p !== undefined && (await isSocket(p))) found.push(e);
    }
    return found;
  }

  private client(endpoint: string): CriClient {
    let c = this.clients.get(endpoint);
    if (!c) {
      c = new CriClient(endpoint, this.timeoutMs);
      this.clients.set(endpoint, c);
    }
    return c;
  }

  /** Every pod on this node whose network namespace can be found. Never throws for a missing runtime. */
  async resolve(): Promise<PodTable> {
    for (const endpoint of await this.endpoints()) {
      const failed = this.failedAt.get(endpoint);
      if (failed !== undefined && Date.now() - failed < RETRY_FAILED_MS) continue;
      try {
        const t = await this.fromRuntime(endpoint);
        this.failedAt.delete(endpoint);
        return t;
      } catch (e) {
        this.failedAt.set(endpoint, Date.now());
        const why = e instanceof CriError ? e.message : `container runtime ${endpoint}: ${e instanceof Error ? e.message : String(e)}`;
        this.warnOnce(`${endpoint}:${e instanceof CriError ? e.code : 'x'}`, `${why}; pod names from the kubelet's files instead (--runtime-endpoint to name another)`);
      }
    }
    return this.fromKubeletFiles();
  }

  private async fromRuntime(endpoint: string): Promise<PodTable> {
    const c = this.client(endpoint);
    const [sandboxes, containers] = await Promise.all([
      c.listPodSandbox(),
      // An old or partial runtime without ListContainers still names pods.
      c.listContainers().catch((): CriContainer[] => []),
    ]);
    const ready = sandboxes.filter((s) => s.state === 'SANDBOX_READY');
    const live = new Set(ready.map((s) => s.id));
    for (const id of this.sandboxes.keys()) if (!live.has(id)) this.sandboxes.delete(id);
    const details = await Promise.all(ready.map((s) => this.sandboxDetail(c, s)));
    const byPod = new Map<string, PodContainer[]>();
    for (const ct of containers) {
      const list = byPod.get(ct.pod_sandbox_id) ?? [];
      list.push({ id: ct.id, name: ct.metadata?.name ?? '', state: ct.state.replace(/^CONTAINER_/, '').toLowerCase(), image: ct.image?.image ?? '' });
      byPod.set(ct.pod_sandbox_id, list);
    }
    const pods: PodInfo[] = [];
    ready.forEach((s, i) => {
      const d = details[i];
      if (!d) return;
      const pod: PodInfo = {
        namespace: s.metadata?.namespace ?? '',
        name: s.metadata?.name ?? '',
        uid: s.metadata?.uid ?? '',
        ips: d.ips,
        labels: s.labels ?? {},
        containers: byPod.get(s.id) ?? [],
        netnsInode: d.netnsInode,
        sandboxId: s.id,
        source: 'cri',
      };
      if (d.netnsPath !== undefined) pod.netnsPath = d.netnsPath;
      if (d.pid !== undefined) pod.pid = d.pid;
      pods.push(pod);
    });
    return table(pods, endpoint);
  }

  /** Status of a sandbox not seen before (cached: its namespace and IPs do not change while it is ready). */
  private async sandboxDetail(c: CriClient, s: CriPodSandbox): Promise<SandboxDetail | undefined> {
    const cached = this.sandboxes.get(s.id);
    if (cached) return cached;
    let res: CriPodSandboxStatusResponse;
    try {
      res = await c.podSandboxStatus(s.id, true);
    } catch (e) {
      // Removed between list and status: not a runtime failure.
      if (e instanceof CriError && e.code === 5) return undefined;
      throw e;
    }
    const info = sandboxInfo(res);
    const ino = await this.netnsInode(info.netnsPath, info.pid);
    // Host-network pods share the node's namespace: they are not a pod namespace to name.
    if (ino === undefined) return undefined;
    const net = res.status?.network;
    const ips = net ? [net.ip, ...(net.additional_ips ?? []).map((a) => a.ip)].filter((ip) => ip !== '') : [];
    const d: SandboxDetail = { netnsInode: ino, ips };
    if (info.netnsPath !== undefined) d.netnsPath = info.netnsPath;
    if (info.pid !== undefined) d.pid = info.pid;
    this.sandboxes.set(s.id, d);
    return d;
  }

  private async netnsInode(netnsPath: string | undefined, pid: number | undefined): Promise<number | undefined> {
    if (netnsPath) {
      try {
        return (await fsp.stat(netnsPath)).ino;
      } catch {
        /* fall through to the pid */
      }
    }
    if (pid !== undefined) {
      try {
        return (await fsp.stat(path.join(this.procRoot, String(pid), 'ns', 'net'))).ino;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  /** cgroup …pod<UID>… of one process per network namespace, joined with /var/log/pods/<ns>_<name>_<uid>. */
  private async fromKubeletFiles(): Promise<PodTable> {
    let dirs: string[];
    try {
      dirs = await fsp.readdir(this.podLogDir);
    } catch {
      return table([], 'none');
    }
    const byUid = new Map<string, KubeletPodDir>();
    for (const d of dirs) {
      const p = parseKubeletPodDir(d);
      if (p) byUid.set(p.uid, p);
    }
    if (byUid.size === 0) return table([], 'none');
    const entries = await fsp.readdir(this.procRoot).catch((): string[] => []);
    const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number).sort((a, b) => a - b);
    const links = await Promise.all(pids.map((pid) => fsp.readlink(path.join(this.procRoot, String(pid), 'ns', 'net')).catch(() => '')));
    const selfLink = await fsp.readlink('/proc/self/ns/net').catch(() => '');
    const firstPid = new Map<number, number>();
    const alive = new Set<number>();
    for (let i = 0; i < pids.length; i++) {
      if (links[i] === '' || links[i] === selfLink) continue;
      const m = /^net:\[(\d+)\]$/.exec(links[i]);
      if (!m) continue;
      const ino = Number(m[1]);
      alive.add(pids[i]);
      const cached = this.procs.get(pids[i]);
      // A pid reused by a process in another namespace is read again.
      if (cached && cached.inode !== ino) this.procs.delete(pids[i]);
      if (!firstPid.has(ino)) firstPid.set(ino, pids[i]);
    }
    for (const pid of this.procs.keys()) if (!alive.has(pid)) this.procs.delete(pid);
    const found = await Promise.all(
      [...firstPid.entries()].map(async ([ino, pid]) => {
        let e = this.procs.get(pid);
        if (!e) {
          const text = await fsp.readFile(path.join(this.procRoot, String(pid), 'cgroup'), 'utf8').catch(() => '');
          e = { inode: ino, uid: podUidFromCgroup(text) };
          this.procs.set(pid, e);
        }
        return { ino, pid, uid: e.uid };
      }),
    );
    const pods: PodInfo[] = [];
    for (const f of found) {
      const dir = f.uid !== undefined ? byUid.get(f.uid) : undefined;
      if (!dir) continue;
      pods.push({ namespace: dir.namespace, name: dir.name, uid: dir.uid, ips: [], labels: {}, containers: [], netnsInode: f.ino, pid: f.pid, source: 'kubelet' });
    }
    return table(pods, 'kubelet');
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

function table(pods: PodInfo[], source: string): PodTable {
  pods.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  const byInode = new Map<number, PodInfo>();
  for (const p of pods) byInode.set(p.netnsInode, p);
  return { pods, byInode, source };
}

let shared: PodResolver | null = null;

/** The process-wide resolver (one connection per runtime, one cache) that discovery uses. */
export function sharedPodResolver(): PodResolver {
  if (shared === null) shared = new PodResolver();
  return shared;
}

/** Closes the shared resolver's runtime connections (a CLI command that is done). */
export function closeSharedPodResolver(): void {
  shared?.close();
  shared = null;
}

/** "namespace/name" */
export function podLabel(p: Pick<PodInfo, 'namespace' | 'name'>): string {
  return `${p.namespace}/${p.name}`;
}
