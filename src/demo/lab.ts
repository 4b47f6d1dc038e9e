/**
 * The demo lab: built from examples/topology/demo-lab.yaml with the topology builder (the same plan/apply/
 * destroy as `netscope topo`), plus the traffic that makes every dashboard pane interesting. `down()` stops the
 * traffic and destroys exactly what the topology owns; `up()` first removes a lab a killed demo left behind.
 */
import fs from 'fs';
import path from 'path';
import { run } from '../host/run';
import { executePlan } from '../topology/apply';
import { planApply, planDestroy } from '../topology/lifecycle';
import { namespaceName } from '../topology/ownership';
import { loadTopologyFile, type TopologySpec } from '../topology/schema';
import { namedNamespaceOwners } from '../topology/state';
import { BridgeNetfilter } from './bridgeNetfilter';
import { GeneratorSet } from './generators';

/** examples/topology/demo-lab.yaml from dist/demo (built) or src/demo (ts-jest). */
export function demoTopologyFile(): string {
  return path.resolve(__dirname, '..', '..', 'examples', 'topology', 'demo-lab.yaml');
}

/** dist/demo/traffic.js (also when running from the sources under ts-jest). */
export function trafficScript(): string {
  const here = path.join(__dirname, 'traffic.js');
  if (fs.existsSync(here)) return here;
  const built = path.resolve(__dirname, '..', '..', 'dist', 'demo', 'traffic.js');
  if (fs.existsSync(built)) return built;
  throw new Error(`demo traffic generator not found (${built}): run "npm run build"`);
}

/** An address nobody in the lab holds: pinging it leaves ARP requests unanswered. */
export const ABSENT_IP = '10.244.9.99';
export const BRIDGE = 'cni0';

export interface LabOptions {
  /** Topology name (owner marker and namespace prefix "<name>-"); default the file's name ("demo-lab"). */
  name?: string;
  file?: string;
  /** Progress lines ("building the lab…"). */
  log?: (line: string) => void;
  /** Aborting during apply rolls back what was created. */
  signal?: AbortSignal;
  /** A traffic process stopped on its own. */
  onTrafficExit?: (label: string, why: string) => void;
}

function podAddress(spec: TopologySpec, pod: string): string {
  const ns = spec.namespaces.find((n) => n.name === pod);
  const addr = ns?.interfaces.flatMap((i) => i.addresses).find((a) => a.includes('.'));
  if (!addr) throw new Error(`demo topology has no IPv4 address for ${pod}`);
  return addr.split('/')[0];
}

/** Removes every namespace owned by topology `name`; returns how many there were. */
export async function destroyLab(name: string): Promise<number> {
  const plan = await planDestroy(name);
  if (plan.changes.length > 0) await executePlan(plan);
  return plan.changes.length;
}

/** Namespaces still owned by topology `name` (empty after a clean teardown). */
export async function labLeftovers(name: string): Promise<string[]> {
  const owners = await namedNamespaceOwners();
  return [...owners].filter(([, o]) => o === name).map(([ns]) => ns);
}

export class DemoLab {
  readonly traffic: GeneratorSet;
  private downPromise: Promise<void> | undefined;

  private constructor(
    readonly spec: TopologySpec,
    readonly prefix: string,
    private readonly opts: LabOptions,
    private readonly script: string,
    private readonly netfilter: BridgeNetfilter,
  ) {
    this.traffic = new GeneratorSet(opts.onTrafficExit);
  }

  get name(): string {
    return this.spec.name;
  }

  /** The namespace holding the bridge. */
  get nodeNetns(): string {
    return namespaceName(this.prefix, 'node');
  }

  netnsOf(pod: string): string {
    return namespaceName(this.prefix, pod);
  }

  static async up(opts: LabOptions = {}): Promise<DemoLab> {
    const log = opts.log ?? (() => undefined);
    const file = opts.file ?? demoTopologyFile();
    const loaded = loadTopologyFile(file);
    const spec: TopologySpec = opts.name ? { ...loaded, name: opts.name } : loaded;
    const prefix = `${spec.name}-`;
    const script = trafficScript();
    const leftover = await destroyLab(spec.name);
    if (leftover > 0) log(`removed ${leftover} namespace(s) a previous demo left behind`);
    // br_netfilter makes bridged traffic pass iptables FORWARD: without it the DROP rule would never match.
    const netfilter = new BridgeNetfilter(undefined, log);
    await netfilter.ensure();
    log(`building the lab (topology ${spec.name}: namespaces ${spec.namespaces.map((n) => namespaceName(prefix, n.name)).join(', ')})…`);
    try {
      const plan = await planApply(spec, { prefix, file });
      await executePlan(plan, { signal: opts.signal });
    } catch (err) {
      await netfilter.restore();
      throw err;
    }
    return new DemoLab(spec, prefix, opts, script, netfilter);
  }

  /**
   * Starts the traffic. The demo calls this once the capture runs, so connections are seen from their
   * handshake (a capture started mid-connection can only call it "midstream").
   */
  startTraffic(): void {
    const script = this.script;
    const b = podAddress(this.spec, 'pod-b');
    const node = process.execPath;
    const t = this.traffic;
    t.start({ label: 'tcp server pod-b :5001 :8080', netns: this.netnsOf('pod-b'), argv: [node, script, 'serve', '5001', '8080'] });
    t.start({ label: 'tcp stream pod-a → pod-b:5001', netns: this.netnsOf('pod-a'), argv: [node, script, 'stream', b, '5001', '250000'] });
    t.start({ label: 'ping pod-a → pod-b', netns: this.netnsOf('pod-a'), argv: ['ping', '-q', '-i', '0.5', b] });
    t.start({ label: `ping pod-a → ${ABSENT_IP} (absent)`, netns: this.netnsOf('pod-a'), argv: ['ping', '-q', '-i', '1', ABSENT_IP] });
    t.start({ label: 'tcp connect pod-c → pod-b:8080 (blocked)', netns: this.netnsOf('pod-c'), argv: [node, script, 'connect', b, '8080', '3000'] });
    t.start({ label: 'ping pod-c → pod-b', netns: this.netnsOf('pod-c'), argv: ['ping', '-q', '-i', '1', b] });
  }

  /** Stops the traffic and (unless `keep`) destroys the lab. Idempotent. */
  down(keep = false): Promise<void> {
    if (!this.downPromise) {
      this.downPromise = (async () => {
        await this.traffic.stop();
        if (!keep) {
          try {
            await destroyLab(this.spec.name);
          } finally {
            // The host's bridge-netfilter state as the demo found it (a kept lab keeps br_netfilter for its rule).
            await this.netfilter.restore();
          }
        }
      })();
    }
    return this.downPromise;
  }
}
