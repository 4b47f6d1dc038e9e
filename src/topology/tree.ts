/**
 * Renders a discovered Topology as a terminal tree: namespace → interfaces (bridges with their ports nested) →
 * veth peer → the peer's namespace with its addresses, then the namespace's routes. Pure: string in, string out.
 */
import { bridgePorts, type IfAddr, type IfInfo, type NetnsInfo, type Topology } from './discover';

export interface TreeOptions {
  color?: boolean;
  /** Only this bridge (in whichever namespaces have one by that name), with its ports and their peers. */
  bridge?: string;
  /** Only these namespace ids (peers in other namespaces are still described). */
  netns?: string[];
}

interface Style {
  bold(s: string): string;
  dim(s: string): string;
  state(s: string, up: boolean): string;
}

const plain: Style = { bold: (s) => s, dim: (s) => s, state: (s) => s };
const ansi: Style = {
  bold: (s) => `\x1b[1m${s}\x1b[0m`,
  dim: (s) => `\x1b[2m${s}\x1b[0m`,
  state: (s, up) => {
    const code = s === 'UP' || (up && s === 'UNKNOWN') ? 32 : s === 'DOWN' ? 31 : 33;
    return `\x1b[${code}m${s}\x1b[0m`;
  },
};

interface Node {
  text: string;
  children: Node[];
}

/** Link-local IPv6 addresses are on every interface and say nothing: the tree leaves them out (JSON keeps them). */
function shownAddrs(addrs: IfAddr[]): string[] {
  return addrs.filter((a) => !(a.family === 'inet6' && /^fe[89ab]/i.test(a.local))).map((a) => `${a.local}/${a.prefixlen}`);
}

function nsLabel(topo: Topology, id: string): string {
  const ns = topo.namespaces.find((n) => n.id === id);
  return ns ? ns.label : id || 'host';
}

function ifaceLine(i: IfInfo, st: Style): string {
  const parts = [st.bold(i.name), i.kind, st.state(i.state, i.up)];
  if (!i.up && i.state !== 'DOWN') parts.push('(admin down)');
  if (i.mac && i.kind !== 'loopback') parts.push(st.dim(i.mac));
  parts.push(st.dim(`mtu ${i.mtu}`));
  parts.push(...shownAddrs(i.addrs));
  if (i.alias) parts.push(st.dim(`"${i.alias}"`));
  return parts.join(' ');
}

function peerNode(topo: Topology, i: IfInfo, st: Style): Node | undefined {
  if (i.kind !== 'veth') return undefined;
  if (!i.peer) return { text: st.dim('peer: not found (namespace not visible)'), children: [] };
  const p = i.peer;
  const peer = topo.interfaces.find((x) => x.netns === p.netns && x.ifindex === p.ifindex);
  const where = p.netns === i.netns ? 'same namespace' : `namespace ${st.bold(nsLabel(topo, p.netns))}`;
  const addrs = peer ? shownAddrs(peer.addrs) : [];
  const state = peer ? ` ${st.state(peer.state, peer.up)}` : '';
  return { text: `⇄ ${p.ifname}${state} in ${where}${addrs.length ? ' ' + addrs.join(' ') : ''}`, children: [] };
}

function ifaceNode(topo: Topology, i: IfInfo, st: Style): Node {
  const children: Node[] = [];
  // Bridges, and any other master (bond, vrf), get their ports nested; the top level leaves them out.
  for (const port of bridgePorts(topo, i)) children.push(ifaceNode(topo, port, st));
  const peer = peerNode(topo, i, st);
  if (peer) children.push(peer);
  return { text: ifaceLine(i, st), children };
}

function namespaceNode(topo: Topology, ns: NetnsInfo, st: Style, bridge?: string): Node | undefined {
  const ifs = topo.interfaces.filter((i) => i.netns === ns.id);
  const children: Node[] = [];
  if (bridge !== undefined) {
    const brs = ifs.filter((i) => i.kind === 'bridge' && i.name === bridge);
    if (brs.length === 0) return undefined;
    for (const b of brs) children.push(ifaceNode(topo, b, st));
  } else {
    const names = new Set(ifs.map((i) => i.name));
    // Ports are drawn under their bridge; a port whose bridge is not in this namespace's dump stays top level.
    for (const i of ifs) if (!i.master || !names.has(i.master)) children.push(ifaceNode(topo, i, st));
    // fe80::/64 is on every IPv6 interface: noise in a picture (JSON keeps it).
    const routes = topo.routes.filter((r) => r.netns === ns.id && !/^fe80::\/64$/i.test(r.dst));
    if (routes.length > 0) {
      children.push({
        text: st.dim('routes'),
        children: routes.map((r) => ({
          text: [r.dst, r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : '', r.src ? `src ${r.src}` : '']
            .filter(Boolean)
            .join(' '),
          children: [],
        })),
      });
    }
  }
  const head = ns.id === '' && ns.label === 'host' ? "host (netscope's namespace)" : ns.label;
  return { text: `${st.bold(head)} ${st.dim(`[netns ${ns.inode}]`)}`, children };
}

function draw(node: Node, prefix: string, last: boolean, top: boolean, out: string[]): void {
  out.push(top ? node.text : `${prefix}${last ? '└── ' : '├── '}${node.text}`);
  const childPrefix = top ? '' : prefix + (last ? '    ' : '│   ');
  node.children.forEach((c, i) => draw(c, childPrefix, i === node.children.length - 1, false, out));
}

/** bridge → port → veth peer → namespace with IPs, per namespace; routes last. */
export function renderTree(topo: Topology, opts: TreeOptions = {}): string {
  const st = opts.color ? ansi : plain;
  const out: string[] = [];
  for (const ns of topo.namespaces) {
    if (opts.netns && !opts.netns.includes(ns.id)) continue;
    const node = namespaceNode(topo, ns, st, opts.bridge);
    if (!node) continue;
    draw(node, '', true, true, out);
  }
  // Nothing matched (an unknown --bridge): the command says so, the renderer draws nothing.
  return out.length === 0 ? '' : out.join('\n') + '\n';
}
