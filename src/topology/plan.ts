/**
 * The planner: compares a validated TopologySpec with the live state and lists the changes that converge
 * the kernel to the file. Pure (no I/O): the same inputs give the same plan, so it is unit-tested directly.
 *
 * Order: removals first (so names and addresses are free again), then namespaces, bridges, taps, veths,
 * sysctls, link settings (master, mtu, addresses, up), routes, iptables rules. Every change that creates or
 * modifies something carries the commands that undo it, used by rollback.
 */
import type { IpRouteJson } from '../host/iproute';
import { canonicalIp, parseCidr, overlaps } from './cidr';
import type { IfInfo } from './discover';
import { namespaceName, ownerTag, ruleComment, ruleHash } from './ownership';
import type { InterfaceSpec, LinkSettings, TopologySpec } from './schema';
import type { LiveState, OwnedRule } from './state';

/** One command: argv run through src/host/run.ts, in `netns` (ip netns exec) when set. */
export interface Cmd {
  argv: string[];
  netns?: string;
}

export interface Change {
  /** + create, - remove, ~ modify. */
  op: '+' | '-' | '~';
  text: string;
  /** The namespace the change lives in (rollback skips it when that namespace was created by the same run). */
  ns?: string;
  /** Set on "create namespace": rollback deletes the namespace and with it everything inside. */
  createsNamespace?: string;
  cmds: Cmd[];
  /** Run in order on rollback (after the first command succeeded). */
  undo: Cmd[];
}

export interface Plan {
  topology: string;
  prefix: string;
  changes: Change[];
}

export class PlanConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanConflictError';
  }
}

const ipn = (ns: string, ...args: string[]): Cmd => ({ argv: ['ip', '-n', ns, ...args] });

interface End {
  ns: string;
  name: string;
  type: InterfaceSpec['type'];
  settings: LinkSettings;
  /** veth: the other end. */
  peer?: { ns: string; name: string };
  /** veth: true for the end whose namespace declared it (that side creates the pair). */
  creator: boolean;
}

function desiredEnds(spec: TopologySpec, prefix: string): End[] {
  const out: End[] = [];
  for (const ns of spec.namespaces) {
    const real = namespaceName(prefix, ns.name);
    for (const i of ns.interfaces) {
      if (i.type !== 'veth' || !i.peer) {
        out.push({ ns: real, name: i.name, type: i.type, settings: i, creator: true });
        continue;
      }
      const peerNs = namespaceName(prefix, i.peer.namespace);
      out.push({ ns: real, name: i.name, type: 'veth', settings: i, peer: { ns: peerNs, name: i.peer.name }, creator: true });
      out.push({ ns: peerNs, name: i.peer.name, type: 'veth', settings: i.peer, peer: { ns: real, name: i.name }, creator: false });
    }
  }
  return out;
}

function isLinkLocal6(a: { family: string; local: string }): boolean {
  return a.family === 'inet6' && /^fe[89ab]/i.test(a.local);
}

function liveAddrs(i: IfInfo): string[] {
  return i.addrs.filter((a) => !isLinkLocal6(a)).map((a) => `${canonicalIp(a.local)}/${a.prefixlen}`);
}

function routeFamily(r: { to: string; via?: string; src?: string }): 4 | 6 {
  if (r.to !== 'default') return r.to.includes(':') ? 6 : 4;
  return (r.via ?? r.src ?? '').includes(':') ? 6 : 4;
}

function normDst(dst: string): string {
  if (dst === 'default') return dst;
  const [a, len] = dst.split('/');
  const fam = a.includes(':') ? 128 : 32;
  return `${canonicalIp(a)}/${len ?? fam}`;
}

function routeArgs(r: { to: string; via?: string; dev?: string; src?: string }): string[] {
  const args = [r.to];
  if (r.via) args.push('via', r.via);
  if (r.dev) args.push('dev', r.dev);
  if (r.src) args.push('src', r.src);
  return args;
}

function routeText(r: { to: string; via?: string; dev?: string; src?: string }): string {
  return routeArgs(r).join(' ');
}

/** Host addresses/routes that a declared address must not overlap (unless --allow-overlap). */
export interface HostNetworks {
  /** "ip/len" of the host's own addresses (loopback and link-local excluded by the caller or here). */
  addresses: string[];
  /** Destination prefixes of the host's main-table routes ("default" ignored). */
  routes: string[];
}

/** Issues for declared addresses overlapping the host's networks: "path: message". */
export function findHostOverlaps(spec: TopologySpec, host: HostNetworks): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const hostNets = [
    ...host.addresses.map((a) => ({ what: `the host's address ${a}`, c: parseCidr(a) })),
    ...host.routes.filter((r) => r !== 'default').map((r) => ({ what: `the host's route to ${r}`, c: parseCidr(r, false) })),
  ].filter((x) => x.c && !(x.c.family === 6 && (x.c.addr >> 118n) === 0x3fan) && !(x.c.family === 4 && (x.c.addr >> 24n) === 127n));
  const check = (addrs: string[], path: string): void => {
    addrs.forEach((a, i) => {
      const c = parseCidr(a)!;
      const hit = hostNets.find((h) => overlaps(h.c!, c));
      if (hit) out.push({ path: `${path}.addresses[${i}]`, message: `${a} overlaps ${hit.what}: traffic would leak to or shadow the host — use another range (e.g. 10.244.0.0/16) or pass --allow-overlap` });
    });
  };
  for (const ns of spec.namespaces) {
    for (const i of ns.interfaces) {
      check(i.addresses, i.path);
      if (i.peer) check(i.peer.addresses, `${i.path}.peer`);
    }
  }
  return out;
}

/** Computes the changes that take `live` to `spec` (namespaces named prefix + declared name). */
export function planTopology(spec: TopologySpec, prefix: string, live: LiveState): Plan {
  const topo = spec.name;
  const tag = ownerTag(topo);
  const changes: Change[] = [];
  const declaredNs = spec.namespaces.map((n) => namespaceName(prefix, n.name));

  // Conflicts: a declared namespace that exists but is not ours.
  for (const real of declaredNs) {
    if (live.namespaces.has(real) && live.namespaces.get(real) !== topo) {
      const owner = live.namespaces.get(real);
      throw new PlanConflictError(
        `namespace ${real} already exists and ${owner ? `belongs to topology "${owner}"` : 'was not created by netscope'} — choose another --prefix, or remove it (ip netns del ${real}) if it is stale`,
      );
    }
  }

  // 1. Namespaces this topology owns but no longer declares.
  const removedNs = new Set<string>();
  for (const [name, owner] of live.namespaces) {
    if (owner === topo && !declaredNs.includes(name)) {
      removedNs.add(name);
      changes.push({ op: '-', text: `namespace ${name}`, cmds: [{ argv: ['ip', 'netns', 'del', name] }], undo: [] });
    }
  }

  const ends = desiredEnds(spec, prefix);
  const findLive = (ns: string, name: string): IfInfo | undefined => live.interfaces.find((i) => i.netns === ns && i.name === name);
  const liveById = (ns: string, ifindex: number): IfInfo | undefined => live.interfaces.find((i) => i.netns === ns && i.ifindex === ifindex);

  // 2. Decide per desired end: keep (converge settings) or (re)create. A veth is kept only when both ends exist
  //    as the right pair; a kind mismatch or wrong peer means replace.
  const keep = new Map<string, IfInfo>();
  const key = (ns: string, name: string): string => `${ns}/${name}`;
  const toDelete = new Map<string, IfInfo>();
  for (const e of ends) {
    const cur = findLive(e.ns, e.name);
    if (!cur) continue;
    if (cur.alias !== tag) {
      throw new PlanConflictError(`interface ${e.name} already exists in namespace ${e.ns} and was not created by topology "${topo}" — rename it in the file or delete it`);
    }
    let ok = cur.kind === e.type;
    if (ok && e.peer) ok = cur.peer?.netns === e.peer.ns && cur.peer.ifname === e.peer.name;
    if (ok) keep.set(key(e.ns, e.name), cur);
    else toDelete.set(key(e.ns, e.name), cur);
  }
  // Owned links no longer declared.
  const wanted = new Set(ends.map((e) => key(e.ns, e.name)));
  for (const i of live.interfaces) {
    // lo carries the namespace's ownership mark; it is not a declared link.
    if (i.alias === tag && i.name !== 'lo' && !wanted.has(key(i.netns, i.name)) && !removedNs.has(i.netns)) toDelete.set(key(i.netns, i.name), i);
  }
  // Deleting a veth end deletes its peer: do it once per pair, and not at all when the peer's namespace goes.
  const deleted = new Set<string>();
  for (const [k, i] of toDelete) {
    if (deleted.has(k)) continue;
    deleted.add(k);
    const peer = i.peer ? liveById(i.peer.netns, i.peer.ifindex) : undefined;
    if (peer) {
      const pk = key(peer.netns, peer.name);
      if (removedNs.has(peer.netns)) continue;
      deleted.add(pk);
      keep.delete(pk);
    }
    changes.push({ op: '-', ns: i.netns, text: `${i.netns}: ${i.kind} ${i.name}${wanted.has(k) ? ' (to recreate: type or peer changed)' : ''}`, cmds: [ipn(i.netns, 'link', 'del', i.name)], undo: [] });
  }
  // A kept veth whose peer lives in a namespace being removed vanishes with it.
  for (const [k, i] of keep) if (i.peer && removedNs.has(i.peer.netns)) keep.delete(k);

  // 3. Namespaces to create.
  for (const real of declaredNs) {
    if (live.namespaces.has(real)) continue;
    changes.push({
      op: '+',
      text: `namespace ${real}`,
      ns: real,
      createsNamespace: real,
      cmds: [{ argv: ['ip', 'netns', 'add', real] }, ipn(real, 'link', 'set', 'lo', 'alias', tag, 'up')],
      undo: [{ argv: ['ip', 'netns', 'del', real] }],
    });
  }

  // 4. Links to create: bridges, taps, then veths (a veth end may go straight into a bridge).
  const created = new Set<string>();
  for (const type of ['bridge', 'tap', 'veth'] as const) {
    for (const e of ends) {
      if (e.type !== type || !e.creator || keep.has(key(e.ns, e.name))) continue;
      const mtu = e.settings.mtu !== undefined ? ['mtu', String(e.settings.mtu)] : [];
      const cmds: Cmd[] = [];
      let text: string;
      if (type === 'bridge') {
        cmds.push(ipn(e.ns, 'link', 'add', e.name, ...mtu, 'type', 'bridge'), ipn(e.ns, 'link', 'set', e.name, 'alias', tag));
        text = `${e.ns}: bridge ${e.name}`;
      } else if (type === 'tap') {
        cmds.push(ipn(e.ns, 'tuntap', 'add', 'dev', e.name, 'mode', 'tap'), ipn(e.ns, 'link', 'set', e.name, 'alias', tag, ...mtu));
        text = `${e.ns}: tap ${e.name}`;
      } else {
        const peer = e.peer!;
        const peerEnd = ends.find((x) => x.ns === peer.ns && x.name === peer.name)!;
        const pmtu = peerEnd.settings.mtu !== undefined ? ['mtu', String(peerEnd.settings.mtu)] : [];
        cmds.push(
          ipn(e.ns, 'link', 'add', e.name, ...mtu, 'type', 'veth', 'peer', 'name', peer.name, 'netns', peer.ns, ...pmtu),
          ipn(e.ns, 'link', 'set', e.name, 'alias', tag),
          ipn(peer.ns, 'link', 'set', peer.name, 'alias', tag),
        );
        created.add(key(peer.ns, peer.name));
        text = `${e.ns}: veth ${e.name} ⇄ ${peer.ns}: ${peer.name}`;
      }
      created.add(key(e.ns, e.name));
      changes.push({ op: '+', ns: e.ns, text, cmds, undo: [ipn(e.ns, 'link', 'del', e.name)] });
    }
  }

  // 5. sysctls, after links exist (a key may name an interface: net.ipv4.conf.cni0.forwarding).
  for (const ns of spec.namespaces) {
    const real = namespaceName(prefix, ns.name);
    const cur = live.sysctls.get(real) ?? {};
    for (const [k, v] of Object.entries(ns.sysctls)) {
      const old = cur[k];
      if (old === v) continue;
      changes.push({
        op: '~',
        ns: real,
        text: `${real}: sysctl ${k} = ${v}${old !== undefined ? ` (was ${old})` : ''}`,
        cmds: [{ argv: ['sysctl', '-q', '-w', `${k}=${v}`], netns: real }],
        undo: old !== undefined ? [{ argv: ['sysctl', '-q', '-w', `${k}=${old}`], netns: real }] : [],
      });
    }
  }

  // Routes: netscope adds them with "proto static"; static routes it no longer declares are removed before
  // link settings change, declared ones are added after.
  type RouteDecl = TopologySpec['namespaces'][number]['routes'][number];
  const routeMatches = (d: RouteDecl, r: IpRouteJson): boolean =>
    normDst(r.dst) === d.to &&
    routeFamily({ to: normDst(r.dst), via: r.gateway, src: r.prefsrc }) === routeFamily(d) &&
    (r.gateway ? canonicalIp(r.gateway) : undefined) === d.via &&
    (d.dev === undefined || r.dev === d.dev) &&
    (d.src === undefined || (r.prefsrc !== undefined && canonicalIp(r.prefsrc) === d.src));
  const liveStaticRoutes = (real: string): IpRouteJson[] => (live.routes.get(real) ?? []).filter((r) => r.protocol === 'static');
  for (const ns of spec.namespaces) {
    const real = namespaceName(prefix, ns.name);
    for (const r of liveStaticRoutes(real)) {
      if (ns.routes.some((d) => routeMatches(d, r))) continue;
      const lr = { to: normDst(r.dst), via: r.gateway, dev: r.dev };
      const fam = routeFamily(lr) === 6 ? ['-6'] : [];
      changes.push({ op: '-', ns: real, text: `${real}: route ${routeText(lr)}`, cmds: [ipn(real, ...fam, 'route', 'del', ...routeArgs(lr))], undo: [ipn(real, ...fam, 'route', 'add', ...routeArgs(lr), 'proto', 'static')] });
    }
  }

  // Devices losing an address: the kernel may drop routes through them with it (a gateway no longer on a
  // connected subnet), so their declared routes are re-installed with "route replace".
  const addrRemoved = new Set<string>();

  // 6. Link settings: master, mtu, addresses, up — for created links (from defaults) and kept ones (from live).
  for (const e of ends) {
    const k = key(e.ns, e.name);
    const cur = keep.get(k);
    const isNew = created.has(k);
    if (!cur && !isNew) continue;
    const s = e.settings;
    const where = `${e.ns}: ${e.name}`;
    // A port of a bridge deleted by this plan (to be recreated) is no longer a port of it.
    const curMaster = cur?.master !== undefined && !deleted.has(key(e.ns, cur.master)) ? cur.master : undefined;
    if ((s.bridge ?? undefined) !== curMaster) {
      changes.push({
        op: '~',
        ns: e.ns,
        text: `${where} ${s.bridge ? `port of ${s.bridge}` : 'no bridge'}${curMaster ? ` (was ${curMaster})` : ''}`,
        cmds: [ipn(e.ns, 'link', 'set', e.name, ...(s.bridge ? ['master', s.bridge] : ['nomaster']))],
        undo: isNew ? [] : [ipn(e.ns, 'link', 'set', e.name, ...(curMaster ? ['master', curMaster] : ['nomaster']))],
      });
    }
    if (cur && s.mtu !== undefined && cur.mtu !== s.mtu) {
      changes.push({
        op: '~',
        ns: e.ns,
        text: `${where} mtu ${s.mtu} (was ${cur.mtu})`,
        cmds: [ipn(e.ns, 'link', 'set', e.name, 'mtu', String(s.mtu))],
        undo: [ipn(e.ns, 'link', 'set', e.name, 'mtu', String(cur.mtu))],
      });
    }
    const have = cur ? liveAddrs(cur) : [];
    for (const a of have) {
      if (s.addresses.includes(a)) continue;
      addrRemoved.add(key(e.ns, e.name));
      // Undo re-adds the address and the static routes through this device the kernel dropped with it.
      const reroute = liveStaticRoutes(e.ns)
        .filter((r) => r.dev === e.name)
        .map((r) => {
          const lr = { to: normDst(r.dst), via: r.gateway, dev: r.dev };
          return ipn(e.ns, ...(routeFamily(lr) === 6 ? ['-6'] : []), 'route', 'replace', ...routeArgs(lr), 'proto', 'static');
        });
      changes.push({ op: '-', ns: e.ns, text: `${where} address ${a}`, cmds: [ipn(e.ns, 'addr', 'del', a, 'dev', e.name)], undo: [ipn(e.ns, 'addr', 'add', a, 'dev', e.name), ...reroute] });
    }
    for (const a of s.addresses) {
      if (have.includes(a)) continue;
      // nodad: a declared address is unique by validation; waiting for IPv6 DAD would only delay routes.
      const nodad = a.includes(':') ? ['nodad'] : [];
      changes.push({ op: '+', ns: e.ns, text: `${where} address ${a}`, cmds: [ipn(e.ns, 'addr', 'add', a, 'dev', e.name, ...nodad)], undo: [ipn(e.ns, 'addr', 'del', a, 'dev', e.name)] });
    }
    const curUp = cur?.up ?? false;
    if (s.up !== curUp) {
      changes.push({
        op: '~',
        ns: e.ns,
        text: `${where} ${s.up ? 'up' : 'down'}`,
        cmds: [ipn(e.ns, 'link', 'set', e.name, s.up ? 'up' : 'down')],
        undo: isNew ? [] : [ipn(e.ns, 'link', 'set', e.name, curUp ? 'up' : 'down')],
      });
    }
  }

  // 7. Declared routes not present (or possibly dropped by an address change).
  for (const ns of spec.namespaces) {
    const real = namespaceName(prefix, ns.name);
    const liveStatic = liveStaticRoutes(real);
    for (const d of ns.routes) {
      const cur = liveStatic.find((r) => routeMatches(d, r));
      const fam = routeFamily(d) === 6 ? ['-6'] : [];
      if (cur && !(cur.dev && addrRemoved.has(key(real, cur.dev)))) continue;
      changes.push({
        op: cur ? '~' : '+',
        ns: real,
        text: `${real}: route ${routeText(d)}${cur ? ' (re-installed after an address change)' : ''}`,
        cmds: [ipn(real, ...fam, 'route', cur ? 'replace' : 'add', ...routeArgs(d), 'proto', 'static')],
        undo: cur ? [] : [ipn(real, ...fam, 'route', 'del', ...routeArgs(d))],
      });
    }
  }

  // 8. iptables: per (table, chain), the owned rules must be exactly the declared ones in order; otherwise
  //    the owned ones are deleted and the declared ones appended.
  for (const ns of spec.namespaces) {
    const real = namespaceName(prefix, ns.name);
    const liveRules = (live.rules.get(real) ?? []).filter((r) => r.owner === topo);
    const chains = new Map<string, { want: { rule: string[]; hash: string }[]; have: OwnedRule[] }>();
    const slot = (table: string, chain: string) => {
      const k = `${table}/${chain}`;
      let s = chains.get(k);
      if (!s) chains.set(k, (s = { want: [], have: [] }));
      return s;
    };
    for (const r of ns.iptables) slot(r.table, r.chain).want.push({ rule: r.rule, hash: ruleHash(r.table, r.chain, r.rule) });
    for (const r of liveRules) slot(r.table, r.chain).have.push(r);
    for (const [k, { want, have }] of chains) {
      const [table, chain] = k.split('/');
      if (want.length === have.length && want.every((w, i) => w.hash === have[i].hash)) continue;
      for (const h of have) {
        changes.push({
          op: '-',
          ns: real,
          text: `${real}: iptables -t ${table} ${chain} ${h.args.join(' ')}`,
          cmds: [{ argv: ['iptables', '-w', '-t', table, '-D', chain, ...h.args], netns: real }],
          undo: [{ argv: ['iptables', '-w', '-t', table, '-A', chain, ...h.args], netns: real }],
        });
      }
      for (const w of want) {
        const argv = [...w.rule, '-m', 'comment', '--comment', ruleComment(topo, w.hash)];
        changes.push({
          op: '+',
          ns: real,
          text: `${real}: iptables -t ${table} -A ${chain} ${w.rule.join(' ')}`,
          cmds: [{ argv: ['iptables', '-w', '-t', table, '-A', chain, ...argv], netns: real }],
          undo: [{ argv: ['iptables', '-w', '-t', table, '-D', chain, ...argv], netns: real }],
        });
      }
    }
  }

  return { topology: topo, prefix, changes };
}

/** The plan as text lines ("+ namespace x", "~ x: eth0 mtu 1400 (was 1500)"). */
export function formatPlan(plan: Plan): string {
  if (plan.changes.length === 0) return `topology ${plan.topology}: up to date, nothing to change\n`;
  const n = plan.changes.length;
  const prefix = plan.prefix ? ` (namespace prefix "${plan.prefix}")` : '';
  const lines = [`topology ${plan.topology}${prefix}: ${n} change${n === 1 ? '' : 's'}`];
  for (const c of plan.changes) lines.push(`  ${c.op} ${c.text}`);
  return lines.join('\n') + '\n';
}
