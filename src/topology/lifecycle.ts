/**
 * Apply and destroy, end to end: host overlap check, live state, plan. The CLI prints and executes the plan.
 */
import { readLinks, readMainRoutes } from '../host/iproute';
import { isValidNetnsName } from '../host/run';
import { findHostOverlaps, planTopology, type Plan } from './plan';
import { defaultPrefix, namespaceName, PREFIX } from './ownership';
import { TopologyFileError, type TopologySpec } from './schema';
import { namedNamespaceOwners, readLiveState } from './state';

export interface ApplyPlanOptions {
  /** Namespace name prefix; default "<topology>-". */
  prefix?: string;
  allowOverlap?: boolean;
  /** For messages. */
  file?: string;
}

export function resolvePrefix(spec: TopologySpec, prefix: string | undefined, file = ''): string {
  const p = prefix ?? defaultPrefix(spec.name);
  const issues: { path: string; message: string }[] = [];
  if (!PREFIX.test(p)) issues.push({ path: '', message: `prefix "${p}" is not allowed — use up to 31 letters, digits, "_", "." or "-"` });
  for (const ns of spec.namespaces) {
    const real = namespaceName(p, ns.name);
    if (!isValidNetnsName(real)) issues.push({ path: `${ns.path}.name`, message: `namespace name ${real} (prefix + name) is too long — shorten the name or the prefix` });
  }
  if (issues.length) throw new TopologyFileError(file, issues);
  return p;
}

/** Reads the host's own networks and refuses declared addresses that overlap them (unless allowed). */
export async function checkHostOverlap(spec: TopologySpec, file: string): Promise<void> {
  const [links, routes] = await Promise.all([readLinks(undefined), readMainRoutes(undefined)]);
  const addresses = links
    .filter((l) => l.link_type !== 'loopback')
    .flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === 'inet' || a.family === 'inet6').map((a) => `${a.local}/${a.prefixlen}`));
  const issues = findHostOverlaps(spec, { addresses, routes: routes.map((r) => r.dst) });
  if (issues.length) throw new TopologyFileError(file, issues);
}

/** The plan that converges the kernel to `spec`. */
export async function planApply(spec: TopologySpec, opts: ApplyPlanOptions = {}): Promise<Plan> {
  const file = opts.file ?? '';
  const prefix = resolvePrefix(spec, opts.prefix, file);
  if (!opts.allowOverlap) await checkHostOverlap(spec, file);
  const owners = await namedNamespaceOwners();
  const owned = [...owners].filter(([, o]) => o === spec.name).map(([n]) => n);
  const declared = spec.namespaces.map((n) => namespaceName(prefix, n.name));
  const relevant = [...new Set([...declared, ...owned])];
  const sysctlKeys = new Map(spec.namespaces.map((n) => [namespaceName(prefix, n.name), Object.keys(n.sysctls)] as const));
  const live = await readLiveState(relevant, sysctlKeys);
  return planTopology(spec, prefix, live);
}

/** The plan that removes everything topology `name` owns: its namespaces (they hold all its objects). */
export async function planDestroy(name: string): Promise<Plan> {
  const owners = await namedNamespaceOwners();
  const changes = [...owners]
    .filter(([, o]) => o === name)
    .map(([ns]) => ({ op: '-' as const, text: `namespace ${ns}`, cmds: [{ argv: ['ip', 'netns', 'del', ns] }], undo: [] }));
  return { topology: name, prefix: '', changes };
}
