/**
 * The record every firewall backend is normalised to: one rule (or a chain policy) with its packet and byte
 * counters and a key that stays the same across refreshes, so deltas can be computed per rule.
 */

/** Which tool's view of the kernel holds the rule. ip6tables-* are the IPv6 halves of the same backends. */
export type RuleBackend = 'iptables-nft' | 'iptables-legacy' | 'ip6tables-nft' | 'ip6tables-legacy' | 'nft';

export interface RuleCounter {
  /** Stable identity: backend|family|table|chain|text|occurrence (see ruleKey). */
  key: string;
  backend: RuleBackend;
  /** nftables family: ip ip6 inet arp bridge netdev (iptables: ip, ip6tables: ip6). */
  family: string;
  table: string;
  chain: string;
  /** 1-based position in the chain; 0 is the chain policy. */
  position: number;
  /** The rule as the backend prints it, without counters (iptables: after "-A CHAIN"; policy: "policy DROP"). */
  text: string;
  /** Verdict or jump target: ACCEPT DROP REJECT KUBE-SVC-… MASQUERADE, accept drop jump:x …; "" when none. */
  target: string;
  packets: number;
  bytes: number;
  /** false when the kernel keeps no counter for this rule (nft rule without `counter`, nft chain policy). */
  counted: boolean;
  comment?: string;
  /** Kubernetes service a kube-proxy rule stands for: "default/web:http". */
  service?: string;
  /** What a kube-proxy chain is for ("service → endpoints", "endpoint DNAT", …). */
  kubeRole?: string;
  /** nftables rule handle (nft backend only). */
  handle?: number;
}

/**
 * Builds keys: position is deliberately not part of the key, so inserting a rule above others does not reset
 * their deltas; identical rules in one chain are told apart by their occurrence number.
 */
export class RuleKeyer {
  private readonly seen = new Map<string, number>();

  key(backend: RuleBackend, family: string, table: string, chain: string, text: string): string {
    const base = `${backend}|${family}|${table}|${chain}|${text}`;
    const n = (this.seen.get(base) ?? 0) + 1;
    this.seen.set(base, n);
    return n === 1 ? base : `${base}|#${n}`;
  }
}

/** Targets/verdicts that throw a packet away: a counter moving on one of these means traffic is being blocked. */
export function isDropTarget(target: string): boolean {
  const t = target.toLowerCase();
  return t === 'drop' || t === 'reject' || t === 'kube-mark-drop';
}

const KUBE_ROLES: Array<[RegExp, string]> = [
  [/^KUBE-SERVICES$/, 'service portals'],
  [/^KUBE-SVC-/, 'service → endpoints'],
  [/^KUBE-SVL-/, 'service → local endpoints'],
  [/^KUBE-XLB-/, 'service → local endpoints'],
  [/^KUBE-SEP-/, 'endpoint DNAT'],
  [/^KUBE-EXT-/, 'service external traffic'],
  [/^KUBE-FW-/, 'load-balancer firewall'],
  [/^KUBE-NODEPORTS$/, 'node ports'],
  [/^KUBE-FORWARD$/, 'forwarding'],
  [/^KUBE-POSTROUTING$/, 'masquerade marked traffic'],
  [/^KUBE-MARK-MASQ$/, 'mark for masquerade'],
  [/^KUBE-MARK-DROP$/, 'mark for drop'],
  [/^KUBE-FIREWALL$/, 'localnet firewall'],
  [/^KUBE-PROXY-FIREWALL$/, 'load-balancer source ranges'],
  [/^KUBE-EXTERNAL-SERVICES$/, 'external services without endpoints'],
  [/^KUBE-(PROXY|KUBELET|NODE)-CANARY$/, 'canary'],
  [/^KUBE-(IPVS|LOAD-BALANCER|NODE-PORT|LOAD-BALANCER)/, 'ipvs mode'],
  [/^KUBE-/, 'kube-proxy'],
  // kube-proxy's nftables mode keeps its rules in table "kube-proxy" with lower-case chain names.
  [/^service-[A-Z0-9]+-/, 'service → endpoints'],
  [/^endpoint-[A-Z0-9]+-/, 'endpoint DNAT'],
  [/^external-[A-Z0-9]+-/, 'service external traffic'],
  [/^firewall-[A-Z0-9]+-/, 'load-balancer firewall'],
];

/** The kube-proxy role of a chain, or undefined when the chain is not kube-proxy's. */
export function kubeChainRole(table: string, chain: string): string | undefined {
  const nftMode = table === 'kube-proxy';
  for (const [re, role] of KUBE_ROLES) {
    if (!re.test(chain)) continue;
    if (chain.startsWith('KUBE-') || nftMode) return role;
  }
  return nftMode ? 'kube-proxy' : undefined;
}

// DNS-1123 namespace and service names, then an optional ":port-name"; kube-proxy comments look like
// "default/web:http", "default/web:http cluster IP", "default/web:http -> 10.244.1.10:8080".
const SERVICE_COMMENT = /^([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\/([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)(?::([-a-z0-9]*))?(?=$|\s)/;
// nftables-mode chain names: "service-ULMVA6XW-default/web/tcp/http", "endpoint-…-default/web/tcp/http__10.1.2.3/80".
const SERVICE_CHAIN = /^(?:service|endpoint|external|firewall)-[A-Z0-9]+-([^/]+)\/([^/]+)\/[a-z]+\/([^_]*)/;

/** The Kubernetes service ("namespace/name:port") a kube-proxy rule stands for, from its comment or chain. */
export function kubeService(table: string, chain: string, comment: string | undefined): string | undefined {
  if (kubeChainRole(table, chain) === undefined) return undefined;
  if (comment !== undefined) {
    const m = SERVICE_COMMENT.exec(comment);
    if (m) return m[3] ? `${m[1]}/${m[2]}:${m[3]}` : `${m[1]}/${m[2]}`;
  }
  const c = SERVICE_CHAIN.exec(chain);
  if (c) return c[3] ? `${c[1]}/${c[2]}:${c[3]}` : `${c[1]}/${c[2]}`;
  return undefined;
}

/** Adds kubeRole and service to a rule of a kube-proxy chain (in place; returns the rule). */
export function annotateKube(rule: RuleCounter): RuleCounter {
  const role = kubeChainRole(rule.table, rule.chain);
  if (role !== undefined) rule.kubeRole = role;
  const service = kubeService(rule.table, rule.chain, rule.comment);
  if (service !== undefined) rule.service = service;
  return rule;
}
