/**
 * deploy/: the DaemonSet manifest parsed with the yaml package and checked field by field (host namespaces,
 * exactly the capabilities the agent needs, mounts, resources, scrape annotations, the privileged namespace),
 * the Dockerfile's entry point, and the kubectl plugin's agent discovery from a pod list.
 */
import fs from 'fs';
import path from 'path';
import { parseAllDocuments } from 'yaml';
import { agentEndpoints } from '../../src/cli/kubectl';

const ROOT = path.join(__dirname, '..', '..');

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('deploy/netscope-agent.yaml', () => {
  const docs = parseAllDocuments(fs.readFileSync(path.join(ROOT, 'deploy', 'netscope-agent.yaml'), 'utf8'));
  const objs = docs.map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as Obj;
  });
  const byKind = (k: string): Obj => {
    const o = objs.find((x) => x.kind === k);
    if (!o) throw new Error(`no ${k} in the manifest`);
    return o;
  };

  test('a namespace labelled for the privileged Pod Security level', () => {
    const ns = byKind('Namespace');
    expect(ns.apiVersion).toBe('v1');
    expect(ns.metadata.name).toBe('netscope');
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('privileged');
  });

  test('DaemonSet: host network and PID namespace, scrape annotations, selector matches the template', () => {
    const ds = byKind('DaemonSet');
    expect(ds.apiVersion).toBe('apps/v1');
    expect(ds.metadata.namespace).toBe('netscope');
    const tpl = ds.spec.template;
    expect(ds.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'netscope-agent' });
    expect(tpl.metadata.labels['app.kubernetes.io/name']).toBe('netscope-agent');
    expect(tpl.spec.hostNetwork).toBe(true);
    expect(tpl.spec.hostPID).toBe(true);
    expect(tpl.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9465', 'prometheus.io/path': '/metrics' });
    expect(tpl.spec.serviceAccountName).toBe(objs.find((o) => o.kind === 'ServiceAccount')?.metadata.name);
  });

  test('container: exactly NET_RAW, NET_ADMIN, SYS_ADMIN, SYS_PTRACE on top of nothing; not privileged; resources', () => {
    const c = byKind('DaemonSet').spec.template.spec.containers[0];
    const sc = c.securityContext;
    expect(sc.privileged).toBe(false);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.capabilities.drop).toEqual(['ALL']);
    expect([...sc.capabilities.add].sort()).toEqual(['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SYS_PTRACE']);
    expect(c.resources.requests).toEqual({ cpu: '100m', memory: '128Mi' });
    expect(c.resources.limits).toEqual({ cpu: '1', memory: '512Mi' });
    expect(c.args).toEqual(['agent', '--listen=0.0.0.0:9465', '--token-file=/etc/netscope/token/token']);
    expect(c.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz', port: 9465 });
    expect(c.ports[0]).toMatchObject({ containerPort: 9465 });
  });

  test('mounts: /run/netns (host-to-container propagation), /proc, the runtime socket, the token secret', () => {
    const spec = byKind('DaemonSet').spec.template.spec;
    const vols = new Map<string, Obj>(spec.volumes.map((v: Obj) => [v.name, v]));
    const mounts = new Map<string, Obj>(spec.containers[0].volumeMounts.map((m: Obj) => [m.mountPath, m]));
    const hostPathOf = (mountPath: string): string | undefined => vols.get(mounts.get(mountPath)?.name)?.hostPath?.path;
    expect(hostPathOf('/run/netns')).toBe('/run/netns');
    expect(mounts.get('/run/netns')?.mountPropagation).toBe('HostToContainer');
    expect(hostPathOf('/host/proc')).toBe('/proc');
    expect(hostPathOf('/run/containerd/containerd.sock')).toBe('/run/containerd/containerd.sock');
    expect(vols.get(mounts.get('/run/containerd/containerd.sock')?.name)?.hostPath?.type).toBe('Socket');
    expect(vols.get(mounts.get('/etc/netscope/token')?.name)?.secret?.secretName).toBe('netscope-agent-token');
    for (const m of mounts.values()) if (m.mountPath !== '/tmp') expect(m.readOnly).toBe(true);
  });

  test('Dockerfile runs bin/netscope agent; kubectl plugin entry point exists and is executable', () => {
    const df = fs.readFileSync(path.join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
    expect(df).toMatch(/^ENTRYPOINT \["\/opt\/netscope\/bin\/netscope"\]$/m);
    expect(df).toMatch(/^CMD \["agent", "--listen=0\.0\.0\.0:9465"\]$/m);
    expect(df).toMatch(/libpcap0\.8 iproute2 iptables nftables/);
    const st = fs.statSync(path.join(ROOT, 'bin', 'kubectl-netscope'));
    expect(st.mode & 0o111).not.toBe(0);
  });
});

describe('kubectl netscope: agents from the DaemonSet pods', () => {
  test('pod IP and node name become agent URLs; not-ready pods are marked', () => {
    const pods = {
      items: [
        { spec: { nodeName: 'w2' }, status: { podIP: '10.0.0.12', conditions: [{ type: 'Ready', status: 'True' }] } },
        { spec: { nodeName: 'w1' }, status: { podIP: 'fd00:1::5', conditions: [{ type: 'Ready', status: 'False' }] } },
        { spec: { nodeName: 'w3' }, status: {} },
      ],
    };
    expect(agentEndpoints(JSON.stringify(pods), 9465)).toEqual([
      { node: 'w1', url: 'http://[fd00:1::5]:9465', ready: false },
      { node: 'w2', url: 'http://10.0.0.12:9465', ready: true },
    ]);
  });
});
