/**
 * `topo show --format dot` of the k8s-node example, applied in test namespaces: Graphviz accepts it, and the
 * picture has what the topology has (a cluster per namespace, cni0 and the tap, three veth pairs, four ports).
 */
import { execFileSync, spawnSync } from 'child_process';
import path from 'path';
import { cleanupPrefix, isRoot, testPrefix } from '../helpers/netns';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'netscope');
const NAME = testPrefix('dot');
const P = `${NAME}-`;

function cli(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const d = isRoot ? describe : describe.skip;

d('topo show --format dot', () => {
  beforeAll(() => {
    cleanupPrefix(P);
    const r = cli(['topo', 'apply', path.join(ROOT, 'examples', 'topology', 'k8s-node.yaml'), '--name', NAME, '--prefix', P]);
    if (r.code !== 0) throw new Error(`apply failed: ${r.err}`);
  });
  afterAll(() => {
    cli(['topo', 'destroy', '--name', NAME]);
    cleanupPrefix(P);
  });

  it('is accepted by dot -Tsvg and draws the namespaces, bridge, tap, veth pairs and addresses', () => {
    const ns = ['node', 'pod-a', 'pod-b', 'pod-c'].map((n) => `${P}${n}`);
    const r = cli(['topo', 'show', '--format', 'dot', '--netns', ...ns]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const dot = r.out;
    // A cluster per namespace, nothing from elsewhere (pods lead only back to the node).
    expect(dot.match(/subgraph cluster_/g)).toHaveLength(4);
    for (const n of ns) expect(dot).toContain(`label="${n}"`);
    expect(dot).toMatch(/"[^"]+node\/cni0" \[label="cni0\\nbridge\\n10\.244\.1\.1\/24[^"]*", shape=box/);
    expect(dot).toMatch(/"[^"]+node\/tap0" \[label="tap0\\ntap[^"]*", shape=diamond/);
    expect(dot.match(/label="veth"\]/g)).toHaveLength(3);
    expect(dot.match(/label="port"\]/g)).toHaveLength(4);
    expect(dot).toContain(`"${P}node/veth-pod-a" -> "${P}pod-a/eth0" [dir=none, penwidth=2.5, label="veth"]`);
    expect(dot).toContain('mtu 1450');

    const svg = execFileSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    expect(svg).toContain('<svg');
    expect(svg).toContain('10.244.1.4/24');
    expect(svg).toContain(`${P}pod-c`.replace(/-/g, '&#45;')); // graphviz writes "-" as an entity
  });

  it('--bridge keeps the bridge, its ports and their peers; --json with --format dot is a usage error', () => {
    const r = cli(['topo', 'show', '--format', 'dot', '--bridge', 'cni0', '--netns', `${P}node`]);
    expect(r.code).toBe(0);
    expect(r.out.match(/label="veth"\]/g)).toHaveLength(3);
    expect(spawnSync('dot', ['-Tsvg'], { input: r.out }).status).toBe(0);
    expect(cli(['topo', 'show', '--json', '--format', 'dot']).code).toBe(2);
  });
});
