/**
 * Address text for analysis output (flow rows, problems). Only called when a row is materialised, never per
 * packet. The text rules are the decoder's formatting (one RFC 5952 implementation); flows keep addresses as
 * numbers, so these take numbers rather than buffer offsets.
 */
import { ip6GroupsToString } from '../decode/format';

export { ip4ToString as ip4Text } from '../decode/format';

/** RFC 5952 text of an IPv6 address given as four big-endian 32-bit words. */
export function ip6Text(w0: number, w1: number, w2: number, w3: number): string {
  return ip6GroupsToString([w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff]);
}

/** MAC text from the 16 high and 32 low bits. */
export function macText(hi: number, lo: number): string {
  const b = [hi >>> 8, hi & 255, lo >>> 24, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
