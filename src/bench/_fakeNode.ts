/**
 * Made-up node state for the pod resolution benchmark and tests: a CRI runtime (grpc-js server speaking the
 * runtime.v1 subset on a unix socket) whose sandboxes point at files standing in for netns bind mounts, and a
 * /proc-like tree (<pid>/ns/net symlinks "net:[inode]", <pid>/cgroup) with kubelet pod log directories.
 */
import fs from 'fs';
import path from 'path';
import * as grpc from '@grpc/grpc-js';
import { criPackageDefinition } from '../k8s/cri';

export interface FakeSandbox {
  id: string;
  ns: string;
  name: string;
  ip: string;
  /** A file whose inode stands for the pod's network namespace. */
  netns: string;
  labels?: Record<string, string>;
}

export interface FakeRuntime {
  calls: { list: number; status: number; containers: number };
  stop(): Promise<void>;
}

type Cb = (err: grpc.ServiceError | null, v?: object) => void;

/** Serves `sandboxes` on `sock`; `hang`: ListPodSandbox never answers (a stuck runtime). */
export async function startFakeRuntime(sock: string, sandboxes: FakeSandbox[], opts: { hang?: boolean } = {}): Promise<FakeRuntime> {
  const pkg = grpc.loadPackageDefinition(criPackageDefinition()) as unknown as { runtime: { v1: { RuntimeService: { service: grpc.ServiceDefinition } } } };
  const server = new grpc.Server();
  const calls = { list: 0, status: 0, containers: 0 };
  const meta = (s: FakeSandbox): object => ({ name: s.name, namespace: s.ns, uid: `uid-${s.id}`, attempt: 0 });
  const byId = new Map(sandboxes.map((s) => [s.id, s]));
  server.addService(pkg.runtime.v1.RuntimeService.service, {
    Version: (_: unknown, cb: Cb) => cb(null, { version: '0.1.0', runtime_name: 'fake', runtime_version: '1', runtime_api_version: 'v1' }),
    ListPodSandbox: (_: unknown, cb: Cb) => {
      calls.list++;
      if (opts.hang) return;
      cb(null, { items: sandboxes.map((s) => ({ id: s.id, metadata: meta(s), state: 'SANDBOX_READY', labels: { ...(s.labels ?? {}), 'io.kubernetes.pod.name': s.name } })) });
    },
    PodSandboxStatus: (call: { request: { pod_sandbox_id: string; verbose: boolean } }, cb: Cb) => {
      calls.status++;
      const s = byId.get(call.request.pod_sandbox_id);
      if (!s) return cb({ code: grpc.status.NOT_FOUND, details: 'no sandbox', message: 'no sandbox', name: 'NotFound', metadata: new grpc.Metadata() });
      const info = call.request.verbose ? { info: JSON.stringify({ pid: 1, runtimeSpec: { linux: { namespaces: [{ type: 'network', path: s.netns }] } } }) } : {};
      cb(null, { status: { id: s.id, metadata: meta(s), state: 'SANDBOX_READY', network: { ip: s.ip, additional_ips: [{ ip: 'fd00::1' }] } }, info });
    },
    ListContainers: (_: unknown, cb: Cb) => {
      calls.containers++;
      cb(null, { containers: sandboxes.map((s) => ({ id: `c-${s.id}`, pod_sandbox_id: s.id, metadata: { name: 'app', attempt: 0 }, image: { image: 'nginx' }, state: 'CONTAINER_RUNNING' })) });
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${sock}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  return { calls, stop: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
}

export interface FakeProcPod {
  ns: string;
  name: string;
  uid: string;
  pid: number;
  inode: number;
  /** systemd slice layout instead of cgroupfs. */
  systemd?: boolean;
}

/** Writes <root>/proc and <root>/pods (kubelet log directories); `others` are processes outside pods. */
export function writeFakeProc(root: string, pods: FakeProcPod[], others: { pid: number; inode: number }[] = []): { proc: string; logs: string } {
  const proc = path.join(root, 'proc');
  const logs = path.join(root, 'pods');
  fs.mkdirSync(logs, { recursive: true });
  const one = (pid: number, inode: number, cgroup: string): void => {
    fs.mkdirSync(path.join(proc, String(pid), 'ns'), { recursive: true });
    fs.symlinkSync(`net:[${inode}]`, path.join(proc, String(pid), 'ns', 'net'));
    fs.writeFileSync(path.join(proc, String(pid), 'cgroup'), cgroup);
  };
  for (const p of pods) {
    const cg = p.systemd
      ? `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${p.uid.replace(/-/g, '_')}.slice/cri-containerd-abc.scope\n`
      : `1:cpu:/kubepods/besteffort/pod${p.uid}/abc\n0::/kubepods/besteffort/pod${p.uid}/abc\n`;
    one(p.pid, p.inode, cg);
    fs.mkdirSync(path.join(logs, `${p.ns}_${p.name}_${p.uid}`));
  }
  for (const o of others) one(o.pid, o.inode, '0::/system.slice/x.service\n');
  return { proc, logs };
}
