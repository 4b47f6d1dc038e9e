/**
 * A Kubernetes-like node for demos and tests, with no kubelet and no registry: containerd (its own root,
 * state, socket and config under one directory) started inside a "node" network namespace with
 * `nsenter --net=` (so the pod namespaces it bind-mounts under /run/netns stay visible from the host), the CNI
 * `bridge` + `host-local` plugins (cni0 and one veth pair per pod, inside the node namespace only), a locally
 * built pause image, and pods created over CRI RunPodSandbox with the labels and cgroup parent a kubelet sets.
 * `destroy()` removes everything, also after a failed start: pods, containerd and its shims, mounts, cgroups,
 * the node namespace and the directory.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'child_process';
import { createHash, randomUUID } from 'crypto';
import fs from 'fs';
import path from 'path';
import { promisify } from 'util';
import { CriClient } from './cri';
import { kubeletCgroupParent } from './kubelet';
import { buildPauseImage, PAUSE_IMAGE_NAME } from './pauseImage';

const execFileP = promisify(execFile);

export interface LabNodeOptions {
  /** Name of the node network namespace (created; must not exist). */
  netns: string;
  /** Directory for containerd's root/state/socket/config (created; removed by destroy). */
  dir: string;
  /** Pod subnet, e.g. "10.244.50.0/24"; cni0 gets its first address. */
  subnet: string;
  /** CNI network name (unique per node on this machine: host-local and libcni key their files by it). */
  network?: string;
  /** Where kubelet-style log directories (<ns>_<name>_<uid>) are made; default `<dir>/pods`. */
  podLogDir?: string;
  /** Bounds containerd's start (ms). */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface LabPodSpec {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
}

export interface LabPod {
  namespace: string;
  name: string;
  uid: string;
  sandboxId: string;
  ip: string;
  netnsPath: string;
  pid: number;
}

/** What a machine needs for a lab node; each missing piece as "thing (how to get it)". */
export function labNodePrerequisites(): string[] {
  const missing: string[] = [];
  const onPath = (bin: string): boolean => (process.env.PATH ?? '/usr/sbin:/usr/bin').split(':').some((d) => d !== '' && fs.existsSync(path.join(d, bin)));
  for (const [bin, pkg] of [['containerd', 'containerd'], ['ctr', 'containerd'], ['runc', 'runc'], ['containerd-shim-runc-v2', 'containerd'], ['nsenter', 'util-linux'], ['ip', 'iproute2'], ['gcc', 'gcc'], ['tar', 'tar']]) {
    if (!onPath(bin)) missing.push(`${bin} (apt-get install ${pkg})`);
  }
  for (const plugin of ['bridge', 'host-local', 'loopback']) {
    if (!fs.existsSync(`/usr/lib/cni/${plugin}`)) missing.push(`/usr/lib/cni/${plugin} (apt-get install containernetworking-plugins)`);
  }
  if (!fs.existsSync('/usr/lib/x86_64-linux-gnu/libc.a') && !fs.existsSync('/usr/lib/aarch64-linux-gnu/libc.a') && !fs.existsSync('/usr/lib/libc.a')) {
    missing.push('a static libc for gcc -static (apt-get install libc6-dev)');
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) missing.push('root');
  return missing;
}

function cidrGateway(subnet: string): string {
  const [net] = subnet.split('/');
  const o = net.split('.').map(Number);
  return `${o[0]}.${o[1]}.${o[2]}.${o[3] + 1}`;
}

export class LabNode {
  readonly socket: string;
  readonly endpoint: string;
  readonly podLogDir: string;
  readonly network: string;
  readonly pods: LabPod[] = [];
  private daemon: ChildProcess | null = null;
  private daemonExit: Promise<void> = Promise.resolve();
  private cri: CriClient | null = null;
  private readonly log: (line: string) => void;
  /** Everything created, so destroy() also cleans up after a start that failed halfway. */
  private readonly netnsPaths = new Set<string>();
  private readonly uids = new Set<string>();
  private readonly sandboxIds = new Set<string>();
  /** Shared directories containerd/libcni create if missing (removed again when empty and made by us). */
  private readonly madeShared: string[] = [];

  private constructor(private readonly opts: LabNodeOptions) {
    this.socket = path.join(opts.dir, 'containerd.sock');
    this.endpoint = `unix://${this.socket}`;
    this.podLogDir = opts.podLogDir ?? path.join(opts.dir, 'pods');
    this.network = opts.network ?? opts.netns;
    this.log = opts.log ?? (() => undefined);
  }

  /** Creates the node namespace, writes configs, imports the pause image and starts containerd. */
  static async start(opts: LabNodeOptions): Promise<LabNode> {
    const node = new LabNode(opts);
    try {
      await node.boot();
    } catch (e) {
      await node.destroy();
      throw e;
    }
    return node;
  }

  get client(): CriClient {
    if (this.cri === null) throw new Error('lab node is not running');
    return this.cri;
  }

  private async boot(): Promise<void> {
    const { dir, netns } = this.opts;
    const image = await buildPauseImage();
    for (const d of ['/run/containerd', '/var/lib/cni']) if (!fs.existsSync(d)) this.madeShared.push(d);
    fs.mkdirSync(dir, { recursive: true });
    for (const d of ['root', 'state', 'cni', 'ipam', 'opt']) fs.mkdirSync(path.join(dir, d), { recursive: true });
    fs.mkdirSync(this.podLogDir, { recursive: true });
    await execFileP('ip', ['netns', 'add', netns]);
    // The CRI stream server binds 127.0.0.1 in the node namespace.
    await execFileP('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    fs.writeFileSync(
      path.join(dir, 'cni', '10-netscope.conflist'),
      JSON.stringify(
        {
          cniVersion: '0.4.0',
          name: this.network,
          plugins: [
            {
              type: 'bridge',
              bridge: 'cni0',
              isGateway: true,
              ipMasq: false,
              hairpinMode: true,
              ipam: { type: 'host-local', dataDir: path.join(dir, 'ipam'), ranges: [[{ subnet: this.opts.subnet, gateway: cidrGateway(this.opts.subnet) }]], routes: [{ dst: '0.0.0.0/0' }] },
            },
          ],
        },
        null,
        2,
      ),
    );
    const q = JSON.stringify;
    const config = [
      'version = 2',
      `root = ${q(path.join(dir, 'root'))}`,
      `state = ${q(path.join(dir, 'state'))}`,
      '[grpc]',
      `  address = ${q(this.socket)}`,
      '[ttrpc]',
      `  address = ${q(path.join(dir, 'ttrpc.sock'))}`,
      '[metrics]',
      '  address = ""',
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = ${q(path.join(dir, 'opt'))}`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      `  sandbox_image = ${q(PAUSE_IMAGE_NAME)}`,
      // This kind of VM refuses lowering oom_score_adj: without this runc fails to start any sandbox.
      '  restrict_oom_score_adj = true',
      '  disable_apparmor = true',
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
      '  enable_selinux = false',
      '[plugins."io.containerd.grpc.v1.cri".cni]',
      '  bin_dir = "/usr/lib/cni"',
      `  conf_dir = ${q(path.join(dir, 'cni'))}`,
      '  max_conf_num = 1',
      '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
      '  runtime_type = "io.containerd.runc.v2"',
      '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
      `  Root = ${q(path.join(dir, 'runc'))}`,
      '',
    ].join('\n');
    const cfgPath = path.join(dir, 'config.toml');
    fs.writeFileSync(cfgPath, config);
    const logFd = fs.openSync(path.join(dir, 'containerd.log'), 'a');
    this.daemon = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', 'containerd', '--config', cfgPath], { stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    const daemon = this.daemon;
    this.daemonExit = new Promise((resolve) => daemon.once('exit', () => resolve()));
    let exited = false;
    void this.daemonExit.then(() => (exited = true));
    this.cri = new CriClient(this.endpoint, 2000);
    const limit = this.opts.startTimeoutMs ?? 30_000;
    const t0 = Date.now();
    for (;;) {
      if (exited) throw new Error(`containerd exited during start: ${this.logTail()}`);
      if (fs.existsSync(this.socket)) {
        try {
          await this.cri.version();
          break;
        } catch {
          /* not serving CRI yet */
        }
      }
      if (Date.now() - t0 > limit) throw new Error(`containerd did not answer on ${this.socket} within ${limit} ms: ${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    this.log(`containerd up in ${Date.now() - t0} ms (node namespace ${netns})`);
    await execFileP('ctr', ['--address', this.socket, '-n', 'k8s.io', 'images', 'import', image]);
  }

  private logTail(): string {
    try {
      const lines = fs.readFileSync(path.join(this.opts.dir, 'containerd.log'), 'utf8').trim().split('\n');
      return lines.filter((l) => /level=(error|fatal)/.test(l)).slice(-3).join(' | ') || lines.slice(-2).join(' | ');
    } catch {
      return 'no log';
    }
  }

  /** Creates a pod the way a kubelet does (labels, kubelet log directory, cgroup parent) and returns its identity. */
  async runPod(spec: LabPodSpec): Promise<LabPod> {
    const uid = randomUUID();
    this.uids.add(uid);
    const logDir = path.join(this.podLogDir, `${spec.namespace}_${spec.name}_${uid}`);
    fs.mkdirSync(logDir, { recursive: true });
    const id = await this.client.runPodSandbox({
      metadata: { name: spec.name, namespace: spec.namespace, uid, attempt: 0 },
      hostname: spec.name,
      log_directory: logDir,
      labels: {
        ...(spec.labels ?? {}),
        'io.kubernetes.pod.name': spec.name,
        'io.kubernetes.pod.namespace': spec.namespace,
        'io.kubernetes.pod.uid': uid,
      },
      annotations: { 'kubernetes.io/config.source': 'api', 'kubernetes.io/config.seen': new Date().toISOString() },
      linux: { cgroup_parent: kubeletCgroupParent(uid), security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    });
    this.sandboxIds.add(id);
    const st = await this.client.podSandboxStatus(id, true);
    const info = JSON.parse(st.info.info ?? '{}') as { pid?: number; runtimeSpec?: { linux?: { namespaces?: { type: string; path?: string }[] } } };
    const netnsPath = info.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path ?? '';
    if (netnsPath) this.netnsPaths.add(netnsPath);
    const pod: LabPod = { namespace: spec.namespace, name: spec.name, uid, sandboxId: id, ip: st.status?.network?.ip ?? '', netnsPath, pid: info.pid ?? 0 };
    this.pods.push(pod);
    return pod;
  }

  /** Stops and removes a pod (its namespace and veth go away). */
  async removePod(pod: LabPod): Promise<void> {
    await this.client.stopPodSandbox(pod.sandboxId);
    await this.client.removePodSandbox(pod.sandboxId);
    this.pods.splice(this.pods.indexOf(pod), 1);
  }

  /** Stops containerd only (pods keep running): what a node looks like when the runtime is down. */
  async stopRuntime(): Promise<void> {
    this.cri?.close();
    this.cri = null;
    if (this.daemon && this.daemon.exitCode === null && this.daemon.signalCode === null) {
      this.daemon.kill('SIGTERM');
      const t = setTimeout(() => this.daemon?.kill('SIGKILL'), 10_000);
      await this.daemonExit;
      clearTimeout(t);
    }
    this.daemon = null;
  }

  /** Removes everything this node made. Safe to call twice and after a failed start. */
  async destroy(): Promise<void> {
    const { dir, netns } = this.opts;
    if (this.cri) {
      for (const p of [...this.pods].reverse()) {
        try {
          await this.removePod(p);
        } catch (e) {
          this.log(`removing pod ${p.namespace}/${p.name}: ${(e as Error).message}`);
        }
      }
    }
    await this.stopRuntime();
    // Shims (and their pause processes) outlive containerd: they are found by our socket / pod uids.
    killProcesses((cmdline, cgroup) => cmdline.includes(this.socket) || cmdline.includes(dir) || [...this.uids].some((u) => cgroup.includes(u)));
    for (const p of this.netnsPaths) {
      await execFileP('umount', [p]).catch(() => undefined);
      fs.rmSync(p, { force: true });
    }
    unmountUnder(dir);
    removePodCgroups(this.uids);
    await execFileP('ip', ['netns', 'del', netns]).catch(() => undefined);
    // A shim killed above leaves its socket (named after containerd's address, the namespace and the sandbox id),
    // and a sandbox never torn down by CNI leaves libcni's cached results (named after the network and the id).
    for (const id of this.sandboxIds) {
      fs.rmSync(path.join('/run/containerd/s', createHash('sha256').update(path.join(this.socket, 'k8s.io', id)).digest('hex')), { force: true });
    }
    for (const d of ['/var/lib/cni/results', '/var/lib/cni/networks']) {
      try {
        for (const f of fs.readdirSync(d)) {
          if (f === this.network || f.startsWith(`${this.network}-`) || [...this.sandboxIds].some((id) => f.includes(`-${id}-`))) fs.rmSync(path.join(d, f), { recursive: true, force: true });
        }
      } catch {
        /* absent */
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    // containerd's shim socket directory and libcni's cache are fixed paths: leave no empty ones we made.
    for (const d of this.madeShared) rmEmptyTree(d);
  }
}

/** Removes `dir` when it holds nothing but empty directories. */
function rmEmptyTree(dir: string): boolean {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return true;
  }
  let empty = true;
  for (const e of entries) empty = (e.isDirectory() && rmEmptyTree(path.join(dir, e.name))) && empty;
  if (!empty) return false;
  try {
    fs.rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

function killProcesses(match: (cmdline: string, cgroup: string) => boolean): void {
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const cgroup = fs.readFileSync(`/proc/${e}/cgroup`, 'utf8');
      if (match(cmdline, cgroup)) process.kill(Number(e), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

function unmountUnder(dir: string): void {
  let points: string[] = [];
  try {
    points = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)));
  } catch {
    return;
  }
  // Deepest first.
  for (const p of points.sort((a, b) => b.length - a.length)) {
    try {
      execFileSync('umount', ['-l', p], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
}

/** rmdir kubepods/…/pod<uid>/… in every cgroup hierarchy (children first), then empty kubepods parents. */
function removePodCgroups(uids: Set<string>): void {
  const root = '/sys/fs/cgroup';
  let hierarchies: string[];
  try {
    hierarchies = fs.readdirSync(root).map((h) => path.join(root, h));
  } catch {
    return;
  }
  hierarchies.push(root);
  for (const h of hierarchies) {
    for (const qos of ['kubepods/besteffort', 'kubepods/burstable', 'kubepods']) {
      for (const uid of uids) rmTree(path.join(h, qos, `pod${uid}`));
    }
    for (const d of ['kubepods/besteffort', 'kubepods/burstable', 'kubepods']) {
      try {
        fs.rmdirSync(path.join(h, d));
      } catch {
        /* not empty, not ours, or absent */
      }
    }
  }
}

function rmTree(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) rmTree(path.join(dir, e.name));
  try {
    fs.rmdirSync(dir);
  } catch {
    /* busy */
  }
}
