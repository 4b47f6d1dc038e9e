/**
 * The probes, sent from FROM's namespace through the command runner: `ping` for ICMP echo (its identifier set
 * with -e, DF with -M do), and a small Node script for TCP SYNs and UDP datagrams (source ports chosen here,
 * UDP payload tagged), so every probe carries an identity the capture can match on every hop.
 */
import { randomBytes, randomInt } from 'crypto';
import { CommandError, run } from '../host/run';
import type { ProbeIdentity, ProbeProto, ProbeResult, ProbeSettings } from './types';

export interface ProbePlan extends ProbeSettings {
  /** Namespace id to send from ("" = netscope's own). */
  netns: string;
  dst: string;
}

/** IPv4 bytes of one probe packet (for MTU checks): headers + payload. */
export function probePacketBytes(proto: ProbeProto, size: number): number {
  switch (proto) {
    case 'icmp':
      return 20 + 8 + size;
    case 'udp':
      return 20 + 8 + size;
    case 'tcp':
      // A SYN with the options Linux sends (MSS, SACK, timestamps, window scale).
      return 20 + 40;
  }
}

/** A fresh identity: a random echo id, distinct random source ports, a random UDP tag. */
export function chooseIdentity(proto: ProbeProto, count: number): ProbeIdentity {
  if (proto === 'icmp') return { icmpId: randomInt(1, 65536) };
  const ports = new Set<number>();
  // Above the default ephemeral range's middle, where a clash with a live connection is least likely.
  while (ports.size < count) ports.add(randomInt(40000, 61000));
  const id: ProbeIdentity = { sourcePorts: [...ports] };
  if (proto === 'udp') id.tag = `netscope-diagnose-${randomBytes(4).toString('hex')}`;
  return id;
}

/** The ping argv for a plan. */
export function pingArgv(p: ProbePlan): string[] {
  const waitSec = Math.max(0.2, p.timeoutMs / 1000);
  // No -w: with a deadline ping keeps sending until `count` replies arrive; the probe count must stay exact.
  // No -q: it would also silence local errors ("message too long").
  return ['ping', '-n', '-c', String(p.count), '-i', '0.2', '-W', String(waitSec), '-e', String(p.identity.icmpId), '-s', String(p.size), '-M', p.df ? 'do' : 'dont', p.dst];
}

/** Parses ping's summary line and its local errors. */
export function parsePing(stdout: string, stderr: string): { sent: number; received: number; localError?: string } {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(stdout);
  const sent = m ? Number(m[1]) : 0;
  const received = m ? Number(m[2]) : 0;
  const err = stderr
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^ping: /.test(l));
  return { sent, received, ...(err ? { localError: err.replace(/^ping: /, '') } : {}) };
}

/**
 * TCP: one connection attempt per source port, all at once; connected = SYN-ACK came back, refused = RST.
 * UDP: per source port a socket connected to the destination sends the tagged datagram, and once more halfway
 * through the wait: an ICMP port unreachable that came back in between makes the socket report ECONNREFUSED.
 * Prints one JSON line: {answered, refused, errors}.
 */
const SOCKET_PROBE = String.raw`
const a = JSON.parse(process.argv[1]);
const out = { answered: 0, refused: 0, errors: [] };
let left = a.sports.length;
const done = () => { if (--left === 0) { process.stdout.write(JSON.stringify(out) + '\n'); process.exit(0); } };
const note = (e) => { const t = e.code || e.message; if (!out.errors.includes(t)) out.errors.push(t); };
for (const sp of a.sports) {
  let fin = false;
  const finish = (kind, e, close) => {
    if (fin) return; fin = true;
    if (kind === 'ok') out.answered++; else if (kind === 'refused') out.refused++; else if (e) note(e);
    try { close(); } catch (_) {}
    done();
  };
  if (a.proto === 'tcp') {
    const s = require('net').connect({ host: a.dst, port: a.port, localPort: sp });
    const t = setTimeout(() => finish('timeout', null, () => s.destroy()), a.timeoutMs);
    s.on('connect', () => { clearTimeout(t); finish('ok', null, () => s.destroy()); });
    s.on('error', (e) => { clearTimeout(t); finish(e.code === 'ECONNREFUSED' ? 'refused' : 'error', e, () => s.destroy()); });
  } else {
    const s = require('dgram').createSocket('udp4');
    const payload = Buffer.alloc(Math.max(a.size, a.tag.length + 6), 0x20);
    let timers = [];
    const close = () => { timers.forEach(clearTimeout); s.close(); };
    s.on('error', (e) => finish(e.code === 'ECONNREFUSED' ? 'refused' : 'error', e, close));
    s.on('message', () => finish('ok', null, close));
    s.bind(sp, () => s.connect(a.port, a.dst, (err) => {
      if (err) return finish('error', err, close);
      const send = (n) => { Buffer.from(a.tag + ' ' + sp + ' ' + n).copy(payload); s.send(payload, (e) => { if (e) finish(e.code === 'ECONNREFUSED' ? 'refused' : 'error', e, close); }); };
      send(1);
      timers.push(setTimeout(() => send(2), Math.floor(a.timeoutMs / 2)));
      timers.push(setTimeout(() => finish('timeout', null, close), a.timeoutMs));
    }));
  }
}
`;

function oneLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).filter((l) => l !== '').join('; ');
}

/** Sends the probes and waits for them to finish (at most about timeoutMs + count × 0.2 s). */
export async function sendProbes(p: ProbePlan, signal?: AbortSignal): Promise<ProbeResult> {
  const netns = p.netns === '' ? undefined : p.netns;
  const base: ProbeResult = { proto: p.proto, sent: p.count, answered: 0, refused: 0, identity: p.identity };
  if (p.proto === 'icmp') {
    const argv = pingArgv(p);
    const limit = 5000 + p.timeoutMs + 200 * p.count;
    try {
      const r = await run(argv, { netns, timeoutMs: limit, signal });
      const parsed = parsePing(r.stdout, r.stderr);
      return { ...base, sent: parsed.sent || p.count, answered: parsed.received };
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      // Exit 1: some or all echoes unanswered (ping's counts are on stdout, which a failed run does not keep;
      // the capture counts the replies). Anything on stderr is a local error: no route, message too long …
      const parsed = parsePing('', e.stderr);
      if (e.code === 'ENOENT') throw e;
      return { ...base, ...(parsed.localError ? { localError: parsed.localError } : e.code !== 1 ? { localError: oneLine(e.stderr) || `ping exit ${String(e.code)}` } : {}) };
    }
  }
  const args = { proto: p.proto, dst: p.dst, port: p.port, sports: p.identity.sourcePorts ?? [], tag: p.identity.tag ?? '', size: p.size, timeoutMs: p.timeoutMs };
  const r = await run([process.execPath, '-e', SOCKET_PROBE, JSON.stringify(args)], { netns, timeoutMs: p.timeoutMs + 10_000, signal });
  let parsed: { answered: number; refused: number; errors: string[] };
  try {
    parsed = JSON.parse(r.stdout.trim()) as typeof parsed;
  } catch {
    throw new Error(`probe script printed no result (stderr: ${oneLine(r.stderr) || 'empty'})`);
  }
  const local = parsed.errors.find((x) => /ENETUNREACH|EMSGSIZE|EADDRNOTAVAIL|EADDRINUSE|EINVAL|EPERM|EACCES/.test(x));
  return { ...base, answered: parsed.answered, refused: parsed.refused, ...(local ? { localError: local } : {}) };
}
