/**
 * The demo needs br_netfilter (bridged traffic through iptables FORWARD, where its DROP rule sits). Loading the
 * module turns that on for every bridge of the host too (its bridge-nf-call-* sysctls start at 1), so the demo
 * records the host's state first and puts it back when it ends: it unloads a module it loaded itself, or, when
 * something else now uses the module, sets the host's bridge-nf-call-* to 0 (bridged traffic skipped netfilter
 * before, as without the module); values that existed before are written back if they changed.
 */
import fs from 'fs';
import { run } from '../host/run';

export const BRIDGE_NF_KEYS = ['bridge-nf-call-iptables', 'bridge-nf-call-ip6tables', 'bridge-nf-call-arptables'] as const;

/** The host side effects, injectable for tests. Keys are file names under /proc/sys/net/bridge. */
export interface BridgeNetfilterHost {
  /** Whether br_netfilter is there (its sysctls exist). */
  loaded(): boolean;
  read(key: string): string | undefined;
  write(key: string, value: string): void;
  modprobe(argv: string[]): Promise<void>;
}

const DIR = '/proc/sys/net/bridge';

export const realHost: BridgeNetfilterHost = {
  loaded: () => fs.existsSync(`${DIR}/bridge-nf-call-iptables`),
  read: (key) => {
    try {
      return fs.readFileSync(`${DIR}/${key}`, 'utf8').trim();
    } catch {
      return undefined;
    }
  },
  write: (key, value) => fs.writeFileSync(`${DIR}/${key}`, `${value}\n`),
  modprobe: async (argv) => {
    await run(['modprobe', ...argv]);
  },
};

export class BridgeNetfilter {
  private loadedByUs = false;
  private before: Map<string, string> | undefined;

  constructor(
    private readonly host: BridgeNetfilterHost = realHost,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** Records the host's state, then loads br_netfilter if it is not there. */
  async ensure(): Promise<void> {
    if (this.host.loaded()) {
      this.before = new Map();
      for (const k of BRIDGE_NF_KEYS) {
        const v = this.host.read(k);
        if (v !== undefined) this.before.set(k, v);
      }
      return;
    }
    try {
      await this.host.modprobe(['br_netfilter']);
      this.loadedByUs = true;
    } catch (err) {
      this.log(`note: could not load br_netfilter (${(err as Error).message.split('\n')[0]}); the DROP rule will not see bridged traffic`);
    }
  }

  /** Puts the host's bridge-nf-call-* back as ensure() found them. Idempotent; never throws. */
  async restore(): Promise<void> {
    if (this.loadedByUs) {
      this.loadedByUs = false;
      try {
        await this.host.modprobe(['-r', 'br_netfilter']);
        return;
      } catch {
        // In use by something that started meanwhile (a container runtime): keep it, but as before for the host.
        for (const k of BRIDGE_NF_KEYS) this.tryWrite(k, '0');
        this.log('note: br_netfilter is now in use and stays loaded; the host\'s bridge-nf-call-* are back to 0 as before the demo');
        return;
      }
    }
    const before = this.before;
    this.before = undefined;
    if (before === undefined) return;
    for (const [k, v] of before) if (this.host.read(k) !== v) this.tryWrite(k, v);
  }

  private tryWrite(key: string, value: string): void {
    try {
      this.host.write(key, value);
    } catch (err) {
      this.log(`note: could not restore net.bridge.${key}=${value}: ${(err as Error).message}`);
    }
  }
}
