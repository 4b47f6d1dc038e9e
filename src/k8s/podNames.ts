/**
 * Pod names by IP, for views that show addresses (flows, the dashboard, pcapng name resolution): "web-0.default"
 * is what Kubernetes DNS would call the pod's own address and what Wireshark shows in place of the IP.
 */
import type { PodInfo, PodTable } from './pods';

/** "web-0.default" */
export function podHostName(p: Pick<PodInfo, 'namespace' | 'name'>): string {
  return `${p.name}.${p.namespace}`;
}

export class PodNameIndex {
  private readonly byIp = new Map<string, PodInfo>();

  constructor(pods: readonly PodInfo[]) {
    for (const p of pods) for (const ip of p.ips) this.byIp.set(ip.toLowerCase(), p);
  }

  static from(table: PodTable): PodNameIndex {
    return new PodNameIndex(table.pods);
  }

  get size(): number {
    return this.byIp.size;
  }

  /** The pod holding `ip` (text form), if any. */
  pod(ip: string): PodInfo | undefined {
    return this.byIp.get(ip.toLowerCase());
  }

  /** "namespace/name" for `ip`, or undefined. */
  label(ip: string): string | undefined {
    const p = this.pod(ip);
    return p ? `${p.namespace}/${p.name}` : undefined;
  }

  /** Address → names records for a pcapng Name Resolution Block. */
  nameRecords(): { ip: string; names: string[] }[] {
    return [...this.byIp.entries()].map(([ip, p]) => ({ ip, names: [podHostName(p)] }));
  }
}
