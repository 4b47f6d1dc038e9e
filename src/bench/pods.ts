/**
 * Pod resolution: 200 pod namespaces named through (a) a CRI runtime (a grpc-js fake on a unix socket, 200
 * sandboxes; warm = one ListPodSandbox + ListContainers, sandbox statuses cached) and (b) the kubelet fallback
 * (a made-up /proc with 200 pod processes and 300 others, 200 kubelet directories; warm = one /proc scan,
 * cgroups cached). Limit: < 300 ms warm. Also: listNamespaces of this machine with the 200 CRI pods joined.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { PodResolver } from '../k8s/pods';
import { listNamespaces } from '../topology/discover';
import { startFakeRuntime, writeFakeProc, type FakeSandbox } from './_fakeNode';

const PODS = 200;
const LIMIT_MS = 300;
const RUNS = 15;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const v = await f();
  return [Number(process.hrtime.bigint() - t0) / 1e6, v];
}

function line(what: string, cold: number, warm: number[], n: number): void {
  const med = median(warm);
  const verdict = med < LIMIT_MS ? `limit ${LIMIT_MS} ms met` : `LIMIT ${LIMIT_MS} ms MISSED`;
  process.stdout.write(
    `${what.padEnd(38)} ${String(n).padStart(4)} pods  cold ${cold.toFixed(1).padStart(7)} ms  warm median ${med.toFixed(1).padStart(6)} ms (min ${Math.min(...warm).toFixed(1)}, max ${Math.max(...warm).toFixed(1)}, ${warm.length} runs)  ${verdict}\n`,
  );
}

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-bench-pods-'));
  try {
    process.stdout.write(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    // (a) CRI
    const sandboxes: FakeSandbox[] = [];
    for (let i = 0; i < PODS; i++) {
      const netns = path.join(dir, `cni-${i}`);
      fs.writeFileSync(netns, '');
      sandboxes.push({ id: `sandbox-${i}`, ns: `ns${i % 7}`, name: `pod-${i}`, ip: `10.244.${i >> 8}.${i & 255}`, netns, labels: { app: `app${i % 5}` } });
    }
    const sock = path.join(dir, 'cri.sock');
    const rt = await startFakeRuntime(sock, sandboxes);
    const cri = new PodResolver({ endpoint: `unix://${sock}`, timeoutMs: 10_000 });
    try {
      const [cold, first] = await time(() => cri.resolve());
      if (first.pods.length !== PODS) throw new Error(`CRI resolution named ${first.pods.length} pods, expected ${PODS}`);
      const warm: number[] = [];
      for (let i = 0; i < RUNS; i++) warm.push((await time(() => cri.resolve()))[0]);
      line('CRI (ListPodSandbox, statuses cached)', cold, warm, PODS);
      // The same with the machine's namespaces joined (what every command does).
      const join: number[] = [];
      let named = 0;
      for (let i = 0; i < 5; i++) {
        const [ms, list] = await time(async () => listNamespaces({ pods: await cri.resolve() }));
        join.push(ms);
        named = list.length;
      }
      process.stdout.write(`  + listNamespaces of this machine (${named} namespaces): warm median ${median(join).toFixed(1)} ms\n`);
    } finally {
      cri.close();
      await rt.stop();
    }
    // (b) kubelet files
    const uid = (i: number): string => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const { proc, logs } = writeFakeProc(
      path.join(dir, 'node'),
      Array.from({ length: PODS }, (_, i) => ({ ns: `ns${i % 7}`, name: `pod-${i}`, uid: uid(i), pid: 1000 + i * 3, inode: 5_000_000 + i, systemd: i % 2 === 1 })),
      Array.from({ length: 300 }, (_, i) => ({ pid: 5000 + i, inode: 4_000_000 + (i % 3) })),
    );
    const kub = new PodResolver({ endpoint: `unix://${path.join(dir, 'absent.sock')}`, procRoot: proc, podLogDir: logs, onWarning: () => undefined });
    const [cold, first] = await time(() => kub.resolve());
    if (first.pods.length !== PODS) throw new Error(`kubelet fallback named ${first.pods.length} pods, expected ${PODS}`);
    const warm: number[] = [];
    for (let i = 0; i < RUNS; i++) warm.push((await time(() => kub.resolve()))[0]);
    line('kubelet fallback (cgroup + /var/log/pods)', cold, warm, PODS);
    kub.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
