/**
 * Pod identity without a node: cgroup and kubelet directory parsing, pod references and selectors, the one
 * namespace matcher, and the resolver against a fake CRI runtime (a grpc-js server speaking our runtime.v1
 * subset) and against a made-up /proc + /var/log/pods tree.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { startFakeRuntime, writeFakeProc } from '../../src/bench/_fakeNode';
import { kubeletCgroupParent, parseKubeletPodDir, podUidFromCgroup } from '../../src/k8s/kubelet';
import { matchesSelector, parsePodRef, parseSelector } from '../../src/k8s/podRef';
import { PodNameIndex } from '../../src/k8s/podNames';
import { configuredEndpoint, PodResolver, sandboxInfo } from '../../src/k8s/pods';
import { lookupNetns, matchNetns, NetnsRefError, type NetnsInfo } from '../../src/topology/discover';

const UID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

describe('podUidFromCgroup', () => {
  it.each([
    ['cgroup v1 cgroupfs', `4:memory:/kubepods/besteffort/pod${UID}/0123abcd\n3:cpu:/kubepods/besteffort/pod${UID}/0123abcd\n`],
    ['guaranteed QoS', `0::/kubepods/pod${UID}/cafe\n`],
    ['cgroup v2 systemd slices', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-0123.scope\n`],
    ['the pod cgroup itself', `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice\n`],
  ])('%s', (_, text) => {
    expect(podUidFromCgroup(text)).toBe(UID);
  });
  it('takes a static pod hash uid and leaves non-pod processes alone', () => {
    expect(podUidFromCgroup('0::/kubepods/burstable/pod6a5f6f0e1d2c3b4a59687766554433aa/x\n')).toBe('6a5f6f0e1d2c3b4a59687766554433aa');
    expect(podUidFromCgroup('0::/system.slice/containerd.service\n')).toBeUndefined();
    expect(podUidFromCgroup(`0::/user.slice/pod${UID}\n`)).toBeUndefined(); // not under kubepods
    expect(podUidFromCgroup('garbage\n\n1:name=systemd\n')).toBeUndefined();
  });
  it('the cgroup parent the lab node gives pods is read back', () => {
    expect(podUidFromCgroup(`0::${kubeletCgroupParent(UID)}/sandbox\n`)).toBe(UID);
  });
});

describe('parseKubeletPodDir', () => {
  it('reads namespace_name_uid and rejects other names', () => {
    expect(parseKubeletPodDir(`kube-system_coredns-5d78c9869d-abcde_${UID}`)).toEqual({ namespace: 'kube-system', name: 'coredns-5d78c9869d-abcde', uid: UID });
    for (const bad of ['', 'a_b', `a_b_c_${UID}`, `_web_${UID}`, `Default_web_${UID}`, 'x_y_']) expect(parseKubeletPodDir(bad)).toBeUndefined();
  });
});

describe('pod references and selectors', () => {
  it('parses POD, NS/POD, pod:NS/POD, pod:POD', () => {
    expect(parsePodRef('web-0')).toEqual({ name: 'web-0', explicit: false });
    expect(parsePodRef('default/web-0')).toEqual({ namespace: 'default', name: 'web-0', explicit: true });
    expect(parsePodRef('pod:default/web-0')).toEqual({ namespace: 'default', name: 'web-0', explicit: true });
    expect(parsePodRef('pod:web-0')).toEqual({ name: 'web-0', explicit: true });
    for (const bad of ['', 'a/b/c', 'Web', '/x', 'x/', 'pod:', '-a']) expect(parsePodRef(bad)).toBeUndefined();
  });
  it('matches label selectors like kubectl -l', () => {
    const labels = { app: 'web', tier: 'front', 'app.kubernetes.io/name': 'shop' };
    const yes = ['app=web', 'app==web', 'app=web,tier=front', 'tier!=db', 'canary!=yes', 'app', '!canary', 'app.kubernetes.io/name=shop'];
    const no = ['app=db', 'app=web,tier=back', 'tier!=front', 'canary', '!app'];
    for (const s of yes) expect([s, matchesSelector(labels, parseSelector(s))]).toEqual([s, true]);
    for (const s of no) expect([s, matchesSelector(labels, parseSelector(s))]).toEqual([s, false]);
    for (const bad of ['', 'app=web,', 'a b', 'app=(x)']) expect(() => parseSelector(bad)).toThrow(/KEY=VALUE/);
  });
});

function pod(namespace: string, name: string, inode: number, ips: string[] = []): NonNullable<NetnsInfo['pod']> {
  return { namespace, name, uid: `uid-${name}`, ips, labels: {}, containers: [], netnsInode: inode, source: 'cri' };
}

describe('matchNetns / lookupNetns: the one namespace matcher', () => {
  const namespaces: NetnsInfo[] = [
    { id: '', label: 'host', inode: 1 },
    { id: 'node1', name: 'node1', label: 'node1', inode: 2 },
    { id: 'cni-aaaa', name: 'cni-aaaa', label: 'default/web-0', inode: 3, pod: pod('default', 'web-0', 3) },
    { id: 'cni-bbbb', name: 'cni-bbbb', label: 'prod/web-0', inode: 4, pod: pod('prod', 'web-0', 4) },
    { id: 'pid:77', pid: 77, label: 'default/db-0', inode: 5, pod: pod('default', 'db-0', 5) },
    // A namespace named like a pod: the namespace wins for the bare name, NS/POD still means the pod.
    { id: 'db-0', name: 'db-0', label: 'db-0', inode: 6 },
  ];
  const ids = (ref: string): string[] => matchNetns(namespaces, ref).map((n) => n.id);
  it('resolves namespace names, pids, host and pods in every spelling', () => {
    expect(ids('host')).toEqual(['']);
    expect(ids('node1')).toEqual(['node1']);
    expect(ids('77')).toEqual(['pid:77']);
    expect(ids('default/web-0')).toEqual(['cni-aaaa']);
    expect(ids('pod:prod/web-0')).toEqual(['cni-bbbb']);
    expect(ids('default/db-0')).toEqual(['pid:77']);
    expect(ids('pod:db-0')).toEqual(['pid:77']);
    expect(ids('db-0')).toEqual(['db-0']);
    expect(ids('web-0')).toEqual(['cni-aaaa', 'cni-bbbb']);
    expect(ids('nope')).toEqual([]);
  });
  it('an ambiguous or unknown reference is a NetnsRefError listing the candidates', () => {
    expect(() => lookupNetns(namespaces, 'web-0')).toThrow(NetnsRefError);
    try {
      lookupNetns(namespaces, 'web-0');
    } catch (e) {
      expect((e as NetnsRefError).candidates).toEqual(['default/web-0', 'prod/web-0']);
      expect((e as Error).message).toBe('"web-0" matches 2 pods (default/web-0, prod/web-0); name one as NAMESPACE/POD');
    }
    expect(() => lookupNetns(namespaces, 'kube-system/dns')).toThrow(NetnsRefError);
    try {
      lookupNetns(namespaces, 'kube-system/dns');
    } catch (e) {
      expect((e as NetnsRefError).candidates).toEqual(['default/db-0', 'default/web-0', 'prod/web-0', 'node1', 'db-0', 'host']);
      expect((e as Error).message).toBe('no pod "kube-system/dns"; existing: default/db-0, default/web-0, prod/web-0, node1, db-0, host');
    }
  });
});

describe('PodNameIndex', () => {
  it('names IPs and writes name records', () => {
    const idx = new PodNameIndex([pod('default', 'web-0', 3, ['10.244.0.5', 'FD00::5'])]);
    expect(idx.label('10.244.0.5')).toBe('default/web-0');
    expect(idx.pod('fd00::5')?.name).toBe('web-0');
    expect(idx.label('10.244.0.6')).toBeUndefined();
    expect(idx.nameRecords()).toEqual([
      { ip: '10.244.0.5', names: ['web-0.default'] },
      { ip: 'fd00::5', names: ['web-0.default'] },
    ]);
  });
});

describe('endpoint configuration', () => {
  it('--runtime-endpoint (NETSCOPE_RUNTIME_ENDPOINT) wins over CONTAINER_RUNTIME_ENDPOINT', () => {
    expect(configuredEndpoint({ NETSCOPE_RUNTIME_ENDPOINT: 'unix:///a', CONTAINER_RUNTIME_ENDPOINT: 'unix:///b' })).toBe('unix:///a');
    expect(configuredEndpoint({ CONTAINER_RUNTIME_ENDPOINT: 'unix:///b' })).toBe('unix:///b');
    expect(configuredEndpoint({})).toBeUndefined();
  });
  it('sandboxInfo reads pid and netns path from containerd/CRI-O verbose info, and survives junk', () => {
    const info = JSON.stringify({ pid: 4242, runtimeSpec: { linux: { namespaces: [{ type: 'pid' }, { type: 'network', path: '/var/run/netns/cni-1' }] } } });
    expect(sandboxInfo({ status: null, info: { info } })).toEqual({ pid: 4242, netnsPath: '/var/run/netns/cni-1' });
    expect(sandboxInfo({ status: null, info: { info: '{not json' } })).toEqual({});
    expect(sandboxInfo({ status: null, info: {} })).toEqual({});
  });
});

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-k8s-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('PodResolver: kubelet files (no runtime)', () => {
  it('joins cgroup pod uids with /var/log/pods names; cgroups read once per process', async () => {
    const root = path.join(tmp, 'fallback');
    const u = (i: number): string => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`;
    const { proc, logs } = writeFakeProc(
      root,
      [
        { ns: 'default', name: 'web-0', uid: u(1), pid: 100, inode: 9001 },
        { ns: 'shop', name: 'db-0', uid: u(2), pid: 200, inode: 9002, systemd: true },
        // No kubelet directory for this one: not named.
        { ns: 'x', name: 'gone', uid: u(3), pid: 300, inode: 9003 },
      ],
      [{ pid: 101, inode: 9001 }, { pid: 400, inode: 9004 }],
    );
    fs.rmdirSync(path.join(logs, `x_gone_${u(3)}`));
    const warnings: string[] = [];
    const r = new PodResolver({ endpoint: `unix://${path.join(root, 'no.sock')}`, procRoot: proc, podLogDir: logs, onWarning: (m) => warnings.push(m) });
    const t = await r.resolve();
    expect(t.source).toBe('kubelet');
    expect(t.pods.map((p) => [p.namespace, p.name, p.uid, p.netnsInode, p.pid, p.source])).toEqual([
      ['default', 'web-0', u(1), 9001, 100, 'kubelet'],
      ['shop', 'db-0', u(2), 9002, 200, 'kubelet'],
    ]);
    expect(t.byInode.get(9002)?.name).toBe('db-0');
    // The named runtime socket does not exist: reported once, not on the next resolution.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/no\.sock: ListPodSandbox: cannot connect \(ENOENT: no such socket\); pod names from the kubelet's files/);
    const spy = jest.spyOn(fs.promises, 'readFile');
    const again = await r.resolve();
    expect(again.pods.map((p) => p.name)).toEqual(['web-0', 'db-0']);
    expect(spy.mock.calls.filter((c) => String(c[0]).endsWith('cgroup'))).toHaveLength(0);
    spy.mockRestore();
    expect(warnings).toHaveLength(1);
    r.close();
  });

  it('without kubelet directories nothing is read from /proc and no pods are named', async () => {
    const r = new PodResolver({ endpoint: 'unix:///nonexistent/x.sock', procRoot: '/nonexistent', podLogDir: path.join(tmp, 'none'), onWarning: () => undefined });
    expect(await r.resolve()).toMatchObject({ pods: [], source: 'none' });
    r.close();
  });
});

describe('PodResolver: CRI runtime', () => {
  it('names namespaces by inode from verbose status; status asked once per sandbox; containers and IPs', async () => {
    const dir = path.join(tmp, 'cri');
    fs.mkdirSync(dir);
    const netnsA = path.join(dir, 'cni-a');
    const netnsB = path.join(dir, 'cni-b');
    fs.writeFileSync(netnsA, '');
    fs.writeFileSync(netnsB, '');
    const sock = path.join(dir, 'cri.sock');
    const rt = await startFakeRuntime(sock, [
      { id: 'sb-a', ns: 'default', name: 'web-0', ip: '10.244.0.5', netns: netnsA, labels: { app: 'web' } },
      { id: 'sb-b', ns: 'default', name: 'db-0', ip: '10.244.0.6', netns: netnsB },
    ]);
    const warnings: string[] = [];
    const r = new PodResolver({ endpoint: `unix://${sock}`, onWarning: (m) => warnings.push(m) });
    try {
      const t = await r.resolve();
      expect(t.source).toBe(`unix://${sock}`);
      const web = t.byInode.get(fs.statSync(netnsA).ino);
      expect(web).toMatchObject({ namespace: 'default', name: 'web-0', uid: 'uid-sb-a', ips: ['10.244.0.5', 'fd00::1'], netnsPath: netnsA, pid: 1, sandboxId: 'sb-a', source: 'cri' });
      expect(web?.labels).toEqual({ app: 'web', 'io.kubernetes.pod.name': 'web-0' });
      expect(web?.containers).toEqual([{ id: 'c-sb-a', name: 'app', state: 'running', image: 'nginx' }]);
      expect(t.byInode.get(fs.statSync(netnsB).ino)?.name).toBe('db-0');
      await r.resolve();
      expect(rt.calls).toEqual({ list: 2, status: 2, containers: 2 });
      expect(warnings).toEqual([]);
    } finally {
      r.close();
      await rt.stop();
    }
  });

  it('a runtime that does not answer within the deadline is reported once and the kubelet files are used', async () => {
    const dir = path.join(tmp, 'hang');
    fs.mkdirSync(dir);
    const sock = path.join(dir, 'cri.sock');
    const rt = await startFakeRuntime(sock, [], { hang: true });
    const { proc, logs } = writeFakeProc(dir, [{ ns: 'default', name: 'web-0', uid: '00000000-0000-0000-0000-00000000000a', pid: 10, inode: 7001 }]);
    const warnings: string[] = [];
    const r = new PodResolver({ endpoint: `unix://${sock}`, procRoot: proc, podLogDir: logs, timeoutMs: 300, onWarning: (m) => warnings.push(m) });
    try {
      const t0 = process.hrtime.bigint();
      const t = await r.resolve();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      expect(ms).toBeGreaterThanOrEqual(290);
      expect(t.source).toBe('kubelet');
      expect(t.pods.map((p) => p.name)).toEqual(['web-0']);
      await r.resolve();
      expect(warnings).toEqual([`container runtime unix://${sock}: ListPodSandbox: no answer within 300 ms; pod names from the kubelet's files instead (--runtime-endpoint to name another)`]);
    } finally {
      r.close();
      await rt.stop();
    }
  });
});
