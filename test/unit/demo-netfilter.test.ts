/**
 * The demo's br_netfilter bookkeeping (src/demo/bridgeNetfilter.ts) on a fake host: whatever the demo found —
 * module absent, present with any bridge-nf-call-* values — is what the host has again after restore().
 */
import { BRIDGE_NF_KEYS, BridgeNetfilter, type BridgeNetfilterHost } from '../../src/demo/bridgeNetfilter';

/** A host whose module load installs the kernel's defaults (1) and whose unload removes the sysctls. */
class FakeHost implements BridgeNetfilterHost {
  values = new Map<string, string>();
  calls: string[] = [];
  inUse = false;
  failLoad = false;

  constructor(initial?: Record<string, string>) {
    if (initial) for (const [k, v] of Object.entries(initial)) this.values.set(k, v);
  }
  loaded(): boolean {
    return this.values.size > 0;
  }
  read(key: string): string | undefined {
    return this.values.get(key);
  }
  write(key: string, value: string): void {
    if (!this.values.has(key)) throw new Error(`no ${key}`);
    this.calls.push(`${key}=${value}`);
    this.values.set(key, value);
  }
  async modprobe(argv: string[]): Promise<void> {
    this.calls.push(`modprobe ${argv.join(' ')}`);
    if (argv[0] === '-r') {
      if (this.inUse) throw new Error('modprobe: FATAL: Module br_netfilter is in use.');
      this.values.clear();
    } else {
      if (this.failLoad) throw new Error('modprobe: FATAL: Module br_netfilter not found');
      for (const k of BRIDGE_NF_KEYS) this.values.set(k, '1');
    }
  }
  snapshot(): Record<string, string> {
    return Object.fromEntries(this.values);
  }
}

describe('demo: br_netfilter recorded and restored', () => {
  it('module absent: loaded for the demo, unloaded after', async () => {
    const host = new FakeHost();
    const nf = new BridgeNetfilter(host);
    await nf.ensure();
    expect(host.loaded()).toBe(true);
    await nf.restore();
    expect(host.loaded()).toBe(false);
    expect(host.calls).toEqual(['modprobe br_netfilter', 'modprobe -r br_netfilter']);
    await nf.restore(); // idempotent
    expect(host.calls).toHaveLength(2);
  });

  it('module absent, in use by the end: stays loaded, but the host bridges skip netfilter again (0)', async () => {
    const host = new FakeHost();
    const lines: string[] = [];
    const nf = new BridgeNetfilter(host, (l) => lines.push(l));
    await nf.ensure();
    host.inUse = true;
    await nf.restore();
    expect(host.snapshot()).toEqual({ 'bridge-nf-call-iptables': '0', 'bridge-nf-call-ip6tables': '0', 'bridge-nf-call-arptables': '0' });
    expect(lines).toEqual([expect.stringMatching(/in use and stays loaded/)]);
  });

  it('module present: the values found are written back where they changed, the module stays', async () => {
    const found = { 'bridge-nf-call-iptables': '0', 'bridge-nf-call-ip6tables': '1', 'bridge-nf-call-arptables': '0' };
    const host = new FakeHost(found);
    const nf = new BridgeNetfilter(host);
    await nf.ensure();
    host.values.set('bridge-nf-call-iptables', '1'); // changed during the demo
    host.values.set('bridge-nf-call-arptables', '1');
    await nf.restore();
    expect(host.snapshot()).toEqual(found);
    expect(host.calls).toEqual(['bridge-nf-call-iptables=0', 'bridge-nf-call-arptables=0']);
  });

  it('module cannot be loaded: a note, and nothing to restore', async () => {
    const host = new FakeHost();
    host.failLoad = true;
    const lines: string[] = [];
    const nf = new BridgeNetfilter(host, (l) => lines.push(l));
    await nf.ensure();
    await nf.restore();
    expect(host.calls).toEqual(['modprobe br_netfilter']);
    expect(lines).toEqual([expect.stringMatching(/^note: could not load br_netfilter \(modprobe: FATAL/)]);
  });
});
