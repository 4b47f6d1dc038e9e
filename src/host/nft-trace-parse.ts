/**
 * Parser for `nft -a monitor` lines: nftables trace events ("trace id ID FAMILY TABLE CHAIN …") and ruleset
 * events (the readiness signal). Pure: one line in, one event (or undefined) out.
 *
 * Trace event shapes (nft 1.0):
 *   trace id 460bc0cd inet filter fwd packet: iif "ra" oif "rb" ether saddr … ip saddr … icmp id 77 icmp sequence 1 …
 *   trace id 460bc0cd inet filter fwd rule ip daddr 10.244.8.2 drop # handle 2 (verdict drop)
 *   trace id 460bc0cd inet filter fwd verdict continue
 *   trace id 460bc0cd inet filter fwd policy drop
 */

export type TraceEventKind = 'packet' | 'rule' | 'verdict' | 'policy';

export interface TraceEvent {
  /** Trace id: one packet's walk through the hooks of one namespace. */
  id: string;
  family: string;
  table: string;
  chain: string;
  kind: TraceEventKind;
  /** rule: the rule as nft prints it (without the handle); packet: the packet description. */
  text: string;
  /** rule: its handle (with `nft -a`). */
  handle?: number;
  /** rule/verdict/policy: accept, drop, continue, jump, goto, return, queue … */
  verdict?: string;
  /** jump/goto target chain. */
  target?: string;
  /** packet: input / output interface names. */
  iif?: string;
  oif?: string;
}

const HEAD = /^trace id ([0-9a-f]+) (\S+) (\S+) (\S+) (.*)$/;

/** One trace line, or undefined when the line is not a trace event. */
export function parseTraceLine(line: string): TraceEvent | undefined {
  const m = HEAD.exec(line.trimEnd());
  if (!m) return undefined;
  const [, id, family, table, chain, rest] = m;
  const base = { id, family, table, chain };
  if (rest.startsWith('packet: ')) {
    const text = rest.slice('packet: '.length);
    const iif = /(?:^| )iif "([^"]*)"/.exec(text)?.[1];
    const oif = /(?:^| )oif "([^"]*)"/.exec(text)?.[1];
    return { ...base, kind: 'packet', text, ...(iif !== undefined ? { iif } : {}), ...(oif !== undefined ? { oif } : {}) };
  }
  if (rest.startsWith('rule ')) {
    let body = rest.slice('rule '.length);
    let verdict: string | undefined;
    let target: string | undefined;
    const v = / \(verdict (\S+)(?: (\S+))?\)$/.exec(body);
    if (v) {
      verdict = v[1];
      target = v[2];
      body = body.slice(0, v.index);
    }
    let handle: number | undefined;
    const h = / # handle (\d+)$/.exec(body);
    if (h) {
      handle = Number(h[1]);
      body = body.slice(0, h.index);
    }
    return { ...base, kind: 'rule', text: body.trim(), ...(handle !== undefined ? { handle } : {}), ...(verdict ? { verdict } : {}), ...(target ? { target } : {}) };
  }
  const vp = /^(verdict|policy) (\S+)(?: (\S+))?/.exec(rest);
  if (vp) return { ...base, kind: vp[1] as 'verdict' | 'policy', text: rest.trim(), verdict: vp[2], ...(vp[3] ? { target: vp[3] } : {}) };
  return undefined;
}

/** The packet fields diagnose needs from a "packet:" description (undefined when absent). */
export interface TracedPacket {
  saddr?: string;
  daddr?: string;
  /** ICMP/ICMPv6 type name as nft prints it (echo-request, echo-reply …). */
  icmpType?: string;
  icmpId?: number;
  icmpSeq?: number;
  sport?: number;
  dport?: number;
  l4?: 'icmp' | 'icmpv6' | 'tcp' | 'udp';
}

/** Fields of a "packet:" description. */
export function parseTracedPacket(text: string): TracedPacket {
  const out: TracedPacket = {};
  const word = (re: RegExp): string | undefined => re.exec(text)?.[1];
  out.saddr = word(/\bip6? saddr (\S+)/);
  out.daddr = word(/\bip6? daddr (\S+)/);
  const icmp6 = word(/\bicmpv6 type (\S+)/);
  const icmp4 = word(/\bicmp type (\S+)/);
  if (icmp6 !== undefined) {
    out.l4 = 'icmpv6';
    out.icmpType = icmp6;
    const id = word(/\bicmpv6 id (\d+)/);
    const seq = word(/\bicmpv6 sequence (\d+)/);
    if (id !== undefined) out.icmpId = Number(id);
    if (seq !== undefined) out.icmpSeq = Number(seq);
  } else if (icmp4 !== undefined) {
    out.l4 = 'icmp';
    out.icmpType = icmp4;
    const id = word(/\bicmp id (\d+)/);
    const seq = word(/\bicmp sequence (\d+)/);
    if (id !== undefined) out.icmpId = Number(id);
    if (seq !== undefined) out.icmpSeq = Number(seq);
  }
  for (const l4 of ['tcp', 'udp'] as const) {
    const sp = word(new RegExp(`\\b${l4} sport (\\d+)`));
    const dp = word(new RegExp(`\\b${l4} dport (\\d+)`));
    if (sp !== undefined || dp !== undefined) {
      out.l4 = l4;
      if (sp !== undefined) out.sport = Number(sp);
      if (dp !== undefined) out.dport = Number(dp);
    }
  }
  for (const k of Object.keys(out) as Array<keyof TracedPacket>) if (out[k] === undefined) delete out[k];
  return out;
}

/** A verdict that ends the packet's life in this namespace. */
export function isFinalDrop(verdict: string | undefined): boolean {
  return verdict === 'drop' || verdict === 'reject';
}

/** One packet's walk through the chains of one namespace, as the trace events told it. */
export interface TraceWalk {
  id: string;
  /** The first "packet:" description (at the first traced chain). */
  packet: string;
  iif?: string;
  oif?: string;
  /** Chains in the order the packet entered them ("family table chain"). */
  chains: string[];
  /** The event that dropped the packet (a rule with verdict drop, or a chain policy drop), if any. */
  drop?: TraceEvent;
  /** iif/oif of the chain where it was dropped. */
  dropIif?: string;
  dropOif?: string;
}

/** What stays the same for one packet across chains and NAT: IP id, ICMP type/id/sequence, source port. */
function packetKey(text: string): string {
  const p = parseTracedPacket(text);
  const ipId = /\bip id (\d+)/.exec(text)?.[1] ?? '';
  return `${ipId}|${p.icmpType ?? ''}|${p.icmpId ?? ''}|${p.icmpSeq ?? ''}|${p.sport ?? ''}`;
}

/**
 * Groups events by trace id into walks (events of one id arrive in order). The kernel derives the id from
 * the packet buffer's address, so a later packet can reuse an id: a "packet:" event describing another
 * packet starts a new walk.
 */
export function walksOf(events: TraceEvent[]): TraceWalk[] {
  const byId = new Map<string, TraceWalk & { lastIif?: string; lastOif?: string; key?: string }>();
  const done: Array<TraceWalk & { lastIif?: string; lastOif?: string; key?: string }> = [];
  for (const e of events) {
    let w = byId.get(e.id);
    if (w && e.kind === 'packet' && w.key !== undefined && packetKey(e.text) !== w.key) {
      done.push(w);
      w = undefined;
    }
    if (!w) {
      w = { id: e.id, packet: '', chains: [] };
      byId.set(e.id, w);
    }
    const chain = `${e.family} ${e.table} ${e.chain}`;
    if (e.kind === 'packet') {
      if (w.packet === '') {
        w.packet = e.text;
        w.key = packetKey(e.text);
        if (e.iif !== undefined) w.iif = e.iif;
        if (e.oif !== undefined) w.oif = e.oif;
      }
      w.lastIif = e.iif;
      w.lastOif = e.oif;
      if (w.chains[w.chains.length - 1] !== chain) w.chains.push(chain);
      continue;
    }
    if (w.chains[w.chains.length - 1] !== chain) w.chains.push(chain);
    if (w.drop === undefined && (e.kind === 'rule' || e.kind === 'policy') && isFinalDrop(e.verdict)) {
      w.drop = e;
      if (w.lastIif !== undefined) w.dropIif = w.lastIif;
      if (w.lastOif !== undefined) w.dropOif = w.lastOif;
    }
  }
  return [...done, ...byId.values()].map(({ lastIif: _i, lastOif: _o, key: _k, ...w }) => w);
}
