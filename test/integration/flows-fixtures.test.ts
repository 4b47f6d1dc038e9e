/**
 * The flow engine on real captures (fixtures/flows/make.sh made them in throwaway namespaces), read through
 * the real reader and decoder, checked against tshark on the same files: `-z conv,tcp|udp|ip` for
 * conversations, frames and bytes, and tshark field dumps for exact byte sums and SYN/ARP counts.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { FlowRecord, FlowTable } from '../../src/analysis/flows';
import { FlowReport } from '../../src/views/flows/report';
import { decodeRecord } from '../../src/decode/decode';
import { PacketView } from '../../src/decode/view';
import { openCaptureInput, readCapture } from '../../src/pcap/reader';

const DIR = path.join(__dirname, '../../fixtures/flows');
const BASIC = path.join(DIR, 'basic.pcap');
const VXLAN = path.join(DIR, 'vxlan.pcap');
const MOVES = path.join(DIR, 'moves.pcapng');
const ICMP6 = path.join(DIR, 'icmp6.pcap');

async function load(file: string, sink: FlowTable | FlowReport = new FlowTable({ idleTimeoutSec: Infinity })): Promise<FlowTable> {
  const view = new PacketView();
  const res = await readCapture(openCaptureInput(file), (rec) => {
    decodeRecord(view, rec);
    sink.add(view, rec);
  });
  expect(res.error).toBeNull();
  return sink instanceof FlowReport ? sink.table : sink;
}

function tshark(args: string[]): string {
  return execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

interface Conv {
  a: string;
  b: string;
  /** Frames/bytes a→b ("->" column) and b→a ("<-"). */
  framesAB: number;
  framesBA: number;
  bytesAB: [number, number];
  bytesBA: [number, number];
}

/** tshark prints bytes with units ("547 bytes", "100 kB"): returns [value, unit multiplier]. */
function parseSize(v: string, unit: string): [number, number] {
  const mult: Record<string, number> = { bytes: 1, kB: 1e3, MB: 1e6, GB: 1e9 };
  expect(mult[unit]).toBeDefined();
  return [Number(v) * mult[unit], mult[unit]];
}

function conversations(file: string, kind: 'tcp' | 'udp' | 'ip'): Conv[] {
  const out: Conv[] = [];
  const re = /^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+([\d.]+)\s+(bytes|kB|MB|GB)\s+(\d+)\s+([\d.]+)\s+(bytes|kB|MB|GB)\s+\d+\s+[\d.]+\s+(?:bytes|kB|MB|GB)\s+[\d.]+\s+[\d.]+\s*$/;
  for (const line of tshark(['-r', file, '-q', '-z', `conv,${kind}`]).split('\n')) {
    const m = re.exec(line.trim());
    if (!m) continue;
    out.push({ a: m[1], b: m[2], framesBA: Number(m[3]), bytesBA: parseSize(m[4], m[5]), framesAB: Number(m[6]), bytesAB: parseSize(m[7], m[8]) });
  }
  expect(out.length).toBeGreaterThan(0);
  return out;
}

function expectBytes(ours: number, [v, mult]: [number, number]): void {
  // Exact in bytes; tshark rounds larger values to its unit.
  if (mult === 1) expect(ours).toBe(v);
  else expect(Math.abs(ours - v)).toBeLessThanOrEqual(mult);
}

const ep = (addr: string, port: number | null): string => (port === null ? addr : `${addr}:${port}`);

/** Our flow for a tshark conversation, with our counters oriented as tshark's a→b. */
function match(flows: FlowRecord[], c: Conv): { pAB: number; pBA: number; bAB: number; bBA: number } {
  const f = flows.filter((x) => (ep(x.a, x.aPort) === c.a && ep(x.b, x.bPort) === c.b) || (ep(x.a, x.aPort) === c.b && ep(x.b, x.bPort) === c.a));
  expect(f).toHaveLength(1);
  const x = f[0];
  return ep(x.a, x.aPort) === c.a
    ? { pAB: x.packetsAB, pBA: x.packetsBA, bAB: x.bytesAB, bBA: x.bytesBA }
    : { pAB: x.packetsBA, pBA: x.packetsAB, bAB: x.bytesBA, bBA: x.bytesAB };
}

/** Each tshark conversation has a flow with the same frames per direction and the same bytes (to tshark's units). */
function expectConversations(flows: FlowRecord[], convs: Conv[]): void {
  for (const c of convs) {
    const m = match(flows, c);
    expect([m.pAB, m.pBA]).toEqual([c.framesAB, c.framesBA]);
    expectBytes(m.bAB, c.bytesAB);
    expectBytes(m.bBA, c.bytesBA);
  }
}

describe('flows on basic.pcap (client side of a bridge: TCP, RST, SYN timeouts, pings, ICMP error, ARP)', () => {
  let t: FlowTable;
  beforeAll(async () => {
    t = await load(BASIC);
  });

  it('has the TCP and UDP conversations tshark finds, with the same frames and bytes per direction', () => {
    const flows = t.snapshot().flows;
    for (const kind of ['tcp', 'udp'] as const) {
      const convs = conversations(BASIC, kind);
      expect(flows.filter((f) => f.proto === kind)).toHaveLength(convs.length);
      expectConversations(flows, convs);
    }
  });

  it('sums exactly the frame lengths tshark reports per TCP/UDP 5-tuple', () => {
    const sums = new Map<string, number>();
    const rows = tshark(['-r', BASIC, '-Y', '(tcp || udp) && !icmp', '-T', 'fields', '-E', 'separator=,', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'frame.len']);
    for (const line of rows.trim().split('\n')) {
      const [s, d, ts, td, us, ud, len] = line.split(',');
      const k = [`${s}:${ts || us}`, `${d}:${td || ud}`].sort().join(' ');
      sums.set(k, (sums.get(k) ?? 0) + Number(len));
    }
    const ours = new Map(
      t
        .snapshot()
        .flows.filter((f) => f.proto === 'tcp' || f.proto === 'udp')
        .map((f) => [[ep(f.a, f.aPort), ep(f.b, f.bPort)].sort().join(' '), f.bytes]),
    );
    expect(ours).toEqual(sums);
  });

  it('agrees with conv,ip when flows are added up per address pair', () => {
    const pairs = new Map<string, { ab: number; ba: number; a: string }>();
    for (const f of t.snapshot().flows) {
      if (f.family !== 'ipv4') continue;
      const k = [f.a, f.b].sort().join(' ');
      const p = pairs.get(k) ?? { ab: 0, ba: 0, a: f.a };
      if (f.a === p.a) {
        p.ab += f.packetsAB;
        p.ba += f.packetsBA;
      } else {
        p.ab += f.packetsBA;
        p.ba += f.packetsAB;
      }
      pairs.set(k, p);
    }
    const convs = conversations(BASIC, 'ip');
    expect(pairs.size).toBe(convs.length);
    for (const c of convs) {
      const p = pairs.get([c.a, c.b].sort().join(' '))!;
      expect(p).toBeDefined();
      const [ab, ba] = p.a === c.a ? [p.ab, p.ba] : [p.ba, p.ab];
      expect([ab, ba]).toEqual([c.framesAB, c.framesBA]);
    }
  });

  it('knows the TCP outcomes: an orderly transfer, a refused port, SYNs to a silent address', () => {
    const flows = t.snapshot().flows;
    const tcp = (port: number): FlowRecord => flows.find((f) => f.proto === 'tcp' && f.bPort === port)!;
    expect(tcp(8080)).toMatchObject({ a: '10.244.60.1', b: '10.244.60.2', tcp: { state: 'closed', syns: 1, synAck: true, finA: true, finB: true, rstBy: null } });
    expect(tcp(81).tcp).toMatchObject({ state: 'refused', syns: 1, rstBy: 'b' });
    const synsToSilent = Number(tshark(['-r', BASIC, '-Y', 'ip.dst==10.244.60.51 && tcp.flags.syn==1 && tcp.flags.ack==0', '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length);
    expect(synsToSilent).toBeGreaterThanOrEqual(2);
    expect(tcp(80).tcp).toMatchObject({ state: 'syn-sent', syns: synsToSilent, synRetransmits: synsToSilent - 1, synAck: false });
    const p = t.problems();
    const failed = p.filter((x) => x.kind === 'tcp-failed-connect');
    expect(failed.map((x) => [x.details.server, x.details.port, x.details.refused])).toEqual(
      expect.arrayContaining([
        ['10.244.60.2', 81, true],
        ['10.244.60.51', 80, false],
      ]),
    );
    expect(failed).toHaveLength(2);
  });

  it('matches echo replies (RTT) and reports the unanswered pings', () => {
    const flows = t.snapshot().flows.filter((f) => f.echo !== null);
    const to2 = flows.find((f) => f.b === '10.244.60.2')!;
    expect(to2.echo).toMatchObject({ requests: 3, replies: 3, unanswered: 0, rttSamples: 3 });
    expect(to2.echo!.rttMinMs!).toBeGreaterThan(0);
    expect(to2.echo!.rttMaxMs!).toBeLessThan(100);
    const to51 = flows.find((f) => f.b === '10.244.60.51')!;
    expect(to51.echo).toMatchObject({ requests: 2, replies: 0, unanswered: 2 });
    const un = t.problems().filter((x) => x.kind === 'icmp-unanswered');
    expect(un.map((x) => x.details.to)).toEqual(['10.244.60.51']);
  });

  it('attributes the port unreachable to the UDP flow it quotes', () => {
    const udp = t.snapshot().flows.find((f) => f.proto === 'udp')!;
    expect(udp.bPort).toBe(9999);
    expect(udp.icmpErrors).toMatchObject({ count: 1, type: 3, code: 3, from: '10.244.60.2' });
    expect(t.counters().icmpErrorsUnmatched).toBe(0);
  });

  it('finds the ARP for the absent host and the address held by two namespaces', () => {
    const reqs50 = tshark(['-r', BASIC, '-Y', 'arp.opcode==1 && arp.dst.proto_ipv4==10.244.60.50', '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length;
    const p = t.problems();
    const un = p.filter((x) => x.kind === 'arp-unanswered');
    expect(un.map((x) => x.details)).toEqual([{ target: '10.244.60.50', requests: reqs50, requester: '10.244.60.1' }]);
    const conflict = p.filter((x) => x.kind === 'arp-conflict');
    expect(conflict).toHaveLength(1);
    expect(conflict[0].details.ip).toBe('10.244.60.9');
    expect([...(conflict[0].details.macs as string[])].sort()).toEqual(['02:f1:00:00:00:d1', '02:f1:00:00:00:d2']);
  });

  it('renders the read --flows report with the problems section', async () => {
    const r = new FlowReport({ sort: 'bytes', top: 3, json: false });
    await load(BASIC, r);
    const text = r.render();
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^Flows: \d+ \(top 3 by bytes; --top 0 shows all\), \d+ packets, \d+ bytes$/);
    expect(lines[2]).toMatch(/^tcp\s+10\.244\.60\.1:\d+\s+10\.244\.60\.2:8080\s/);
    for (const k of ['tcp-failed-connect', 'icmp-unanswered', 'icmp-error', 'arp-unanswered', 'arp-conflict']) expect(text).toContain(`  ${k}  `);
  });
});

describe('flows on vxlan.pcap (VXLAN underlay: outer UDP plus inner flows tagged with the VNI)', () => {
  let t: FlowTable;
  beforeAll(async () => {
    t = await load(VXLAN);
  });

  it('tracks the outer UDP conversations tshark finds', () => {
    const flows = t.snapshot().flows.filter((f) => f.vni === null);
    const convs = conversations(VXLAN, 'udp');
    expect(flows.filter((f) => f.proto === 'udp')).toHaveLength(convs.length);
    for (const c of convs) {
      const m = match(flows, c);
      expect([m.pAB, m.pBA]).toEqual([c.framesAB, c.framesBA]);
      expectBytes(m.bAB, c.bytesAB);
    }
  });

  it('tracks the inner TCP connection under VNI 4242 with tshark frame counts (bytes: inner frame only)', () => {
    const inner = t.snapshot().flows.filter((f) => f.vni !== null);
    expect(inner.every((f) => f.vni === 4242)).toBe(true);
    const convs = conversations(VXLAN, 'tcp');
    expect(convs).toHaveLength(1);
    const m = match(inner, convs[0]);
    expect([m.pAB, m.pBA]).toEqual([convs[0].framesAB, convs[0].framesBA]);
    // tshark charges the whole outer frame to the inner conversation; we count the inner frame (outer headers:
    // Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 = 50 bytes per packet).
    expectBytes(m.bBA + 50 * m.pBA, convs[0].bytesBA);
    const tcp = inner.find((f) => f.proto === 'tcp')!;
    expect(tcp.tcp!.state).toBe('closed');
    const echo = inner.find((f) => f.echo !== null)!;
    expect(echo.echo).toMatchObject({ requests: 2, replies: 2 });
    expect(t.snapshot().macs.filter((x) => x.vni === 4242).map((x) => x.mac).sort()).toEqual(['02:f1:00:00:01:01', '02:f1:00:00:01:02']);
  });
});

describe('MAC learning on moves.pcapng (two bridge ports captured at once)', () => {
  it('reports the MAC that moved from one port to the other', async () => {
    const t = await load(MOVES);
    expect([...t.interfaces()].sort()).toEqual(['pd1', 'pd2']);
    const moves = t.problems().filter((p) => p.kind === 'mac-move');
    expect(moves).toHaveLength(1);
    expect(moves[0].details).toMatchObject({ mac: '02:f1:00:00:00:d1', from: 'pd1', to: 'pd2' });
    expect(t.snapshot().macs.find((m) => m.mac === '02:f1:00:00:00:d1')).toMatchObject({ iface: 'pd2', moves: 1 });
  });
});

describe('flows on icmp6.pcap (IPv6 through a router: pings, refused TCP, packet too big, hop limit, no route)', () => {
  let t: FlowTable;
  beforeAll(async () => {
    t = await load(ICMP6);
  });

  it('has the TCP and UDP conversations tshark finds, with the same frames and bytes per direction', () => {
    const flows = t.snapshot().flows;
    const convs = [...conversations(ICMP6, 'tcp'), ...conversations(ICMP6, 'udp')];
    expect(convs).toHaveLength(3);
    expectConversations(flows, convs);
  });

  it('attributes every ICMPv6 error to the flow of the packet it quotes, as tshark decodes the quote', () => {
    const rows = tshark(['-r', ICMP6, '-Y', 'icmpv6.type >= 1 && icmpv6.type <= 4', '-T', 'fields', '-E', 'separator=;',
      '-e', 'icmpv6.type', '-e', 'icmpv6.code', '-e', 'ipv6.src', '-e', 'ipv6.dst', '-e', 'udp.srcport', '-e', 'udp.dstport',
      '-e', 'icmpv6.echo.identifier', '-e', 'icmpv6.mtu']).trim().split('\n');
    expect(rows.map((r) => r.split(';')[0].split(',')[0]).sort()).toEqual(['1', '1', '2', '3']);
    const flows = t.snapshot().flows;
    for (const row of rows) {
      const [type, code, srcs, dsts, sport, dport, echoId, mtu] = row.split(';');
      const [from, qsrc] = srcs.split(',');
      const qdst = dsts.split(',')[1];
      const f = flows.find((x) =>
        sport !== ''
          ? x.proto === 'udp' && x.a === qsrc && x.b === qdst && x.aPort === Number(sport) && x.bPort === Number(dport)
          : x.proto === 'icmpv6' && x.a === qsrc && x.b === qdst && x.echoId === Number(echoId),
      );
      expect(f).toBeDefined();
      expect(f!.icmpErrors).toMatchObject({ count: 1, type: Number(type.split(',')[0]), code: Number(code.split(',')[0]), from });
      if (mtu !== '') expect(f!.icmpErrors!.text).toBe(`packet too big, MTU ${mtu}`);
    }
    expect(t.counters().icmpErrorsUnmatched).toBe(0);
    const texts = t.problems().filter((p) => p.kind === 'icmp-error').map((p) => p.text);
    expect(texts).toEqual(expect.arrayContaining([
      expect.stringMatching(/^fdaa:244:2::2: destination unreachable \(port unreachable\) for udp /),
      expect.stringMatching(/^fdaa:244:1::fe: packet too big, MTU 1280 for icmpv6 /),
      expect.stringMatching(/^fdaa:244:1::fe: time exceeded \(hop limit exceeded in transit\) for icmpv6 /),
      expect.stringMatching(/^fdaa:244:1::fe: destination unreachable \(no route to destination\) for udp .*fdaa:244:9::9/),
    ]));
  });

  it('knows the refused connect and the answered pings over IPv6', () => {
    expect(t.problems().filter((p) => p.kind === 'tcp-failed-connect').map((p) => p.details.refused)).toEqual([true]);
    const pings = t.snapshot().flows.filter((f) => f.echo !== null && f.echo.requests === 3);
    expect(pings).toHaveLength(1);
    expect(pings[0].echo).toMatchObject({ replies: 3, unanswered: 0, rttSamples: 3 });
  });
});

it('fixtures are small enough to commit', () => {
  for (const f of [BASIC, VXLAN, MOVES, ICMP6]) expect(fs.statSync(f).size).toBeLessThan(20_000);
});

it('writes each --json flow line exactly as JSON.stringify of its FlowRecord (IPv4, IPv6, ARP, Ethernet, VXLAN, ICMP errors)', async () => {
  const files = [BASIC, VXLAN, MOVES, ICMP6, ...['arp.pcap', 'icmp-errors.pcap', 'icmpv6.pcap', 'multi.pcapng', 'vxlan.pcap', 'frag.pcap'].map((f) => path.join(DIR, '../pcap', f))];
  let checked = 0;
  for (const file of files) {
    const r = new FlowReport({ sort: 'bytes', top: 0, json: true });
    const t = await load(file, r);
    const got = r.render().split('\n').filter((l) => l.startsWith('{"flow":'));
    const handles = t.selectFlows({ sort: 'bytes', rateBy: 'average' });
    expect(got).toHaveLength(handles.length);
    handles.forEach((h, i) => expect(got[i]).toBe(JSON.stringify({ flow: t.flowRecord(h) })));
    checked += handles.length;
  }
  expect(checked).toBeGreaterThan(50);
});
