/**
 * Pod names on a real node: containerd + the CNI bridge/host-local plugins in a test node namespace, pods made
 * through CRI RunPodSandbox with the kubelet's labels and cgroup parent (test/helpers/k8sNode.ts). The CLI (bin)
 * is run with NETSCOPE_RUNTIME_ENDPOINT on the node's socket: topo show, fdb, diagnose (healthy and with a
 * FORWARD DROP), capture --selector into pcapng (interface and pod names checked with tshark), rules --netns, and
 * the cgroup + kubelet-directory fallback once the runtime is stopped. Nothing touches the host's interfaces,
 * routes or firewall: cni0 lives in the node namespace only.
 */
import { spawn, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { PodResolver } from '../../src/k8s/pods';
import { isRoot, sh } from '../helpers/netns';
import { startK8sNode, type K8sNode } from '../helpers/k8sNode';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'netscope');
const d = isRoot ? describe : describe.skip;

const PODS = [
  { namespace: 'default', name: 'web-0', labels: { app: 'web' } },
  { namespace: 'default', name: 'web-1', labels: { app: 'web' } },
  { namespace: 'default', name: 'db-0', labels: { app: 'db' } },
  // Same pod name in another Kubernetes namespace: "web-0" alone is ambiguous.
  { namespace: 'prod', name: 'web-0', labels: { app: 'api' } },
];

d('pods by name on a containerd node', () => {
  let k: K8sNode;
  let env: NodeJS.ProcessEnv;
  let tmp: string;
  const netnsOf = (ns: string, name: string): string => path.basename(k.pod(ns, name).netnsPath);
  const cli = (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 90_000, input });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-k8s-it-'));
    k = await startK8sNode('k8', PODS);
    // A loaded CI machine can take longer than the default second to answer: the tests are about names.
    env = { ...process.env, NETSCOPE_RUNTIME_ENDPOINT: k.node.endpoint, NETSCOPE_RUNTIME_TIMEOUT_MS: '15000' };
    // Pod to pod through cni0: every pod MAC is learned on its port.
    for (const p of ['web-1', 'db-0']) sh('ip', ['netns', 'exec', netnsOf('default', 'web-0'), 'ping', '-c', '1', '-W', '5', k.pod('default', p).ip]);
    sh('ip', ['netns', 'exec', netnsOf('prod', 'web-0'), 'ping', '-c', '1', '-W', '5', k.pod('default', 'db-0').ip]);
  }, 120_000);

  afterAll(async () => {
    await k?.node.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  test('the node is a real one: cni0 only in the node namespace, pod namespaces visible from the host', () => {
    expect(sh('ip', ['-j', 'link', 'show']).includes('"cni0"')).toBe(false);
    expect(sh('ip', ['-d', '-n', k.netns, '-j', 'link', 'show', 'cni0'])).toContain('"info_kind":"bridge"');
    for (const p of k.pods) {
      expect(p.netnsPath).toMatch(/\/run\/netns\/cni-[0-9a-f-]+$/);
      expect(fs.existsSync(p.netnsPath)).toBe(true);
      expect(p.ip).toMatch(/^10\.244\.\d+\.\d+$/);
      // The kubelet's cgroup layout: the resolver's fallback depends on it.
      expect(fs.readFileSync(`/proc/${p.pid}/cgroup`, 'utf8')).toContain(`/kubepods/besteffort/pod${p.uid}/`);
    }
  });

  test('topo show: every pod as namespace/name with its IP under cni0', () => {
    const r = cli(['topo', 'show', '--bridge', 'cni0', '--netns', k.netns]);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${k.netns} \\[netns \\d+\\]`));
    expect(lines[1]).toMatch(/cni0 bridge UP/);
    for (const p of k.pods) {
      expect(lines.filter((l) => l.includes(`⇄ eth0 UP in namespace ${p.namespace}/${p.name} ${p.ip}/24`))).toHaveLength(1);
    }
    // JSON carries the pod identity on the namespace.
    const j = JSON.parse(cli(['topo', 'show', '--json']).out) as { namespaces: { id: string; label: string; pod?: { uid: string; nodeVeth?: { netns: string; ifname: string }; labels: Record<string, string> } }[] };
    for (const p of k.pods) {
      const ns = j.namespaces.find((n) => n.id === path.basename(p.netnsPath));
      expect(ns?.label).toBe(`${p.namespace}/${p.name}`);
      expect(ns?.pod?.uid).toBe(p.uid);
      expect(ns?.pod?.labels['io.kubernetes.pod.uid']).toBe(p.uid);
      expect(ns?.pod?.nodeVeth?.netns).toBe(k.netns);
      expect(ns?.pod?.nodeVeth?.ifname).toMatch(/^veth/);
    }
  });

  test('fdb: every pod MAC resolves to its pod', () => {
    const r = cli(['fdb', `cni0@${k.netns}`, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { entries: { mac: string; flags: string[]; resolved?: { label: string; ips: string[] } }[] };
    for (const p of k.pods) {
      const mac = (JSON.parse(sh('ip', ['-j', '-n', path.basename(p.netnsPath), 'link', 'show', 'eth0'])) as { address: string }[])[0].address;
      const e = j.entries.find((x) => x.mac === mac);
      expect([p.name, e?.resolved?.label, e?.resolved?.ips]).toEqual([p.name, `${p.namespace}/${p.name}`, [p.ip]]);
    }
  });

  test('ambiguous and unknown pods are usage errors listing the candidates', () => {
    const a = cli(['diagnose', 'web-0', 'default/db-0']);
    expect(a.code).toBe(2);
    expect(a.err).toBe('netscope: FROM "web-0" matches 2 pods (default/web-0, prod/web-0); name one as NAMESPACE/POD\n');
    const u = cli(['rules', '--netns', 'default/nope']);
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/^netscope: --netns default\/nope: no pod "default\/nope"; existing: default\/db-0, default\/web-0, default\/web-1, prod\/web-0, /);
    const c = cli(['capture', '-i', 'eth0@web-0', '-c', '1']);
    expect(c.code).toBe(2);
    expect(c.err).toContain('"web-0" matches 2 pods (default/web-0, prod/web-0)');
  });

  test('rules --netns NAMESPACE/POD reads the pod namespace', () => {
    const r = cli(['rules', '--netns', 'pod:default/db-0', '--json']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(JSON.parse(r.out)).toBeDefined();
  });

  test('diagnose by pod name: connected, then a FORWARD DROP in the node is found', () => {
    const ok = cli(['diagnose', 'default/web-0', 'default/db-0', '-c', '1', '--json']);
    expect(ok.code).toBe(0);
    const rep = JSON.parse(ok.out) as { from: { label: string }; to: { label: string }; hops: { netnsLabel: string }[]; verdict: { connected: boolean; cause: string | null } };
    expect([rep.from.label, rep.to.label, rep.verdict.connected]).toEqual(['default/web-0', 'default/db-0', true]);
    expect(rep.hops.map((h) => h.netnsLabel)).toEqual(['default/web-0', k.netns, k.netns, k.netns, 'default/db-0']);
    const web = k.pod('default', 'web-0').ip;
    const db = k.pod('default', 'db-0').ip;
    const rule = ['FORWARD', '-s', web, '-d', db, '-j', 'DROP'];
    sh('ip', ['netns', 'exec', k.netns, 'iptables', '-I', ...rule]);
    try {
      const bad = cli(['diagnose', 'pod:default/web-0', 'default/db-0', '-c', '1', '--json']);
      expect(bad.code).toBe(1);
      const b = JSON.parse(bad.out) as { verdict: { connected: boolean; cause: string; summary: string } };
      expect(b.verdict.connected).toBe(false);
      expect(b.verdict.cause).toBe('firewall');
      expect(b.verdict.summary).toContain(k.netns);
    } finally {
      sh('ip', ['netns', 'exec', k.netns, 'iptables', '-D', ...rule]);
    }
  });

  test('capture --selector app=web merges both web pods into pcapng named after the pods (tshark)', async () => {
    const file = path.join(tmp, 'web.pcapng');
    const child = spawn(process.execPath, [BIN, 'capture', '--selector', 'app=web', '-w', file, '-c', '8', 'icmp'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        if (err.includes('capturing on')) resolve();
      });
      void exited.then((code) => reject(new Error(`capture exited (${code}) before starting: ${err}`)));
    });
    // db-0 pings each web pod twice: 2 requests + 2 replies on each web pod's eth0.
    for (const p of ['web-0', 'web-1']) sh('ip', ['netns', 'exec', netnsOf('default', 'db-0'), 'ping', '-c', '2', '-i', '0.2', '-W', '5', k.pod('default', p).ip]);
    expect(await exited).toBe(0);
    expect(err).toContain('capturing on default/web-0/eth0, default/web-1/eth0');
    const { stdout } = { stdout: sh('tshark', ['-r', file, '-N', 'n', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_name', '-e', 'ip.src_host', '-e', 'ip.dst_host', '-e', 'icmp.type']) };
    const rows = stdout.trim().split('\n').sort();
    expect(rows).toEqual(
      [
        'default/web-0/eth0|db-0.default|web-0.default|8',
        'default/web-0/eth0|db-0.default|web-0.default|8',
        'default/web-0/eth0|web-0.default|db-0.default|0',
        'default/web-0/eth0|web-0.default|db-0.default|0',
        'default/web-1/eth0|db-0.default|web-1.default|8',
        'default/web-1/eth0|db-0.default|web-1.default|8',
        'default/web-1/eth0|web-1.default|db-0.default|0',
        'default/web-1/eth0|web-1.default|db-0.default|0',
      ].sort(),
    );
  });

  test('watch by pod name under tmux: pods in the topology and the MAC table, flow endpoints named', async () => {
    const sock = `${k.netns}tmux`;
    const tmux = (...args: string[]): string => sh('tmux', ['-L', sock, ...args]);
    const exitFile = path.join(tmp, 'watch.exit');
    const argv = ['env', `NETSCOPE_RUNTIME_ENDPOINT=${k.node.endpoint}`, 'NETSCOPE_RUNTIME_TIMEOUT_MS=15000', process.execPath, BIN, 'watch', `cni0@${k.netns}`, '-i', 'eth0@default/web-0', '--poll', '1'];
    const quoted = argv.map((a) => `'${a}'`).join(' ');
    tmux('new-session', '-d', '-s', 'w', '-x', '200', '-y', '50', `${quoted}; echo $? > ${exitFile}; sleep 60`);
    const waitFor = async (what: string, ok: (t: string) => boolean): Promise<string> => {
      const t0 = Date.now();
      let text = '';
      for (;;) {
        text = tmux('capture-pane', '-p', '-t', 'w');
        if (ok(text)) return text;
        if (Date.now() - t0 > 60_000) throw new Error(`timed out waiting for ${what}; screen:\n${text}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    try {
      await waitFor('the dashboard with pod names', (t) => t.includes('default/web-0') && t.includes('default/db-0'));
      const ping = spawn('ip', ['netns', 'exec', netnsOf('default', 'web-0'), 'ping', '-c', '30', '-i', '0.2', k.pod('default', 'db-0').ip], { stdio: 'ignore' });
      try {
        const db = k.pod('default', 'db-0').ip;
        await waitFor('a flow to db-0 named after the pod', (t) => t.includes(`${db} default/db-0`));
      } finally {
        ping.kill();
      }
      tmux('send-keys', '-t', 'w', 'q');
      const t0 = Date.now();
      while (!fs.existsSync(exitFile) || fs.readFileSync(exitFile, 'utf8').trim() === '') {
        if (Date.now() - t0 > 20_000) throw new Error('watch did not exit after q');
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(fs.readFileSync(exitFile, 'utf8').trim()).toBe('0');
    } finally {
      try {
        tmux('kill-server');
      } catch {
        /* already gone */
      }
    }
  }, 120_000);

  test('runtime stopped: cgroup + kubelet directories name the same pods; teardown leaves nothing', async () => {
    const warnings: string[] = [];
    const viaCri = await new PodResolver({ endpoint: k.node.endpoint, timeoutMs: 15_000, onWarning: (m) => warnings.push(m) }).resolve();
    await k.node.stopRuntime();
    // The kubelet's directories (made up by the test node, not /var/log/pods) in a temporary root.
    const r = new PodResolver({ endpoint: k.node.endpoint, podLogDir: k.node.podLogDir, onWarning: (m) => warnings.push(m) });
    const t = await r.resolve();
    r.close();
    expect(t.source).toBe('kubelet');
    const key = (p: { namespace: string; name: string; uid: string; netnsInode: number }) => `${p.namespace}/${p.name} ${p.uid} ${p.netnsInode}`;
    expect(t.pods.map(key)).toEqual(viaCri.pods.map(key));
    expect(t.pods).toHaveLength(PODS.length);
    expect(warnings).toEqual([expect.stringMatching(/ListPodSandbox: cannot connect \(ENOENT: no such socket\); pod names from the kubelet's files instead/)]);

    // Teardown without a runtime to ask: shims, pause processes, namespaces, mounts, cgroups and state all go.
    const pids = k.pods.map((p) => p.pid);
    await k.node.destroy();
    for (const p of k.pods) expect(fs.existsSync(p.netnsPath)).toBe(false);
    // A killed process can linger a moment (or as a zombie until reaped): wait for it, bounded by elapsed time.
    const alive = (pid: number): boolean => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
      } catch {
        return false;
      }
    };
    const until = Date.now() + 15_000;
    while (pids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(pids.filter(alive)).toEqual([]);
    expect(fs.existsSync(`/run/netns/${k.netns}`)).toBe(false);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(k.netns);
    for (const p of k.pods) expect(fs.existsSync(`/sys/fs/cgroup/memory/kubepods/besteffort/pod${p.uid}`)).toBe(false);
    const leftovers = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);
    for (const p of k.pods) {
      expect(leftovers('/var/lib/cni/results').filter((f) => f.includes(p.sandboxId))).toEqual([]);
      const shim = createHash('sha256').update(path.join(k.node.socket, 'k8s.io', p.sandboxId)).digest('hex');
      expect(leftovers('/run/containerd/s').includes(shim)).toBe(false);
    }
  }, 60_000);
});
