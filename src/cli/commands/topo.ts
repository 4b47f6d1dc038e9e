/**
 * `netscope topo apply|destroy|show`: build a topology from a file (with rollback), remove it, or show every
 * network namespace with its interfaces, bridges, veth peers and routes.
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { requireRoot, setCommandLogger } from '../../host/run';
import { ApplyError, executePlan } from '../../topology/apply';
import { listBridges } from '../../host/fdb-resolve';
import { bridgeView, discover, findNetns, NetnsRefError, type Topology } from '../../topology/discover';
import { planApply, planDestroy } from '../../topology/lifecycle';
import { formatPlan, PlanConflictError } from '../../topology/plan';
import { lockTopology } from '../../topology/lock';
import { loadTopologyFile, TOPOLOGY_NAME, TopologyFileError } from '../../topology/schema';
import { renderTree } from '../../topology/tree';
import { renderDot } from '../../topology/dot';
import { podLabel } from '../../k8s/pods';
import { useColor } from '../color';
import { progressFor, progressOption } from '../progress';
import { addExamples, type Example } from '../help';

export const command = 'topo';
export const describe = 'Build (apply), remove (destroy) or show network namespace topologies';

interface Common {
  verbose?: boolean;
  progress?: boolean;
}
interface ApplyArgs extends Common {
  file: string;
  dryRun?: boolean;
  name?: string;
  prefix?: string;
  allowOverlap?: boolean;
}
interface DestroyArgs extends Common {
  file?: string;
  name?: string;
  dryRun?: boolean;
}
interface ShowArgs extends Common {
  json?: boolean;
  format?: 'text' | 'json' | 'dot';
  netns?: string[];
  bridge?: string;
}

/** Prints an error as `netscope: …` lines (one per issue) and sets the exit code. */
function fail(err: unknown, code = 1): void {
  const msg = err instanceof Error ? err.message : String(err);
  for (const line of msg.split('\n')) process.stderr.write(`netscope: ${line}\n`);
  process.exitCode = code;
}

function verbose(args: Common): void {
  if (args.verbose) setCommandLogger((line) => process.stderr.write(`${line}\n`));
}

function checkName(name: string | undefined): void {
  if (name !== undefined && !TOPOLOGY_NAME.test(name)) throw new TopologyFileError('--name', [{ path: '', message: `"${name}" is not a valid topology name — use 1-32 letters, digits, "_", "." or "-"` }]);
}

/** Runs a plan with SIGINT/SIGTERM turned into a rollback. */
async function execute(plan: Parameters<typeof executePlan>[0], args: Common): Promise<number> {
  const ctl = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (!ctl.signal.aborted) process.stderr.write(`netscope: ${sig} received — stopping and rolling back what this run changed\n`);
    ctl.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // -v logs every change as a line; otherwise a progress line shows the current one (on a terminal).
  const progress = args.verbose ? undefined : progressFor(args);
  try {
    return await executePlan(plan, {
      signal: ctl.signal,
      onChange: args.verbose
        ? (c, i, n) => process.stderr.write(`[${i}/${n}] ${c.op} ${c.text}\n`)
        : progress && ((c, i, n) => progress.update(() => `[${i}/${n}] ${c.op} ${c.text}`, i === n)),
    });
  } finally {
    progress?.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function applyHandler(args: ApplyArgs): Promise<void> {
  try {
    verbose(args);
    checkName(args.name);
    const spec = loadTopologyFile(args.file);
    if (args.name) spec.name = args.name;
    // Even a dry run enters the topology's namespaces to compare them with the file.
    requireRoot('CAP_NET_ADMIN', 'netscope topo apply');
    const release = args.dryRun ? () => undefined : lockTopology(spec.name);
    try {
      const plan = await planApply(spec, { prefix: args.prefix, allowOverlap: args.allowOverlap, file: args.file });
      process.stdout.write(formatPlan(plan));
      if (args.dryRun) {
        if (plan.changes.length) process.stdout.write('dry run: nothing changed\n');
        return;
      }
      if (plan.changes.length === 0) return;
      const n = await execute(plan, args);
      process.stdout.write(`applied ${n} change${n === 1 ? '' : 's'}\n`);
    } finally {
      release();
    }
  } catch (err) {
    fail(err, err instanceof ApplyError && err.interrupted ? 130 : 1);
  }
}

async function destroyHandler(args: DestroyArgs): Promise<void> {
  try {
    verbose(args);
    checkName(args.name);
    if (!args.file && !args.name) {
      fail('name the topology to destroy: netscope topo destroy FILE, or --name NAME', 2);
      return;
    }
    const name = args.name ?? loadTopologyFile(args.file!).name;
    requireRoot('CAP_NET_ADMIN', 'netscope topo destroy');
    const release = args.dryRun ? () => undefined : lockTopology(name);
    try {
      const plan = await planDestroy(name);
      if (plan.changes.length === 0) {
        process.stdout.write(`topology ${name}: nothing to destroy (no namespace is marked netscope:${name})\n`);
        return;
      }
      process.stdout.write(formatPlan(plan));
      if (args.dryRun) {
        process.stdout.write('dry run: nothing changed\n');
        return;
      }
      const n = await execute(plan, args);
      process.stdout.write(`destroyed topology ${name}: removed ${n} namespace${n === 1 ? '' : 's'}\n`);
    } finally {
      release();
    }
  } catch (err) {
    fail(err, err instanceof ApplyError && err.interrupted ? 130 : 1);
  }
}

async function showHandler(args: ShowArgs): Promise<void> {
  try {
    verbose(args);
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      process.stderr.write("netscope: note: not root — other namespaces cannot be entered (needs CAP_SYS_ADMIN and CAP_NET_ADMIN); showing what is readable\n");
    }
    const topo = await discover();
    let only: string[] | undefined;
    if (args.netns && args.netns.length > 0) {
      only = [];
      for (const ref of args.netns) {
        let ns;
        try {
          ns = findNetns(topo, ref);
        } catch (e) {
          if (e instanceof NetnsRefError) return fail(e.message, 2);
          throw e;
        }
        if (!ns) {
          fail(`no network namespace "${ref}" — netscope topo show lists them (names, "host", or a pid)`, 2);
          return;
        }
        only.push(ns.id);
      }
    }
    const format = args.format ?? (args.json ? 'json' : 'text');
    if (args.json && format !== 'json') {
      fail(`--json and --format ${format}: choose one`, 2);
      return;
    }
    if (args.bridge !== undefined) {
      const view = bridgeView(topo, args.bridge, only);
      if (view === undefined) {
        const where = only ? ` in ${args.netns!.join(', ')}` : '';
        fail(`no bridge "${args.bridge}"${where}; bridges: ${listBridges(topo)}`, 2);
        return;
      }
      if (format === 'json') {
        process.stdout.write(JSON.stringify(view, null, 2) + '\n');
        return;
      }
    }
    if (format === 'dot') {
      process.stdout.write(renderDot(topo, { netns: only, bridge: args.bridge, podOf: (ns) => (ns.pod ? podLabel(ns.pod) : undefined) }));
      return;
    }
    if (format === 'json') {
      const ids = only;
      // Peers stay resolved against the whole machine; only the requested namespaces are printed.
      const shown: Topology = ids
        ? {
            namespaces: topo.namespaces.filter((n) => ids.includes(n.id)),
            interfaces: topo.interfaces.filter((i) => ids.includes(i.netns)),
            routes: topo.routes.filter((r) => ids.includes(r.netns)),
            neighbours: topo.neighbours.filter((n) => ids.includes(n.netns)),
          }
        : topo;
      process.stdout.write(JSON.stringify(shown, null, 2) + '\n');
      return;
    }
    process.stdout.write(renderTree(topo, { color: useColor(process.stdout), bridge: args.bridge, netns: only }));
  } catch (err) {
    fail(err);
  }
}

/** Examples of each subcommand's --help. */
export const subcommandExamples: Record<'apply' | 'show', readonly Example[]> = {
  apply: [
    ['topo apply examples/topology/k8s-node.yaml', 'a node namespace with a cni0 bridge and three pods'],
    ['topo apply k8s-node.yaml --name lab1 --prefix lab1-', 'a second copy under another name'],
  ],
  show: [
    ['topo show', 'every namespace: interfaces, bridges, veth peers, routes'],
    ['topo show --bridge cni0 --json', 'one bridge, its ports and their peers, as JSON'],
    ['topo show --format dot | dot -Tsvg > topo.svg', 'a picture: namespaces as clusters, veth pairs as edges'],
  ],
};

const verboseOpt = { alias: 'v', type: 'boolean', describe: 'log every command run (to stderr)' } as const;

export function builder(y: Argv): Argv {
  return y
    .command(
      'apply <file>',
      'Create or converge the topology in FILE (YAML or JSON); prints the plan first',
      (a) =>
        addExamples(a
          .positional('file', { type: 'string', demandOption: true, describe: 'topology file' })
          .option('dry-run', { type: 'boolean', describe: 'print the plan only' })
          .option('name', { type: 'string', describe: 'topology name (overrides the file; tags what is created)' })
          .option('prefix', { type: 'string', describe: 'namespace name prefix (default "<name>-")' })
          .option('allow-overlap', { type: 'boolean', describe: "allow addresses that overlap the host's addresses or routes" })
          .option('verbose', verboseOpt)
          .option('progress', progressOption), subcommandExamples.apply),
      (a) => applyHandler(a as ArgumentsCamelCase<ApplyArgs>),
    )
    .command(
      'destroy [file]',
      'Remove everything a topology created (found by its ownership marks, also after a restart)',
      (a) =>
        a
          .positional('file', { type: 'string', describe: 'topology file (its name is used)' })
          .option('name', { type: 'string', describe: 'topology name (instead of FILE)' })
          .option('dry-run', { type: 'boolean', describe: 'print what would be removed' })
          .option('verbose', verboseOpt),
      (a) => destroyHandler(a as ArgumentsCamelCase<DestroyArgs>),
    )
    .command(
      'show',
      'Show every network namespace (named and process-held): interfaces, bridges and ports, veth peers, routes',
      (a) =>
        addExamples(a
          .option('json', { type: 'boolean', describe: 'print the discovered topology as JSON (= --format json)' })
          .option('format', { choices: ['text', 'json', 'dot'] as const, describe: 'text tree (default), JSON, or Graphviz DOT (pipe to dot -Tsvg)' })
          .option('netns', { type: 'string', array: true, describe: 'only these namespaces (name, "host", pid, or a pod: POD, NAMESPACE/POD)' })
          .option('bridge', { type: 'string', describe: 'only this bridge, its ports and their peers' })
          .option('verbose', verboseOpt), subcommandExamples.show),
      (a) => showHandler(a as ArgumentsCamelCase<ShowArgs>),
    )
    .demandCommand(1, 'name an action: apply, destroy or show');
}

export function handler(): void {
  /* subcommands handle everything */
}
