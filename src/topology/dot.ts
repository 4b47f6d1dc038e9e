/**
 * Renders a discovered Topology as Graphviz DOT (`netscope topo show --format dot | dot -Tsvg > topo.svg`):
 * each namespace a cluster, interfaces as nodes (bridges as boxes, taps/tuns as diamonds, addresses in the
 * label), bridge ports as edges to their bridge, veth pairs as thick edges between the two ends, across
 * namespaces. Pure: Topology in, text out.
 */
import type { IfInfo, NetnsInfo, Topology } from './discover';

export interface DotOptions {
  /** Only these namespace ids, plus the namespaces their veths lead to (so a pair is never cut in half). */
  netns?: string[];
  /** Only this bridge, its ports, their veth peers and those peers' namespaces. */
  bridge?: string;
  /** Pod name of a namespace ("default/nginx-1"), shown in its cluster's label, when known. */
  podOf?: (ns: NetnsInfo) => string | undefined;
  /** Include loopback interfaces (off: they have no edges and crowd the picture). */
  loopback?: boolean;
}

/** A DOT string literal. */
function q(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

const nodeId = (i: { netns: string; name: string }): string => q(`${i.netns}/${i.name}`);

function shownAddrs(i: IfInfo): string[] {
  return i.addrs.filter((a) => !(a.family === 'inet6' && /^fe[89ab]/i.test(a.local))).map((a) => `${a.local}/${a.prefixlen}`);
}

function nodeAttrs(i: IfInfo): string {
  const lines = [i.name, `${i.kind}${i.state === 'UP' || (i.up && i.state === 'UNKNOWN') ? '' : ` ${i.state.toLowerCase()}`}`, ...shownAddrs(i)];
  if (i.mtu !== 1500 && i.kind !== 'loopback') lines.push(`mtu ${i.mtu}`);
  const down = !i.up || i.state === 'DOWN' || i.state === 'LOWERLAYERDOWN';
  const attrs = [`label=${q(lines.join('\n'))}`];
  switch (i.kind) {
    case 'bridge':
      attrs.push('shape=box', 'style="rounded,filled"', 'fillcolor="#dce9f7"');
      break;
    case 'tap':
    case 'tun':
      attrs.push('shape=diamond', 'style=filled', 'fillcolor="#f7ecd0"');
      break;
    case 'veth':
      attrs.push('shape=ellipse');
      break;
    default:
      attrs.push('shape=ellipse', 'style=dashed');
  }
  if (down) attrs.push('color=red', 'fontcolor=red');
  return attrs.join(', ');
}

/** Which interfaces to draw, given the options. */
function selected(topo: Topology, opts: DotOptions): IfInfo[] {
  const byKey = new Map(topo.interfaces.map((i) => [`${i.netns}/${i.name}`, i]));
  let ifs = topo.interfaces.filter((i) => opts.loopback || i.kind !== 'loopback');
  if (opts.bridge !== undefined) {
    const keep = new Set<IfInfo>();
    for (const br of ifs.filter((i) => i.kind === 'bridge' && i.name === opts.bridge)) {
      keep.add(br);
      for (const p of ifs.filter((i) => i.netns === br.netns && i.master === br.name)) {
        keep.add(p);
        const peer = p.peer && byKey.get(`${p.peer.netns}/${p.peer.ifname}`);
        if (peer) for (const x of ifs.filter((i) => i.netns === peer.netns)) keep.add(x);
      }
    }
    ifs = ifs.filter((i) => keep.has(i));
  }
  if (opts.netns !== undefined) {
    const want = new Set(opts.netns);
    for (const i of ifs) if (want.has(i.netns) && i.peer) want.add(i.peer.netns);
    ifs = ifs.filter((i) => want.has(i.netns));
  }
  return ifs;
}

export function renderDot(topo: Topology, opts: DotOptions = {}): string {
  const ifs = selected(topo, opts);
  const shown = new Set(ifs.map((i) => `${i.netns}/${i.name}`));
  const out = [
    'digraph netscope {',
    '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, compound=true];',
    '  node [fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=9];',
  ];
  topo.namespaces.forEach((ns, n) => {
    const members = ifs.filter((i) => i.netns === ns.id);
    if (members.length === 0) return;
    const pod = opts.podOf?.(ns);
    const title = ns.id === '' ? "host (netscope's namespace)" : ns.label;
    out.push(`  subgraph cluster_${n} {`);
    out.push(`    label=${q(pod ? `pod ${pod}\n${title}` : title)};`, '    style=rounded;', `    color=${pod ? '"#2f7d32"' : 'gray50'};`);
    for (const i of members) out.push(`    ${nodeId(i)} [${nodeAttrs(i)}];`);
    out.push('  }');
  });
  for (const i of ifs) {
    if (i.master !== undefined && shown.has(`${i.netns}/${i.master}`)) {
      out.push(`  ${nodeId(i)} -> ${nodeId({ netns: i.netns, name: i.master })} [dir=none, style=dashed, label="port"];`);
    }
  }
  // Each veth pair once: from the end whose key sorts first.
  for (const i of ifs) {
    if (i.peer === undefined) continue;
    const a = `${i.netns}/${i.name}`;
    const b = `${i.peer.netns}/${i.peer.ifname}`;
    if (!shown.has(b) || b < a) continue;
    out.push(`  ${nodeId(i)} -> ${nodeId({ netns: i.peer.netns, name: i.peer.ifname })} [dir=none, penwidth=2.5, label="veth"];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}
