import path from 'path';
import { canonicalIp, overlaps, parseCidr } from '../../src/topology/cidr';
import { findHostOverlaps } from '../../src/topology/plan';
import { loadTopologyFile, parseTopologyText, TopologyFileError } from '../../src/topology/schema';

const EX = path.join(__dirname, '..', '..', 'examples', 'topology');

/** The issue lines for a document (YAML text), or [] when it is valid. */
function issues(yaml: string): string[] {
  try {
    parseTopologyText(yaml, 't.yaml');
    return [];
  } catch (err) {
    if (!(err instanceof TopologyFileError)) throw err;
    return err.message.split('\n');
  }
}

const POD = (body: string) => `name: t\npods:\n  - name: a\n${body}`;

describe('topology files: examples', () => {
  test.each(['veth-pair.yaml', 'bridge.yaml', 'k8s-node.yaml'])('%s is valid', (f) => {
    const spec = loadTopologyFile(path.join(EX, f));
    expect(spec.namespaces.length).toBeGreaterThanOrEqual(2);
  });

  test('k8s-node declares node with cni0, tap, ip_forward, FORWARD rule and three pods with default routes', () => {
    const spec = loadTopologyFile(path.join(EX, 'k8s-node.yaml'));
    const node = spec.namespaces.find((n) => n.role === 'node')!;
    expect(node.interfaces.find((i) => i.name === 'cni0')).toMatchObject({ type: 'bridge', addresses: ['10.244.1.1/24'] });
    expect(node.interfaces.find((i) => i.name === 'tap0')).toMatchObject({ type: 'tap', bridge: 'cni0' });
    expect(node.sysctls).toEqual({ 'net.ipv4.ip_forward': '1' });
    expect(node.iptables[0]).toMatchObject({ table: 'filter', chain: 'FORWARD' });
    const pods = spec.namespaces.filter((n) => n.role === 'pod');
    expect(pods).toHaveLength(3);
    for (const p of pods) {
      expect(p.routes).toEqual([expect.objectContaining({ to: 'default', via: '10.244.1.1' })]);
      expect(p.interfaces[0].peer).toMatchObject({ namespace: 'node', bridge: 'cni0' });
    }
  });

  test('JSON is accepted', () => {
    const spec = parseTopologyText(JSON.stringify({ name: 'j', pods: [{ name: 'a' }] }), 'x.json');
    expect(spec).toMatchObject({ name: 'j', namespaces: [{ name: 'a', role: 'pod' }] });
  });
});

describe('topology files: validation messages name file, path and fix', () => {
  test('bad address: file, document path and an example', () => {
    const lines = issues(`name: t
pods:
  - name: a
  - name: b
    interfaces:
      eth0:
        type: veth
        addresses: [10.244.1.300/24]
        peer: {namespace: a, name: e1}
`);
    expect(lines).toEqual([expect.stringMatching(/^t\.yaml: pods\[1\]\.interfaces\.eth0\.addresses\[0\]: "10\.244\.1\.300\/24" is not a valid address with a prefix length — write e\.g\. 10\.244\.1\.2\/24/)]);
  });

  test('network address instead of a host address', () => {
    expect(issues(POD('    interfaces: {b0: {type: bridge, addresses: [10.244.1.0/24]}}\n'))).toEqual([
      expect.stringContaining('pods[0].interfaces.b0.addresses[0]: 10.244.1.0/24 is a network address, not an interface address — use a host inside it, e.g. 10.244.1.1/24'),
    ]);
  });

  test('unknown keys at every level list the allowed ones', () => {
    const lines = issues(`name: t
colour: red
pods:
  - name: a
    extra: 1
    interfaces:
      b0: {type: bridge, adresses: [10.244.1.1/24]}
`);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringContaining('t.yaml: colour: unknown key "colour" — allowed here: name, nodes, pods'),
        expect.stringContaining('pods[0].extra: unknown key "extra"'),
        expect.stringMatching(/pods\[0\]\.interfaces\.b0\.adresses: unknown key "adresses" — allowed here: type, addresses/),
      ]),
    );
  });

  test('interface names: length, characters, lo', () => {
    const lines = issues(POD('    interfaces:\n      thisnameistoolong0: {type: bridge}\n      "bad/name": {type: tap}\n      lo: {type: tap}\n'));
    expect(lines).toEqual([
      expect.stringContaining('pods[0].interfaces.thisnameistoolong0: invalid interface name "thisnameistoolong0" — use 1-15 letters'),
      expect.stringContaining('pods[0].interfaces["bad/name"]: invalid interface name'),
      expect.stringContaining('pods[0].interfaces.lo: "lo" exists in every namespace'),
    ]);
  });

  test('duplicates: namespaces, interfaces (including a veth peer end), addresses', () => {
    const lines = issues(`name: t
nodes:
  - name: n
    interfaces:
      br0: {type: bridge, addresses: [10.244.1.1/24]}
pods:
  - name: n
  - name: p
    interfaces:
      eth0:
        type: veth
        addresses: [10.244.1.1/24]
        peer: {namespace: n, name: br0}
`);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringContaining('pods[0].name: namespace "n" is declared twice (also at nodes[0]) — rename one'),
        expect.stringContaining('pods[1].interfaces.eth0.peer: interface "br0" is declared twice in namespace "n" (also at nodes[0].interfaces.br0)'),
        expect.stringContaining('address 10.244.1.1 is also assigned at nodes[0].interfaces.br0.addresses[0]'),
      ]),
    );
  });

  test('references to undeclared namespaces, bridges and devices', () => {
    const lines = issues(`name: t
pods:
  - name: a
    interfaces:
      eth0: {type: veth, bridge: br9, peer: {namespace: ghost, name: v0}}
      t0: {type: tap, bridge: eth0}
    routes:
      - {to: default, via: 10.244.1.1, dev: eth9}
`);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringContaining('pods[0].interfaces.eth0.peer.namespace: namespace "ghost" is not declared — add it under nodes or pods, or fix the name (declared: a)'),
        expect.stringContaining('pods[0].interfaces.eth0.bridge: bridge "br9" is not declared in namespace "a"'),
        expect.stringContaining('pods[0].interfaces.t0.bridge: "eth0" in namespace "a" is a veth, not a bridge'),
        expect.stringContaining('pods[0].routes[0].dev: interface "eth9" is not declared in namespace "a"'),
      ]),
    );
  });

  test('routes, sysctls, iptables and types', () => {
    const lines = issues(`name: t
nodes:
  - name: n
    sysctls: {kernel.pid_max: 10, net.ipv4.ip_forward: [1]}
    interfaces:
      x0: {type: dummy}
      v0: {type: veth}
    routes:
      - {to: 10.42.1.5/16, via: 10.42.0.1}
      - {to: default}
      - {to: default, via: 10.42.0.1/24}
      - {to: default, via: 10.42.0.2}
      - {to: default, via: 10.42.0.3}
      - {to: default, via: "fd00:42::1"}
    iptables:
      - {table: nope, chain: FORWARD, rule: [-j, ACCEPT]}
      - {chain: FORWARD, rule: [-I, FORWARD, -j, ACCEPT]}
      - {chain: FORWARD, rule: [-m, comment, --comment, x]}
      - {chain: FORWARD, rule: []}
`);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringContaining('nodes[0].sysctls["kernel.pid_max"]: only per-namespace net.* sysctls can be set'),
        expect.stringContaining('nodes[0].sysctls["net.ipv4.ip_forward"]: a sysctl value must be a number or string'),
        expect.stringContaining('nodes[0].interfaces.x0.type: type must be one of veth, bridge, tap'),
        expect.stringContaining('nodes[0].interfaces.v0: a veth needs its other end: add peer: {namespace: NS, name: IFNAME}'),
        expect.stringContaining('nodes[0].routes[0].to: 10.42.1.5/16 has host bits set — write the network, e.g. 10.42.0.0/16'),
        expect.stringContaining('nodes[0].routes[1]: a route needs "via" (a gateway) or "dev"'),
        expect.stringContaining('nodes[0].routes[2].via: via must be a gateway IP address'),
        expect.stringContaining('nodes[0].routes[4].to: a route to default is already declared at nodes[0].routes[3] — keep one'),
        expect.stringContaining('nodes[0].iptables[0].table: table must be one of filter, nat, mangle, raw'),
        expect.stringContaining('nodes[0].iptables[1].rule[0]: "-I" is chosen by netscope'),
        expect.stringContaining('nodes[0].iptables[2].rule[1]: netscope adds its own ownership comment'),
        expect.stringContaining('nodes[0].iptables[3].rule: rule must be a non-empty list'),
      ]),
    );
    expect(lines).toHaveLength(12);
  });

  test('missing name and namespaces; YAML syntax errors give the line; unreadable file', () => {
    expect(issues('pods: []\n')).toEqual([expect.stringContaining('t.yaml: name: the topology needs a name')]);
    expect(issues('name: t\n')).toEqual([expect.stringContaining('declares no namespaces — add nodes: or pods:')]);
    expect(issues('name: t\npods:\n  - name: a\n    name: b\n')).toEqual([expect.stringMatching(/^t\.yaml: line 4, column \d+: not valid YAML\/JSON/)]);
    expect(issues('[1, 2')).toEqual([expect.stringMatching(/not valid YAML\/JSON/)]);
    expect(() => loadTopologyFile('/nonexistent/x.yaml')).toThrow(/\/nonexistent\/x\.yaml: cannot read the file \(ENOENT\) — check the path/);
  });
});

describe('host overlap', () => {
  const spec = parseTopologyText(
    `name: t
pods:
  - name: a
    interfaces:
      eth0:
        type: veth
        addresses: [192.0.2.9/24, 10.244.3.2/24]
        peer: {namespace: b, name: e, addresses: ["fd00::9/64"]}
  - name: b
`,
    't.yaml',
  );
  test("refuses addresses inside the host's networks, with the path and the override", () => {
    const found = findHostOverlaps(spec, { addresses: ['192.0.2.2/24', 'fd00::2/64', 'fe80::1/64'], routes: ['default', '192.0.2.0/24'] });
    expect(found.map((f) => f.path)).toEqual(['pods[0].interfaces.eth0.addresses[0]', 'pods[0].interfaces.eth0.peer.addresses[0]']);
    expect(found[0].message).toMatch(/192\.0\.2\.9\/24 overlaps the host's address 192\.0\.2\.2\/24: .* or pass --allow-overlap/);
  });
  test('a host route covering the range counts too; link-local and loopback do not', () => {
    const found = findHostOverlaps(spec, { addresses: ['127.0.0.1/8', 'fe80::1/64'], routes: ['10.0.0.0/8'] });
    expect(found.map((f) => f.path)).toEqual(['pods[0].interfaces.eth0.addresses[1]']);
  });
});

describe('cidr', () => {
  test('parse, canonical text, overlap', () => {
    expect(parseCidr('10.244.1.2/24')).toEqual({ family: 4, addr: 0x0af40102n, prefixlen: 24 });
    expect(parseCidr('10.244.1.2')).toBeUndefined();
    expect(parseCidr('10.244.1.2/33')).toBeUndefined();
    expect(parseCidr('fd00::1/129')).toBeUndefined();
    expect(canonicalIp('fd00:0:0::0002')).toBe('fd00::2');
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('::ffff:10.0.0.1'); // RFC 5952 §5, as tcpdump and the decoder print it
    expect(canonicalIp('1:0:0:2:0:0:0:3')).toBe('1:0:0:2::3');
    expect(overlaps(parseCidr('10.244.0.0/16')!, parseCidr('10.244.9.1/24')!)).toBe(true);
    expect(overlaps(parseCidr('10.244.0.0/16')!, parseCidr('10.42.9.1/24')!)).toBe(false);
    expect(overlaps(parseCidr('fd00::/64')!, parseCidr('fd00::9/128')!)).toBe(true);
    expect(overlaps(parseCidr('fd00::/64')!, parseCidr('10.0.0.1/8')!)).toBe(false);
  });
});
