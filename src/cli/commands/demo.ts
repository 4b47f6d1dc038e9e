/**
 * `netscope demo`: builds the demo lab (examples/topology/demo-lab.yaml) with traffic, opens the dashboard on
 * its bridge, and tears everything down when you quit — also on Ctrl-C, SIGTERM, SIGHUP or a crash.
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { ABSENT_IP, BRIDGE, DemoLab } from '../../demo/lab';
import { requireRoot } from '../../host/run';
import { ApplyError } from '../../topology/apply';
import { TopologyFileError } from '../../topology/schema';
import { Dashboard } from '../../tui/dashboard';
import { headlessTerminal } from '../../tui/headless';
import { tooSmall } from '../../tui/layout';
import { liveSources, resolveBridge } from '../../tui/liveSources';
import { runUntilQuit } from '../../tui/run';
import { addExamples, type Example } from '../help';
import { fail } from '../userError';

interface DemoArgs {
  k8s?: boolean;
  keep?: boolean;
  ui?: boolean;
  duration?: number;
  name?: string;
}

export const command = 'demo';
export const describe = 'Build a small Kubernetes-like lab with traffic and open the dashboard on it (q tears it down)';

export function builder(y: Argv): Argv<DemoArgs> {
  y
    .option('k8s', { type: 'boolean', describe: 'a Kubernetes-like node instead: containerd + CNI bridge in a node namespace with pods default/web-0, web-1 (app=web) and db-0 (app=db)' })
    .option('keep', { type: 'boolean', describe: 'leave the lab in place when quitting (remove it later: netscope topo destroy --name demo-lab)' })
    .option('ui', { type: 'boolean', default: true, describe: 'open the dashboard; --no-ui runs headless for --duration seconds and prints the screen' })
    .option('duration', { type: 'number', default: 10, describe: 'seconds to run with --no-ui' })
    .option('name', { type: 'string', hidden: true, describe: 'topology name (namespace prefix "<name>-"), for tests' });
  return addExamples(y, examples) as unknown as Argv<DemoArgs>;
}

export const examples: readonly Example[] = [
  ['demo', 'build the lab and open the dashboard'],
  ['demo --no-ui --duration 8', 'headless: print what the dashboard showed after 8 s'],
  ['demo --k8s --no-ui --duration 600', 'a containerd node with three pods; use pod names from another terminal'],
];

const say = (line: string): void => void process.stderr.write(`netscope demo: ${line}\n`);

export async function handler(argv: ArgumentsCamelCase<DemoArgs>): Promise<void> {
  if (argv.k8s) return k8sHandler(argv);
  const ui = argv.ui !== false;
  if (ui) {
    if (!process.stdout.isTTY || !process.stdin.isTTY) {
      return fail('demo opens a dashboard and needs a terminal; run it in one, or use "netscope demo --no-ui"', 2);
    }
    const small = tooSmall(process.stdout.columns ?? 0, process.stdout.rows ?? 0);
    if (small) return fail(small, 1);
  } else if (!(argv.duration !== undefined && argv.duration > 0)) {
    return fail('--duration takes a positive number of seconds', 2);
  }
  try {
    requireRoot('CAP_NET_ADMIN', 'the demo lab (namespaces, veths, a bridge, iptables rules)');
  } catch (err) {
    return fail((err as Error).message, 1);
  }

  // Ctrl-C while the lab is being built: the apply stops and rolls back what it created.
  const abort = new AbortController();
  const onEarlySignal = (): void => abort.abort();
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onEarlySignal);
  let lab: DemoLab | undefined;
  let dash: Dashboard | undefined;
  try {
    lab = await DemoLab.up({
      name: argv.name,
      log: say,
      signal: abort.signal,
      onTrafficExit: (label, why) => dash?.model.warn(`traffic "${label}" stopped: ${why}`, Date.now() / 1000),
    });
    if (abort.signal.aborted) throw new Error('interrupted');
    say(`lab up; starting traffic: pods ping each other, stream TCP, pod-c is blocked by a DROP rule, ${ABSENT_IP} is absent`);
    const term = ui ? undefined : headlessTerminal(160, 48);
    const { topo, bridge } = await resolveBridge(BRIDGE, lab.nodeNetns);
    dash = new Dashboard(
      { bridge, topo, view: { output: term?.output, input: term?.input, terminal: term ? 'xterm' : undefined, title: 'netscope demo' } },
      liveSources(bridge, topo),
    );
    await dash.start();
    if (abort.signal.aborted) {
      await dash.close();
      throw new Error('interrupted');
    }
    lab.startTraffic();
    // Only headless: with the dashboard on screen, a stderr line would scribble over it.
    if (!ui) say('traffic running');
  } catch (err) {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(s, onEarlySignal);
    await lab?.down(argv.keep === true).catch((e: Error) => say(`teardown: ${e.message}`));
    if (err instanceof TopologyFileError) return fail(err.message, 1);
    if (err instanceof ApplyError) return fail(err.message, err.interrupted ? 130 : 1);
    return fail(err instanceof Error ? err.message : String(err), abort.signal.aborted ? 130 : 1);
  }
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(s, onEarlySignal);

  const d = dash;
  const l = lab;
  const teardown = async (): Promise<void> => {
    await l.down(argv.keep === true);
    say(argv.keep ? `lab kept: remove it with "netscope topo destroy --name ${l.name}"` : 'lab removed');
  };
  if (ui) return runUntilQuit(d, teardown);
  // Headless: whatever ends the run (the duration, a signal), the last screen is printed before closing.
  let printed = false;
  const headless = {
    done: d.done,
    close: (): Promise<void> => {
      if (!printed) {
        printed = true;
        process.stdout.write(`${d.screenText().replace(/ +$/gm, '')}\n`);
      }
      return d.close();
    },
  };
  const timer = setTimeout(() => void headless.close(), (argv.duration ?? 10) * 1000);
  try {
    await runUntilQuit(headless, teardown);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `demo --k8s`: the containerd node with three pods. Headless it prints the node's tree (pods by name) and stays
 * up for --duration seconds (or until Ctrl-C) so other netscope commands can use the pod names; with the UI it
 * opens the dashboard on the node's cni0. Everything is removed at the end (--keep is not offered: containerd
 * is netscope's child).
 */
async function k8sHandler(argv: ArgumentsCamelCase<DemoArgs>): Promise<void> {
  const ui = argv.ui !== false;
  if (ui && (!process.stdout.isTTY || !process.stdin.isTTY)) return fail('demo --k8s opens a dashboard and needs a terminal; or use "netscope demo --k8s --no-ui"', 2);
  if (!ui && !(argv.duration !== undefined && argv.duration > 0)) return fail('--duration takes a positive number of seconds', 2);
  if (argv.keep) return fail('demo --k8s cannot --keep: its containerd stops with netscope', 2);
  try {
    requireRoot('CAP_NET_ADMIN', 'the demo node (namespaces, containerd, CNI)');
  } catch (err) {
    return fail((err as Error).message, 1);
  }
  const { startK8sDemo } = await import('../../demo/k8sNode');
  const { renderTree } = await import('../../topology/tree');
  const { discover } = await import('../../topology/discover');
  let demo: Awaited<ReturnType<typeof startK8sDemo>>;
  try {
    demo = await startK8sDemo(argv.name ?? 'netscope-k8s', say);
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err), 1);
  }
  process.env.NETSCOPE_RUNTIME_ENDPOINT = demo.node.endpoint;
  const teardown = async (): Promise<void> => {
    await demo.node.destroy();
    say('node removed (pods, containerd, namespaces, state)');
  };
  try {
    say(`node namespace ${demo.netns}, runtime ${demo.node.endpoint}; in another shell:`);
    say(`  export NETSCOPE_RUNTIME_ENDPOINT=${demo.node.endpoint}`);
    say('  netscope topo show --bridge cni0 | netscope diagnose default/web-0 default/db-0 | netscope capture --selector app=web');
    if (ui) {
      const { topo, bridge } = await resolveBridge('cni0', demo.netns);
      const dash = new Dashboard({ bridge, topo, view: { title: 'netscope demo --k8s' } }, liveSources(bridge, topo));
      await dash.start();
      return runUntilQuit(dash, teardown);
    }
    const topo = await discover();
    process.stdout.write(renderTree(topo, { bridge: 'cni0' }));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, (argv.duration ?? 10) * 1000);
      const stop = (): void => {
        clearTimeout(timer);
        resolve();
      };
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, stop);
    });
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err), 1);
  }
  await teardown();
}
