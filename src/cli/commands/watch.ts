/**
 * `netscope watch BRIDGE[@NETNS] [-i IFACE[@NETNS] …] [filter…]`: the terminal dashboard on a bridge.
 * Parsing and wiring only: the real sources (liveSources) go to the dashboard in src/tui.
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { CaptureStartError } from '../../capture/live';
import { parseTarget, TargetError, type CaptureTarget } from '../../capture/target';
import { requireRoot } from '../../host/run';
import { Dashboard } from '../../tui/dashboard';
import { tooSmall } from '../../tui/layout';
import { liveSources, resolveBridge, WatchError } from '../../tui/liveSources';
import { runUntilQuit } from '../../tui/run';
import { addExamples, type Example } from '../help';
import { fail } from '../userError';

interface WatchArgs {
  bridge: string;
  filter?: string[];
  interface?: string | string[];
  poll?: number;
}

export const command = 'watch <bridge> [filter..]';
export const describe = 'Live dashboard of a bridge: flows, MAC table, firewall counters, topology';

export function builder(y: Argv): Argv<WatchArgs> {
  y
    .positional('bridge', { type: 'string', demandOption: true, describe: 'BRIDGE, BRIDGE@NETNS or BRIDGE@pid:PID' })
    .positional('filter', { type: 'string', array: true, describe: 'pcap-filter expression for the capture (e.g. not arp)' })
    // Not an array option: an array would swallow the filter words after the last -i; repeating -i still
    // collects every value.
    .option('interface', { alias: 'i', type: 'string', describe: 'also capture on IFACE[@NETNS] (repeatable)' })
    .option('poll', { type: 'number', default: 2, describe: 'seconds between host state reads (FDB, rule counters, topology)' });
  return addExamples(y, examples) as unknown as Argv<WatchArgs>;
}

export const examples: readonly Example[] = [
  ['watch cni0@node1', 'dashboard of bridge cni0 in namespace node1'],
  ['watch br0 -i eth0@pod-a not port 22', 'also capture on a pod interface, skip ssh'],
];

export async function handler(argv: ArgumentsCamelCase<WatchArgs>): Promise<void> {
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    return fail('watch draws a dashboard and needs a terminal (stdin and stdout are not both a TTY); for scripts use "netscope capture", "netscope fdb --watch" or "netscope rules --watch"', 2);
  }
  const small = tooSmall(process.stdout.columns ?? 0, process.stdout.rows ?? 0);
  if (small) return fail(small, 1);
  if (!(argv.poll !== undefined && argv.poll > 0)) return fail('--poll takes a positive number of seconds', 2);
  let main: CaptureTarget;
  let extra: CaptureTarget[];
  try {
    main = parseTarget(argv.bridge);
    const extras = argv.interface === undefined ? [] : Array.isArray(argv.interface) ? argv.interface : [argv.interface];
    extra = extras.map(parseTarget);
  } catch (err) {
    if (err instanceof TargetError) return fail(err.message, 2);
    throw err;
  }
  try {
    // Checked first: without root, discovery cannot enter namespaces and would fail less clearly.
    requireRoot('CAP_NET_RAW', 'live capture (and entering network namespaces)');
  } catch (err) {
    return fail((err as Error).message, 1);
  }
  const filter = (argv.filter ?? []).join(' ').trim() || undefined;
  let dash: Dashboard;
  try {
    const { topo, bridge } = await resolveBridge(main.iface, main.netns);
    dash = new Dashboard({ bridge, topo, captureFilter: filter }, liveSources(bridge, topo, { extra, filter, pollMs: argv.poll * 1000 }));
    await dash.start();
  } catch (err) {
    if (err instanceof WatchError) return fail(err.message, err.usage ? 2 : 1);
    if (err instanceof CaptureStartError) return fail(err.message, err.usage ? 2 : 1);
    return fail(err instanceof Error ? err.message : String(err), 1);
  }
  await runUntilQuit(dash);
}
