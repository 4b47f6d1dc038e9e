/**
 * The multi-hop lab shared by `npm run bench -- hops` and the capture-engine integration test: a "node"
 * namespace with a bridge and two pod namespaces on veths, so one ICMP echo crosses four capture points
 * (pod A eth0 → node veth A → node veth B → pod B eth0, and back). Also the order check: for every echo
 * request/reply, are its sightings in physical hop order, and how far apart are consecutive hops.
 */
import { spawn, ChildProcess } from 'child_process';
import { run } from '../host/run';
import type { PacketRecord } from '../pcap/record';

export interface HopLab {
  node: string;
  podA: string;
  podB: string;
  vethA: string;
  vethB: string;
  ipA: string;
  ipB: string;
  /** The four capture points in physical order of a request, as IFACE@NETNS. */
  hops: string[];
  /** The same points as the "NETNS/IFACE" labels a capture gives its records. */
  labels: string[];
}

/** Builds the lab with names starting with `prefix` (≤ 9 characters); IPv6 off so no autoconf noise. */
export async function buildHopLab(prefix: string, subnet = '10.244.77'): Promise<HopLab> {
  const node = `${prefix}n`;
  const podA = `${prefix}a`;
  const podB = `${prefix}b`;
  const br = `${prefix}br`;
  const vethA = `${prefix}va`;
  const vethB = `${prefix}vb`;
  for (const ns of [node, podA, podB]) {
    await run(['ip', 'netns', 'add', ns]);
    await run(['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { netns: ns });
    await run(['ip', 'link', 'set', 'lo', 'up'], { netns: ns });
  }
  await run(['ip', 'link', 'add', br, 'type', 'bridge'], { netns: node });
  await run(['ip', 'link', 'set', br, 'up'], { netns: node });
  const ips: string[] = [];
  for (const [pod, veth, host] of [
    [podA, vethA, 1],
    [podB, vethB, 2],
  ] as const) {
    await run(['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod], { netns: node });
    await run(['ip', 'link', 'set', veth, 'master', br, 'up'], { netns: node });
    await run(['ip', 'addr', 'add', `${subnet}.${host}/24`, 'dev', 'eth0'], { netns: pod });
    await run(['ip', 'link', 'set', 'eth0', 'up'], { netns: pod });
    ips.push(`${subnet}.${host}`);
  }
  return {
    node,
    podA,
    podB,
    vethA,
    vethB,
    ipA: ips[0],
    ipB: ips[1],
    hops: [`eth0@${podA}`, `${vethA}@${node}`, `${vethB}@${node}`, `eth0@${podB}`],
    labels: [`${podA}/eth0`, `${node}/${vethA}`, `${node}/${vethB}`, `${podB}/eth0`],
  };
}

export async function destroyHopLab(lab: HopLab): Promise<void> {
  for (const ns of [lab.podA, lab.podB, lab.node]) await run(['ip', 'netns', 'del', ns]).catch(() => undefined);
}

/** One sighting of an ICMP echo: which capture point, when (ns parts), and its position in the stream. */
export interface Sighting {
  point: number;
  sec: number;
  nsec: number;
  pos: number;
}

/**
 * Collects echo sightings keyed by "type/id/seq" from records of an Ethernet IPv4 capture; `point` maps a
 * record to its capture point index (or -1 to ignore it).
 */
export class EchoSightings {
  readonly byEcho = new Map<string, Sighting[]>();
  private pos = 0;

  add(rec: PacketRecord, point: number): void {
    const pos = this.pos++;
    if (point < 0) return;
    const b = rec.buf;
    const o = rec.offset;
    if (rec.caplen < 14 + 20 + 8 || b.readUInt16BE(o + 12) !== 0x0800) return;
    const ihl = (b[o + 14] & 0x0f) * 4;
    if (b[o + 14 + 9] !== 1 || rec.caplen < 14 + ihl + 8) return;
    const icmp = o + 14 + ihl;
    const type = b[icmp];
    if (type !== 8 && type !== 0) return;
    const key = `${type}/${b.readUInt16BE(icmp + 4)}/${b.readUInt16BE(icmp + 6)}`;
    let list = this.byEcho.get(key);
    if (list === undefined) this.byEcho.set(key, (list = []));
    list.push({ point, sec: rec.tsSec, nsec: rec.tsNsec, pos });
  }
}

export interface HopOrder {
  /** Echo messages (requests + replies) seen on every capture point. */
  complete: number;
  /** Consecutive-hop pairs checked (complete × (points − 1)). */
  pairs: number;
  /** Pairs whose later hop has an earlier timestamp than the hop before it. */
  inversions: number;
  /** Pairs whose later hop comes earlier in the stream (file or text order). */
  streamInversions: number;
  /** Median of the consecutive-hop deltas, ns. */
  medianDeltaNs: number;
}

/** Requests cross the points 0→1→2→3; replies 3→2→1→0. */
export function hopOrder(s: EchoSightings, points: number): HopOrder {
  let complete = 0;
  let inversions = 0;
  let streamInversions = 0;
  const deltas: number[] = [];
  for (const [key, list] of s.byEcho) {
    const byPoint: Array<Sighting | undefined> = Array.from({ length: points }, () => undefined);
    for (const x of list) if (byPoint[x.point] === undefined) byPoint[x.point] = x;
    if (byPoint.some((x) => x === undefined)) continue;
    complete++;
    const order = key.startsWith('8/') ? byPoint : [...byPoint].reverse();
    for (let i = 1; i < order.length; i++) {
      const a = order[i - 1]!;
      const b = order[i]!;
      const d = (b.sec - a.sec) * 1e9 + (b.nsec - a.nsec);
      if (d < 0) inversions++;
      if (b.pos < a.pos) streamInversions++;
      deltas.push(d);
    }
  }
  deltas.sort((x, y) => x - y);
  return { complete, pairs: deltas.length, inversions, streamInversions, medianDeltaNs: deltas.length ? deltas[deltas.length >> 1] : NaN };
}

/**
 * Starts tcpdump on IFACE in NETNS writing nanosecond pcap; resolves when it is listening. With `count` it
 * exits by itself after that many packets (tcpdump on SIGINT loses what waits in its ring's open block).
 */
export function startTcpdump(netns: string, iface: string, file: string, filter: string, count?: number): Promise<ChildProcess> {
  const countArgs = count === undefined ? [] : ['-c', String(count)];
  const child = spawn('ip', ['netns', 'exec', netns, 'tcpdump', '-i', iface, '-n', '-U', '--time-stamp-precision=nano', ...countArgs, '-w', file, filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.includes('listening on')) resolve(child);
    });
    child.once('close', (code) => reject(new Error(`tcpdump on ${iface}@${netns} exited (${code}): ${err.trim()}`)));
  });
}

/** Sends SIGINT to tcpdump and waits for it to write its file and exit. */
export function stopTcpdump(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.removeAllListeners('close');
    child.on('close', () => resolve());
    child.kill('SIGINT');
  });
}
