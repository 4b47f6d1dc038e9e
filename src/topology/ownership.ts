/**
 * How netscope marks what a topology created, so destroy and converge find exactly those objects after a
 * restart: namespaces carry the alias "netscope:<topology>" on their lo, links the same alias, iptables rules
 * a comment "netscope:<topology> #<hash>" (the hash identifies the declared rule: table, chain, argv).
 * Everything a topology creates lives inside namespaces it created, so deleting those removes it all.
 */
import { createHash } from 'crypto';

export function ownerTag(topology: string): string {
  return `netscope:${topology}`;
}

/** The topology named by an alias/comment, if it is a netscope marker. */
export function ownerOf(marker: string | undefined): string | undefined {
  if (!marker) return undefined;
  const m = /^netscope:([A-Za-z0-9_.-]{1,32})(?: #[0-9a-f]+)?$/.exec(marker);
  return m ? m[1] : undefined;
}

export function ruleHash(table: string, chain: string, rule: string[]): string {
  return createHash('sha256').update(JSON.stringify([table, chain, rule])).digest('hex').slice(0, 12);
}

export function ruleComment(topology: string, hash: string): string {
  return `${ownerTag(topology)} #${hash}`;
}

/** The namespace name netscope gives a declared namespace: prefix + declared name. */
export function namespaceName(prefix: string, declared: string): string {
  return `${prefix}${declared}`;
}

export const PREFIX = /^[A-Za-z0-9_.-]{0,31}$/;

/** Default prefix: "<topology>-". */
export function defaultPrefix(topology: string): string {
  return `${topology}-`;
}
