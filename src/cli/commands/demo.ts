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
  keep?: boolean;
  ui?: boolean;
  duration?: number;
  name?: string;
}

export const command = 'demo';
export const describe = 'Build a small Kubernetes-like lab with traffic and open the dashboard on it (q tears it down)';

export function builder(y: Argv): Argv<DemoArgs> {
  y
    .option('keep', { type: 'boolean', describe: 'leave the lab in place when quitting (remove it later: netscope topo destroy --name demo-lab)' })
    .option('ui', { type: 'boolean', default: true, describe: 'open the dashboard; --no-ui runs headless for --duration seconds and prints the screen' })
    .option('duration', { type: 'number', default: 10, describe: 'seconds to run with --no-ui' })
    .option('name', { type: 'string', hidden: true, describe: 'topology name (namespace prefix "<name>-"), for tests' });
  return addExamples(y, examples) as unknown as Argv<DemoArgs>;
}

export const examples: readonly Example[] = [
  ['demo', 'build the lab and open the dashboard'],
  ['demo --no-ui --duration 8', 'headless: print what the dashboard showed after 8 s'],
];

const say = (line: string): void => void process.stderr.write(`netscope demo: ${line}\n`);

export async function handler(argv: ArgumentsCamelCase<DemoArgs>): Promise<void> {
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
