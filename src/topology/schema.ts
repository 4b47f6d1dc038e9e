/**
 * Topology file: parsing (YAML or JSON) and validation into a TopologySpec. Nothing here touches the kernel;
 * every problem is collected (not just the first) with the file, the path in the document and the fix.
 */
import { readFileSync } from 'fs';
import YAML from 'yaml';
import { isValidIfName } from '../host/run';
import { canonicalIp, hasHostBits, parseCidr, parseIp } from './cidr';

export type IfType = 'veth' | 'bridge' | 'tap';
export type NamespaceRole = 'node' | 'pod';

/** Settings shared by a declared interface and a veth's peer end. */
export interface LinkSettings {
  addresses: string[];
  mtu?: number;
  up: boolean;
  bridge?: string;
}

export interface VethPeerSpec extends LinkSettings {
  namespace: string;
  name: string;
}

export interface InterfaceSpec extends LinkSettings {
  name: string;
  type: IfType;
  peer?: VethPeerSpec;
  /** Document path of this interface, for messages. */
  path: string;
}

export interface RouteSpec {
  to: string;
  via?: string;
  dev?: string;
  src?: string;
  path: string;
}

export interface IptablesRuleSpec {
  table: string;
  chain: string;
  rule: string[];
  path: string;
}

export interface NamespaceSpec {
  name: string;
  role: NamespaceRole;
  sysctls: Record<string, string>;
  interfaces: InterfaceSpec[];
  routes: RouteSpec[];
  iptables: IptablesRuleSpec[];
  path: string;
}

export interface TopologySpec {
  name: string;
  namespaces: NamespaceSpec[];
}

export interface SpecIssue {
  path: string;
  message: string;
}

/** A file that cannot be applied; `message` is one line per issue: "FILE: PATH: problem — fix". */
export class TopologyFileError extends Error {
  constructor(
    readonly file: string,
    readonly issues: SpecIssue[],
  ) {
    super(issues.map((i) => `${file}: ${i.path ? i.path + ': ' : ''}${i.message}`).join('\n'));
    this.name = 'TopologyFileError';
  }
}

export const TOPOLOGY_NAME = /^[A-Za-z0-9_.-]{1,32}$/;
const NS_NAME = /^[A-Za-z0-9_.-]{1,32}$/;
const SYSCTL = /^net\.[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/;
const TABLES = ['filter', 'nat', 'mangle', 'raw'];
/** Options that would make the rule something other than an appended rule netscope owns. */
const IPT_FORBIDDEN = new Set(['-A', '--append', '-I', '--insert', '-D', '--delete', '-R', '--replace', '-F', '--flush', '-X', '-N', '-P', '-t', '--table', '-Z']);

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function keyPath(base: string, key: string): string {
  const seg = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  return base === '' ? seg.replace(/^\./, '') : base + seg;
}

class Checker {
  readonly issues: SpecIssue[] = [];
  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }
  /** Reports keys not in `allowed`; returns false when v is not a mapping. */
  object(v: Json, path: string, allowed: string[], what: string): v is Record<string, Json> {
    if (!isObject(v)) {
      this.add(path, `${what} must be a mapping (key: value), got ${describe(v)}`);
      return false;
    }
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k)) this.add(keyPath(path, k), `unknown key "${k}" — allowed here: ${allowed.join(', ')}`);
    }
    return true;
  }
}

function describe(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function ifName(c: Checker, v: Json, path: string): string | undefined {
  if (typeof v !== 'string' || !isValidIfName(v)) {
    c.add(path, `invalid interface name ${JSON.stringify(v)} — use 1-15 letters, digits, "_", "." or "-"`);
    return undefined;
  }
  if (v === 'lo') {
    c.add(path, '"lo" exists in every namespace and cannot be declared — pick another name');
    return undefined;
  }
  return v;
}

function addresses(c: Checker, v: Json, path: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    c.add(path, `addresses must be a list of CIDRs, e.g. [10.244.1.2/24], got ${describe(v)}`);
    return [];
  }
  const out: string[] = [];
  v.forEach((a, i) => {
    const p = `${path}[${i}]`;
    const cidr = typeof a === 'string' ? parseCidr(a) : undefined;
    if (!cidr) {
      c.add(p, `${JSON.stringify(a)} is not a valid address with a prefix length — write e.g. 10.244.1.2/24 or fd00:10::2/64`);
      return;
    }
    const max = cidr.family === 4 ? 32 : 128;
    // /31 and /127 are point-to-point: both addresses are usable.
    if (cidr.prefixlen < max - 1 && !hasHostBits(cidr)) {
      c.add(p, `${a as string} is a network address, not an interface address — use a host inside it, e.g. ${hostExample(a as string)}`);
      return;
    }
    out.push(`${canonicalIp((a as string).split('/')[0])}/${cidr.prefixlen}`);
  });
  return out;
}

function hostExample(cidr: string): string {
  const [addr, len] = cidr.split('/');
  if (addr.includes(':')) return `${addr.endsWith('::') ? addr : addr + '::'}1/${len}`;
  const parts = addr.split('.');
  parts[3] = String(Number(parts[3]) + 1);
  return `${parts.join('.')}/${len}`;
}

function linkSettings(c: Checker, o: Record<string, Json>, path: string): LinkSettings {
  const s: LinkSettings = { addresses: addresses(c, o.addresses, keyPath(path, 'addresses')), up: true };
  if (o.mtu !== undefined) {
    if (typeof o.mtu !== 'number' || !Number.isInteger(o.mtu) || o.mtu < 68 || o.mtu > 65535) {
      c.add(keyPath(path, 'mtu'), `mtu must be an integer from 68 to 65535, got ${describe(o.mtu)}`);
    } else s.mtu = o.mtu;
  }
  if (o.up !== undefined) {
    if (typeof o.up !== 'boolean') c.add(keyPath(path, 'up'), `up must be true or false, got ${describe(o.up)}`);
    else s.up = o.up;
  }
  if (o.bridge !== undefined) {
    const b = ifName(c, o.bridge, keyPath(path, 'bridge'));
    if (b) s.bridge = b;
  }
  return s;
}

const IF_KEYS = ['type', 'addresses', 'mtu', 'up', 'bridge', 'peer'];
const PEER_KEYS = ['namespace', 'name', 'addresses', 'mtu', 'up', 'bridge'];
const NS_KEYS = ['name', 'sysctls', 'interfaces', 'routes', 'iptables'];
const ROUTE_KEYS = ['to', 'via', 'dev', 'src'];
const IPT_KEYS = ['table', 'chain', 'rule'];
const TOP_KEYS = ['name', 'nodes', 'pods'];

function interfaceSpec(c: Checker, name: string, v: Json, path: string): InterfaceSpec | undefined {
  if (!c.object(v, path, IF_KEYS, `interface ${name}`)) return undefined;
  const type = v.type;
  if (type !== 'veth' && type !== 'bridge' && type !== 'tap') {
    c.add(keyPath(path, 'type'), `type must be one of veth, bridge, tap, got ${describe(type)}`);
    return undefined;
  }
  const spec: InterfaceSpec = { name, type, path, ...linkSettings(c, v, path) };
  if (type === 'bridge' && spec.bridge) c.add(keyPath(path, 'bridge'), 'a bridge cannot be a port of another bridge — remove "bridge"');
  if (type === 'veth') {
    const pp = keyPath(path, 'peer');
    if (v.peer === undefined) {
      c.add(path, 'a veth needs its other end: add peer: {namespace: NS, name: IFNAME}');
    } else if (c.object(v.peer, pp, PEER_KEYS, 'peer')) {
      const ns = v.peer.namespace;
      if (typeof ns !== 'string' || !NS_NAME.test(ns)) c.add(keyPath(pp, 'namespace'), `peer.namespace must name a namespace declared under nodes or pods, got ${describe(ns)}`);
      const pname = ifName(c, v.peer.name, keyPath(pp, 'name'));
      if (typeof ns === 'string' && NS_NAME.test(ns) && pname) spec.peer = { namespace: ns, name: pname, ...linkSettings(c, v.peer, pp) };
    }
  } else if (v.peer !== undefined) {
    c.add(keyPath(path, 'peer'), `only a veth has a peer — remove "peer" or make the type veth`);
  }
  return spec;
}

function routeSpec(c: Checker, v: Json, path: string): RouteSpec | undefined {
  const before = c.issues.length;
  if (!c.object(v, path, ROUTE_KEYS, 'a route')) return undefined;
  const r: RouteSpec = { to: '', path };
  if (v.to === 'default') r.to = 'default';
  else {
    const cidr = typeof v.to === 'string' ? parseCidr(v.to, false) : undefined;
    if (!cidr) c.add(keyPath(path, 'to'), `to must be "default" or a CIDR like 10.42.0.0/16, got ${describe(v.to)}`);
    else if (hasHostBits(cidr)) c.add(keyPath(path, 'to'), `${v.to as string} has host bits set — write the network, e.g. ${networkText(v.to as string)}`);
    else r.to = `${canonicalIp((v.to as string).split('/')[0])}/${cidr.prefixlen}`;
  }
  if (v.via !== undefined) {
    if (typeof v.via !== 'string' || !parseIp(v.via) || v.via.includes('/')) c.add(keyPath(path, 'via'), `via must be a gateway IP address, got ${describe(v.via)}`);
    else r.via = canonicalIp(v.via);
  }
  if (v.dev !== undefined) {
    const d = typeof v.dev === 'string' && isValidIfName(v.dev) ? v.dev : undefined;
    if (!d) c.add(keyPath(path, 'dev'), `dev must be an interface name of this namespace, got ${describe(v.dev)}`);
    else r.dev = d;
  }
  if (v.src !== undefined) {
    if (typeof v.src !== 'string' || !parseIp(v.src) || v.src.includes('/')) c.add(keyPath(path, 'src'), `src must be an IP address of this namespace, got ${describe(v.src)}`);
    else r.src = canonicalIp(v.src);
  }
  if (v.via === undefined && v.dev === undefined) c.add(path, 'a route needs "via" (a gateway) or "dev" (an interface), or both');
  // An invalid route is reported once, not again by the cross-reference checks.
  return c.issues.length === before ? r : undefined;
}

function networkText(cidr: string): string {
  const c = parseCidr(cidr, false)!;
  const host = BigInt((c.family === 4 ? 32 : 128) - c.prefixlen);
  const net = (c.addr >> host) << host;
  if (c.family === 4) return `${[24n, 16n, 8n, 0n].map((s) => Number((net >> s) & 0xffn)).join('.')}/${c.prefixlen}`;
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((net >> BigInt(i * 16)) & 0xffffn).toString(16));
  return `${canonicalIp(groups.join(':'))}/${c.prefixlen}`;
}

function iptablesSpec(c: Checker, v: Json, path: string): IptablesRuleSpec | undefined {
  if (!c.object(v, path, IPT_KEYS, 'an iptables rule')) return undefined;
  const table = v.table === undefined ? 'filter' : v.table;
  if (typeof table !== 'string' || !TABLES.includes(table)) c.add(keyPath(path, 'table'), `table must be one of ${TABLES.join(', ')}, got ${describe(table)}`);
  if (typeof v.chain !== 'string' || !/^[A-Za-z0-9_.-]{1,28}$/.test(v.chain)) {
    c.add(keyPath(path, 'chain'), `chain must name an existing chain, e.g. FORWARD, got ${describe(v.chain)}`);
  }
  if (!Array.isArray(v.rule) || v.rule.length === 0 || !v.rule.every((a) => typeof a === 'string' || typeof a === 'number')) {
    c.add(keyPath(path, 'rule'), 'rule must be a non-empty list of iptables arguments, e.g. [-s, 10.244.1.0/24, -j, ACCEPT]');
    return undefined;
  }
  const rule = v.rule.map(String);
  rule.forEach((a, i) => {
    if (IPT_FORBIDDEN.has(a)) c.add(`${keyPath(path, 'rule')}[${i}]`, `"${a}" is chosen by netscope (rules are appended to "chain" in "table") — remove it`);
    if (a === 'comment' && rule[i - 1] === '-m') c.add(`${keyPath(path, 'rule')}[${i}]`, 'netscope adds its own ownership comment — remove "-m comment"');
  });
  if (typeof table !== 'string' || !TABLES.includes(table) || typeof v.chain !== 'string') return undefined;
  return { table, chain: v.chain, rule, path };
}

function sysctlSpec(c: Checker, v: Json, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined) return out;
  if (!isObject(v)) {
    c.add(path, `sysctls must be a mapping like {net.ipv4.ip_forward: 1}, got ${describe(v)}`);
    return out;
  }
  for (const [k, val] of Object.entries(v)) {
    const p = keyPath(path, k);
    if (!SYSCTL.test(k)) c.add(p, `only per-namespace net.* sysctls can be set (e.g. net.ipv4.ip_forward), got "${k}"`);
    else if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean') c.add(p, `a sysctl value must be a number or string, got ${describe(val)}`);
    else out[k] = typeof val === 'boolean' ? (val ? '1' : '0') : String(val).trim();
  }
  return out;
}

function namespaceSpec(c: Checker, v: Json, path: string, role: NamespaceRole): NamespaceSpec | undefined {
  if (!c.object(v, path, NS_KEYS, `a ${role}`)) return undefined;
  if (typeof v.name !== 'string' || !NS_NAME.test(v.name)) {
    c.add(keyPath(path, 'name'), `a ${role} needs a name of 1-32 letters, digits, "_", "." or "-", got ${describe(v.name)}`);
    return undefined;
  }
  const ns: NamespaceSpec = { name: v.name, role, sysctls: sysctlSpec(c, v.sysctls, keyPath(path, 'sysctls')), interfaces: [], routes: [], iptables: [], path };
  if (v.interfaces !== undefined) {
    const ip = keyPath(path, 'interfaces');
    if (!isObject(v.interfaces)) c.add(ip, `interfaces must be a mapping of interface name to settings, got ${describe(v.interfaces)}`);
    else {
      for (const [name, body] of Object.entries(v.interfaces)) {
        const p = keyPath(ip, name);
        if (!ifName(c, name, p)) continue;
        const spec = interfaceSpec(c, name, body, p);
        if (spec) ns.interfaces.push(spec);
      }
    }
  }
  const list = <T>(key: string, what: string, f: (x: Json, p: string) => T | undefined): T[] => {
    const val = v[key];
    if (val === undefined) return [];
    if (!Array.isArray(val)) {
      c.add(keyPath(path, key), `${key} must be a list of ${what}, got ${describe(val)}`);
      return [];
    }
    return val.map((x, i) => f(x, `${keyPath(path, key)}[${i}]`)).filter((x): x is T => x !== undefined);
  };
  ns.routes = list('routes', 'routes', (x, p) => routeSpec(c, x, p));
  ns.iptables = list('iptables', 'rules', (x, p) => iptablesSpec(c, x, p));
  return ns;
}

/** Cross-references: duplicates, peers and bridges that exist, route devices, duplicate addresses. */
function checkReferences(c: Checker, spec: TopologySpec): void {
  const byName = new Map<string, NamespaceSpec>();
  for (const ns of spec.namespaces) {
    if (byName.has(ns.name)) c.add(keyPath(ns.path, 'name'), `namespace "${ns.name}" is declared twice (also at ${byName.get(ns.name)!.path}) — rename one`);
    else byName.set(ns.name, ns);
  }
  // Every interface name per namespace, including veth peer ends declared from the other side.
  const ifs = new Map<string, Map<string, { path: string; type: IfType; settings: LinkSettings }>>();
  const declare = (ns: string, name: string, path: string, type: IfType, settings: LinkSettings): void => {
    const m = ifs.get(ns) ?? new Map();
    ifs.set(ns, m);
    const prev = m.get(name);
    if (prev) c.add(path, `interface "${name}" is declared twice in namespace "${ns}" (also at ${prev.path}) — rename one`);
    else m.set(name, { path, type, settings });
  };
  for (const ns of spec.namespaces) {
    for (const i of ns.interfaces) {
      declare(ns.name, i.name, i.path, i.type, i);
      if (i.peer) {
        const pp = keyPath(i.path, 'peer');
        if (!byName.has(i.peer.namespace)) {
          c.add(keyPath(pp, 'namespace'), `namespace "${i.peer.namespace}" is not declared — add it under nodes or pods, or fix the name (declared: ${[...byName.keys()].join(', ') || 'none'})`);
        } else declare(i.peer.namespace, i.peer.name, pp, 'veth', i.peer);
      }
    }
  }
  for (const [ns, m] of ifs) {
    for (const [, d] of m) {
      if (!d.settings.bridge) continue;
      const br = m.get(d.settings.bridge);
      const bp = keyPath(d.path, 'bridge');
      if (!br) c.add(bp, `bridge "${d.settings.bridge}" is not declared in namespace "${ns}" — declare it there with type: bridge`);
      else if (br.type !== 'bridge') c.add(bp, `"${d.settings.bridge}" in namespace "${ns}" is a ${br.type}, not a bridge`);
    }
  }
  for (const ns of spec.namespaces) {
    const m = ifs.get(ns.name) ?? new Map();
    const dsts = new Map<string, string>();
    for (const r of ns.routes) {
      // Multipath and metrics are not modelled: one route per destination and family.
      const k = r.to === 'default' ? `default/${(r.via ?? r.src ?? '').includes(':') ? 6 : 4}` : r.to;
      if (dsts.has(k)) c.add(keyPath(r.path, 'to'), `a route to ${r.to} is already declared at ${dsts.get(k)} — keep one`);
      else dsts.set(k, r.path);
      if (r.dev && !m.has(r.dev)) c.add(keyPath(r.path, 'dev'), `interface "${r.dev}" is not declared in namespace "${ns.name}" — declare it or fix the name`);
    }
  }
  const seen = new Map<string, string>();
  for (const [, m] of ifs) {
    for (const [, d] of m) {
      d.settings.addresses.forEach((a, i) => {
        const ip = a.split('/')[0];
        const p = `${keyPath(d.path, 'addresses')}[${i}]`;
        if (seen.has(ip)) c.add(p, `address ${ip} is also assigned at ${seen.get(ip)} — every address must be unique`);
        else seen.set(ip, p);
      });
    }
  }
}

/** Validates an already-parsed document; throws TopologyFileError listing every problem. */
export function validateTopology(doc: Json, file: string): TopologySpec {
  const c = new Checker();
  const spec: TopologySpec = { name: '', namespaces: [] };
  if (c.object(doc, '', TOP_KEYS, 'the topology file')) {
    if (typeof doc.name !== 'string' || !TOPOLOGY_NAME.test(doc.name)) {
      c.add('name', `the topology needs a name of 1-32 letters, digits, "_", "." or "-" (it tags what netscope creates), got ${describe(doc.name)}`);
    } else spec.name = doc.name;
    for (const [key, role] of [['nodes', 'node'], ['pods', 'pod']] as const) {
      const v = doc[key];
      if (v === undefined) continue;
      if (!Array.isArray(v)) {
        c.add(key, `${key} must be a list of namespaces (- name: …), got ${describe(v)}`);
        continue;
      }
      v.forEach((x, i) => {
        const ns = namespaceSpec(c, x, `${key}[${i}]`, role);
        if (ns) spec.namespaces.push(ns);
      });
    }
    if (doc.nodes === undefined && doc.pods === undefined) c.add('', 'the topology declares no namespaces — add nodes: or pods:');
    checkReferences(c, spec);
  }
  if (c.issues.length > 0) throw new TopologyFileError(file, c.issues);
  return spec;
}

/** Parses YAML (JSON is YAML too) text; syntax errors name the line and column. */
export function parseTopologyText(text: string, file: string): TopologySpec {
  let doc: Json;
  try {
    doc = YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const e = err as Error & { linePos?: { line: number; col: number }[] };
    const where = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    throw new TopologyFileError(file, [{ path: where, message: `not valid YAML/JSON: ${e.message.split('\n')[0]}` }]);
  }
  return validateTopology(doc, file);
}

export function loadTopologyFile(file: string): TopologySpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TopologyFileError(file, [{ path: '', message: `cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}) — check the path` }]);
  }
  return parseTopologyText(text, file);
}
