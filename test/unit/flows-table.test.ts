import { FlowFacts, FlowTable } from '../../src/analysis/flows';
import { FlowReport } from '../../src/views/flows/report';
import { decodeRecord } from '../../src/decode/decode';
import * as c from '../../src/decode/craft';
import { L, PacketView, TCP, TUNNEL } from '../../src/decode/view';
import { PacketRecord } from '../../src/pcap/record';

/** Fills a PacketView by hand the way the decoder would (the engine's input contract). */
interface Pkt {
  src: string;
  dst: string;
  proto?: 'tcp' | 'udp' | 'icmp' | 'arp' | 'ip6tcp' | 'icmp6';
  sport?: number;
  dport?: number;
  flags?: number;
  icmpType?: number;
  icmpCode?: number;
  id?: number;
  seq?: number;
  arpOp?: number;
  smac?: string;
  dmac?: string;
  shaMac?: string;
  len?: number;
  t: number;
  iface?: string;
  vlan?: number;
  inner?: { src: string; dst: string; sport: number; dport: number; vni: number; smac?: string };
  quote?: { src: string; dst: string; proto: number; sport: number; dport: number };
}

const ip4 = (v: number): string => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
const ip = (s: string): number => s.split('.').reduce((a, x) => a * 256 + Number(x), 0);
const macBytes = (m: string): number[] => m.split(':').map((x) => parseInt(x, 16));

function fill(v: PacketView, p: Pkt, buf: Buffer): void {
  v.buf = buf;
  v.base = 0;
  v.caplen = buf.length;
  v.len = p.len ?? 100;
  v.layers = L.ETH;
  // Layout in buf: [0..6) dst mac, [6..12) src mac, [12..28) ip6 src, [28..44) ip6 dst, [44..50) ARP sha, [50..58) icmp6 hdr
  buf.set(macBytes(p.dmac ?? '02:00:00:00:00:02'), 0);
  buf.set(macBytes(p.smac ?? '02:00:00:00:00:01'), 6);
  v.ethDstOff = 0;
  v.ethSrcOff = 6;
  v.vlanCount = 0;
  if (p.vlan !== undefined) {
    v.layers |= L.VLAN;
    v.vlanCount = 1;
    v.vlanIds[0] = p.vlan;
  }
  const proto = p.proto ?? 'tcp';
  if (proto === 'arp') {
    v.layers |= L.ARP;
    v.ethType = 0x0806;
    v.arpOp = p.arpOp ?? 1;
    v.arpSpa = ip(p.src);
    v.arpTpa = ip(p.dst);
    buf.set(macBytes(p.shaMac ?? p.smac ?? '02:00:00:00:00:01'), 44);
    v.arpShaOff = 44;
    return;
  }
  if (proto === 'ip6tcp' || proto === 'icmp6') {
    v.layers |= L.IPV6;
    v.ethType = 0x86dd;
    const w = (s: string, o: number): void => {
      const b = Buffer.alloc(16);
      b[0] = 0xfd;
      b[15] = Number(s);
      buf.set(b, o);
    };
    w(p.src, 12);
    w(p.dst, 28);
    v.ip6SrcOff = 12;
    v.ip6DstOff = 28;
    if (proto === 'icmp6') {
      v.ipProto = 58;
      v.layers |= L.ICMPV6;
      v.icmp6Type = p.icmpType ?? 128;
      v.l4Off = 50;
      buf[50] = v.icmp6Type;
      buf.writeUInt16BE(p.id ?? 0, 54);
      buf.writeUInt16BE(p.seq ?? 0, 56);
      return;
    }
    v.ipProto = 6;
    v.layers |= L.TCP;
    v.sport = p.sport ?? 0;
    v.dport = p.dport ?? 0;
    v.tcpFlags = p.flags ?? TCP.ACK;
    return;
  }
  v.layers |= L.IPV4;
  v.ethType = 0x0800;
  v.ip4Src = ip(p.src);
  v.ip4Dst = ip(p.dst);
  if (proto === 'tcp') {
    v.ipProto = 6;
    v.layers |= L.TCP;
    v.sport = p.sport ?? 0;
    v.dport = p.dport ?? 0;
    v.tcpFlags = p.flags ?? TCP.ACK;
  } else if (proto === 'udp') {
    v.ipProto = 17;
    v.layers |= L.UDP;
    v.sport = p.sport ?? 0;
    v.dport = p.dport ?? 0;
  } else {
    v.ipProto = 1;
    v.layers |= L.ICMP;
    v.icmpType = p.icmpType ?? 8;
    v.icmpCode = p.icmpCode ?? 0;
    v.icmpId = p.id ?? 0;
    v.icmpSeq = p.seq ?? 0;
    v.l4Off = -1;
    if (p.quote) {
      v.layers |= L.ICMP_INNER;
      v.icmpInnerSrc = ip(p.quote.src);
      v.icmpInnerDst = ip(p.quote.dst);
      v.icmpInnerProto = p.quote.proto;
      v.icmpInnerSport = p.quote.sport;
      v.icmpInnerDport = p.quote.dport;
    }
  }
}

class Feeder {
  readonly view = new PacketView();
  readonly buf = Buffer.alloc(64);
  readonly innerBuf = Buffer.alloc(64);
  readonly rec: PacketRecord = { buf: this.buf, offset: 0, caplen: 64, len: 0, tsSec: 0, tsNsec: 0, linktype: 1, ifIndex: 0, iface: undefined };
  constructor(private readonly sink: { add(v: PacketView, r: PacketRecord): void }) {}
  send(p: Pkt): void {
    fill(this.view, p, this.buf);
    const inner = this.view.inner!;
    inner.layers = 0;
    this.view.tunnelKind = TUNNEL.NONE;
    if (p.inner) {
      this.view.layers |= L.VXLAN | L.UDP;
      this.view.tunnelKind = TUNNEL.VXLAN;
      this.view.vni = p.inner.vni;
      fill(inner, { src: p.inner.src, dst: p.inner.dst, proto: 'tcp', sport: p.inner.sport, dport: p.inner.dport, smac: p.inner.smac, t: p.t, len: 50 }, this.innerBuf);
    }
    this.rec.len = p.len ?? 100;
    this.rec.tsSec = Math.floor(p.t);
    this.rec.tsNsec = Math.round((p.t - Math.floor(p.t)) * 1e9);
    this.rec.iface = p.iface;
    this.sink.add(this.view, this.rec);
  }
}

const A = '10.244.1.1';
const B = '10.244.1.2';
const T0 = 1_700_000_000;

describe('FlowTable: keys and counters', () => {
  it('puts both directions in one flow with per-direction counters and the SYN sender as side a', () => {
    const t = new FlowTable();
    const f = new Feeder(t);
    // The first packet seen is the SYN-ACK (capture started late): the initiator is its destination.
    f.send({ src: B, dst: A, sport: 80, dport: 40000, flags: TCP.SYN | TCP.ACK, t: T0, len: 74 });
    f.send({ src: A, dst: B, sport: 40000, dport: 80, flags: TCP.ACK, t: T0 + 0.001, len: 66 });
    f.send({ src: A, dst: B, sport: 40000, dport: 80, flags: TCP.ACK | TCP.PSH, t: T0 + 0.002, len: 200 });
    f.send({ src: B, dst: A, sport: 80, dport: 40000, flags: TCP.ACK, t: T0 + 0.5, len: 1500 });
    const s = t.snapshot();
    expect(s.flows).toHaveLength(1);
    const fl = s.flows[0];
    expect(fl).toMatchObject({
      proto: 'tcp',
      family: 'ipv4',
      a: A,
      aPort: 40000,
      b: B,
      bPort: 80,
      packetsAB: 2,
      packetsBA: 2,
      bytesAB: 266,
      bytesBA: 1574,
      packets: 4,
      bytes: 1840,
      first: `${T0}.000000000`,
      last: `${T0}.500000000`,
    });
    expect(fl.durationSec).toBeCloseTo(0.5, 6);
    expect(fl.key).toBe('tcp 10.244.1.1:40000 <-> 10.244.1.2:80');
    expect(s.counters).toMatchObject({ packets: 4, bytes: 1840, flows: 1, created: 1 });
  });

  it('keeps flows apart by ports, protocol, family and VNI', () => {
    const t = new FlowTable();
    const f = new Feeder(t);
    f.send({ src: A, dst: B, sport: 1, dport: 2, t: T0 });
    f.send({ src: A, dst: B, sport: 1, dport: 3, t: T0 });
    f.send({ src: A, dst: B, proto: 'udp', sport: 1, dport: 2, t: T0 });
    f.send({ src: '1', dst: '2', proto: 'ip6tcp', sport: 1, dport: 2, t: T0 });
    f.send({ src: '2', dst: '1', proto: 'ip6tcp', sport: 2, dport: 1, t: T0 });
    // A VXLAN packet: the outer UDP flow plus the inner TCP flow tagged with the VNI.
    f.send({ src: '10.42.0.1', dst: '10.42.0.2', proto: 'udp', sport: 5555, dport: 4789, t: T0, inner: { src: A, dst: B, sport: 1, dport: 2, vni: 42 } });
    const keys = t.snapshot({ sort: 'start' }).flows.map((x) => x.key);
    expect(keys).toEqual([
      'tcp 10.244.1.1:1 <-> 10.244.1.2:2',
      'tcp 10.244.1.1:1 <-> 10.244.1.2:3',
      'udp 10.244.1.1:1 <-> 10.244.1.2:2',
      'tcp [fd00::1]:1 <-> [fd00::2]:2',
      'udp 10.42.0.1:5555 <-> 10.42.0.2:4789',
      'tcp 10.244.1.1:1 <-> 10.244.1.2:2 vni 42',
    ]);
    const v6 = t.snapshot().flows.find((x) => x.family === 'ipv6')!;
    expect([v6.packetsAB, v6.packetsBA]).toEqual([1, 1]);
    const inner = t.snapshot().flows.find((x) => x.vni === 42)!;
    expect(inner.bytes).toBe(50);
    expect(t.counters().innerPackets).toBe(1);
  });

  it('records the interfaces a flow was seen on', () => {
    const t = new FlowTable();
    const f = new Feeder(t);
    f.send({ src: A, dst: B, sport: 1, dport: 2, t: T0, iface: 'nsA/eth0' });
    f.send({ src: B, dst: A, sport: 2, dport: 1, t: T0, iface: 'node/br0' });
    expect(t.snapshot().flows[0].ifaces).toEqual(['nsA/eth0', 'node/br0']);
  });

  it('sorts by packets, bytes, rate and start and cuts to top N', () => {
    const t = new FlowTable();
    const f = new Feeder(t);
    f.send({ src: A, dst: B, sport: 1, dport: 1, t: T0, len: 1000 }); // flow 1: 1 pkt, 1000 B
    for (let i = 0; i < 3; i++) f.send({ src: A, dst: B, sport: 2, dport: 2, t: T0 + 1 + i * 10, len: 100 }); // flow 2: 3 pkts, 300 B over 20 s
    f.send({ src: A, dst: B, sport: 3, dport: 3, t: T0 + 2, len: 500 }); // flow 3
    f.send({ src: A, dst: B, sport: 3, dport: 3, t: T0 + 2.1, len: 600 }); // flow 3: 1100 B in 0.1 s (rated over 1 s)
    for (let i = 0; i < 5; i++) f.send({ src: A, dst: B, sport: 4, dport: 4, t: T0 + 3 + i * 25, len: 1000 }); // flow 4: 5000 B over 100 s
    const order = (sort: 'packets' | 'bytes' | 'rate' | 'start'): number[] => t.snapshot({ sort, rateBy: 'average' }).flows.map((x) => x.aPort!);
    expect(order('packets')).toEqual([4, 2, 3, 1]);
    expect(order('bytes')).toEqual([4, 3, 1, 2]);
    expect(order('rate')).toEqual([3, 1, 4, 2]);
    expect(order('start')).toEqual([1, 2, 3, 4]);
    expect(t.snapshot().flows.find((x) => x.aPort === 4)!.avgBytesPerSec).toBe(50);
    expect(t.snapshot({ sort: 'bytes', top: 2 }).flows.map((x) => x.aPort)).toEqual([4, 3]);
  });

  it('picks the top N of many flows exactly like a full sort', () => {
    const t = new FlowTable();
    const f = new Feeder(t);
    let seed = 7;
    for (let i = 0; i < 3000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      // Many ties (bytes in 0..49 hundreds) exercise the first-seen tie break.
      f.send({ src: A, dst: B, proto: 'udp', sport: 1 + (seed % 1000), dport: 53, t: T0 + i / 1000, len: 100 * ((seed >>> 16) % 50) + 60 });
    }
    for (const sort of ['packets', 'bytes', 'rate', 'start'] as const) {
      const full = t.snapshot({ sort }).flows.map((x) => x.key);
      expect(t.snapshot({ sort, top: 25 }).flows.map((x) => x.key)).toEqual(full.slice(0, 25));
    }
  });

  it('sorts the same whether flows were created in time order (packed native sort) or not (comparator)', () => {
    const inOrder = new FlowTable();
    const shuffled = new FlowTable();
    const send = (t: FlowTable, port: number, at: number, len: number): void => new Feeder(t).send({ src: A, dst: B, proto: 'udp', sport: port, dport: 53, t: at, len });
    let seed = 11;
    const n = 400;
    const firstAt = Array.from({ length: n }, (_, i) => T0 + i / 100);
    for (const t of [inOrder, shuffled]) {
      // Flow i: 1..4 packets (many ties), first packet at firstAt[i]; the shuffled table sees them in another order.
      const order = Array.from({ length: n }, (_, i) => i);
      if (t === shuffled) order.reverse();
      for (const i of order) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        const k = 1 + ((i * 7) % 4);
        for (let j = 0; j < k; j++) send(t, 1000 + i, firstAt[i] + j / 1e4, 60 + ((i * 13) % 5) * 100);
      }
    }
    for (const sort of ['packets', 'bytes', 'start'] as const) {
      const recs = inOrder.snapshot().flows;
      const key = (r: (typeof recs)[number]): number => (sort === 'packets' ? -r.packets : sort === 'bytes' ? -r.bytes : 0);
      const expected = [...recs].sort((x, y) => key(x) - key(y) || Number(x.first) - Number(y.first)).map((r) => r.key);
      expect(inOrder.snapshot({ sort }).flows.map((r) => r.key)).toEqual(expected);
      expect(shuffled.snapshot({ sort }).flows.map((r) => r.key)).toEqual(expected);
    }
  });

  it('gives renderers the same facts through readFlow as through FlowRecord', () => {
    const t = new FlowTable();
    const f = new Feeder(t);
    f.send({ src: A, dst: B, sport: 40000, dport: 80, flags: TCP.SYN, t: T0, iface: 'veth1' });
    f.send({ src: B, dst: A, sport: 80, dport: 40000, flags: TCP.RST | TCP.ACK, t: T0 + 0.5, iface: 'veth2' });
    f.send({ src: A, dst: B, proto: 'icmp', icmpType: 8, id: 7, seq: 1, t: T0 + 1 });
    f.send({ src: B, dst: A, proto: 'icmp', icmpType: 0, id: 7, seq: 1, t: T0 + 1.002 });
    f.send({ src: A, dst: B, proto: 'arp', arpOp: 1, t: T0 + 2 });
    f.send({ src: '1', dst: '2', proto: 'ip6tcp', sport: 5, dport: 6, t: T0 + 3 });
    f.send({ src: A, dst: B, proto: 'udp', sport: 1, dport: 2, t: T0 + 4, inner: { src: '10.244.9.1', dst: '10.244.9.2', sport: 3, dport: 4, vni: 42 } });
    const facts = new FlowFacts();
    const handles = t.selectFlows({ sort: 'start' });
    const recs = t.snapshot({ sort: 'start' }).flows;
    expect(handles.length).toBe(recs.length);
    handles.forEach((h, i) => {
      const r = recs[i];
      t.readFlow(h, facts);
      expect(t.flowRecord(h)).toEqual(r);
      expect([t.flowAddress(h, 'a'), t.flowAddress(h, 'b')]).toEqual([r.a, r.b]);
      expect({
        family: facts.family,
        proto: facts.proto,
        aPort: facts.aPort < 0 ? null : facts.aPort,
        bPort: facts.bPort < 0 ? null : facts.bPort,
        echoId: facts.echoId < 0 ? null : facts.echoId,
        vni: facts.vni < 0 ? null : facts.vni,
        packets: facts.packetsAB + facts.packetsBA,
        bytes: facts.bytesAB + facts.bytesBA,
        durationSec: facts.durationSec,
        avgBytesPerSec: facts.avgBytesPerSec,
        rateBytesPerSec: facts.rateBytesPerSec,
        tcp: facts.tcpState === null ? null : { state: facts.tcpState, syns: facts.syns, rstBy: facts.rstBy },
        echo: facts.isEcho ? { requests: facts.requests, replies: facts.replies, rttSamples: facts.rttSamples, rttMinMs: facts.rttMinMs } : null,
        arp: facts.isArp ? { requests: facts.requests, replies: facts.replies } : null,
      }).toEqual({
        family: r.family,
        proto: r.proto,
        aPort: r.aPort,
        bPort: r.bPort,
        echoId: r.echoId,
        vni: r.vni,
        packets: r.packets,
        bytes: r.bytes,
        durationSec: r.durationSec,
        avgBytesPerSec: r.avgBytesPerSec,
        rateBytesPerSec: r.rateBytesPerSec,
        tcp: r.tcp && { state: r.tcp.state, syns: r.tcp.syns, rstBy: r.tcp.rstBy },
        echo: r.echo && { requests: r.echo.requests, replies: r.echo.replies, rttSamples: r.echo.rttSamples, rttMinMs: r.echo.rttMinMs },
        arp: r.arp,
      });
      if (r.family === 'ipv4' || r.family === 'arp') expect([ip4(facts.a4), ip4(facts.b4)]).toEqual([r.a, r.b]);
      const names = Array.from({ length: 31 }, (_, b) => b).filter((b) => (facts.ifaceMask & (1 << b)) !== 0).map((b) => t.ifaceName(b));
      expect(names).toEqual(r.ifaces);
    });
  });

  it('sorts by the live rate by default (last complete interval)', () => {
    const t = new FlowTable({ rateIntervalSec: 1 });
    const f = new Feeder(t);
    f.send({ src: A, dst: B, sport: 1, dport: 1, t: T0, len: 9000 }); // big, but in an old interval
    f.send({ src: A, dst: B, sport: 2, dport: 2, t: T0 + 5.5, len: 100 });
    f.send({ src: A, dst: B, sport: 3, dport: 3, t: T0 + 5.6, len: 300 });
    t.expire(T0 + 6.2);
    expect(t.snapshot({ sort: 'rate' }).flows.map((x) => [x.aPort, x.rateBytesPerSec])).toEqual([
      [3, 300],
      [2, 100],
      [1, 0],
    ]);
  });

  it('computes the rate over the last complete interval', () => {
    const t = new FlowTable({ rateIntervalSec: 1 });
    const f = new Feeder(t);
    f.send({ src: A, dst: B, sport: 1, dport: 1, t: T0 + 0.1, len: 1000 });
    f.send({ src: A, dst: B, sport: 1, dport: 1, t: T0 + 0.9, len: 1000 });
    f.send({ src: A, dst: B, sport: 1, dport: 1, t: T0 + 1.2, len: 500 });
    expect(t.snapshot().flows[0].rateBytesPerSec).toBe(2000); // interval [T0, T0+1)
    t.expire(T0 + 2.5);
    expect(t.snapshot().flows[0].rateBytesPerSec).toBe(500); // interval [T0+1, T0+2)
    t.expire(T0 + 3.5);
    expect(t.snapshot().flows[0].rateBytesPerSec).toBe(0);
  });

  it('never throws on views without keyable layers and counts them', () => {
    const t = new FlowTable();
    const v = new PacketView();
    const rec: PacketRecord = { buf: Buffer.alloc(0), offset: 0, caplen: 0, len: 0, tsSec: T0, tsNsec: 0, linktype: 1, ifIndex: 0, iface: undefined };
    t.add(v, rec);
    v.layers = L.ETH; // Ethernet with offsets past the captured bytes
    v.ethSrcOff = 6;
    v.ethDstOff = 0;
    t.add(v, rec);
    v.layers = L.IPV6;
    t.add(v, rec);
    expect(t.counters()).toMatchObject({ packets: 3, unkeyed: 3, flows: 0 });
  });
});

describe('FlowTable: TCP state', () => {
  const S = TCP.SYN;
  const SA = TCP.SYN | TCP.ACK;
  const AK = TCP.ACK;
  const FA = TCP.FIN | TCP.ACK;
  const R = TCP.RST;
  const RA = TCP.RST | TCP.ACK;

  function run(seq: Array<[0 | 1, number]>): FlowTable {
    const t = new FlowTable();
    const f = new Feeder(t);
    seq.forEach(([d, flags], i) =>
      f.send(d === 0 ? { src: A, dst: B, sport: 5000, dport: 80, flags, t: T0 + i } : { src: B, dst: A, sport: 80, dport: 5000, flags, t: T0 + i }),
    );
    return t;
  }

  it('follows a full connection to closed', () => {
    const t = run([[0, S], [1, SA], [0, AK], [0, FA], [1, FA], [0, AK]]);
    expect(t.snapshot().flows[0].tcp).toEqual({ state: 'closed', syns: 1, synRetransmits: 0, synAck: true, finA: true, finB: true, rstBy: null });
    expect(t.problems()).toEqual([]);
  });

  it('reports SYNs without answer as a failed connect with retransmissions', () => {
    const t = run([[0, S], [0, S], [0, S]]);
    const fl = t.snapshot().flows[0];
    expect(fl.tcp).toMatchObject({ state: 'syn-sent', syns: 3, synRetransmits: 2, synAck: false });
    const p = t.problems();
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ kind: 'tcp-failed-connect', flow: fl.key, details: { syns: 3, synRetransmits: 2, refused: false } });
    expect(p[0].text).toBe('TCP connect 10.244.1.1 → 10.244.1.2:80 failed: 3 SYN(s) (2 retransmitted), no answer');
  });

  it('reports a RST answering a SYN as refused', () => {
    const t = run([[0, S], [1, RA]]);
    expect(t.snapshot().flows[0].tcp).toMatchObject({ state: 'refused', rstBy: 'b' });
    expect(t.problems()[0]).toMatchObject({ kind: 'tcp-failed-connect', details: { refused: true } });
    expect(t.problems()[0].text).toContain('refused');
  });

  it('reports resets of established connections with the side that reset', () => {
    const t = run([[0, S], [1, SA], [0, AK], [0, AK], [0, R]]);
    expect(t.snapshot().flows[0].tcp).toMatchObject({ state: 'reset', rstBy: 'a' });
    expect(t.problems()[0]).toMatchObject({ kind: 'tcp-reset', details: { by: 'a', address: A, established: true } });
  });

  it('marks connections seen mid-stream and starts over on port reuse', () => {
    expect(run([[1, AK], [0, AK]]).snapshot().flows[0].tcp!.state).toBe('midstream');
    const t = run([[0, S], [1, SA], [0, AK], [0, FA], [1, FA], [0, S]]);
    expect(t.snapshot().flows[0].tcp).toMatchObject({ state: 'syn-sent', syns: 1, synAck: false });
  });
});

describe('FlowTable: ICMP', () => {
  it('matches echo replies to requests by id+seq for RTT and counts unanswered requests', () => {
    const t = new FlowTable();
    const f = new Feeder(t);
    f.send({ src: A, dst: B, proto: 'icmp', icmpType: 8, id: 7, seq: 1, t: T0 });
    f.send({ src: B, dst: A, proto: 'icmp', icmpType: 0, id: 7, seq: 1, t: T0 + 0.002 });
    f.send({ src: A, dst: B, proto: 'icmp', icmpType: 8, id: 7, seq: 2, t: T0 + 1 });
    f.send({ src: B, dst: A, proto: 'icmp', icmpType: 0, id: 7, seq: 2, t: T0 + 1.004 });
    f.send({ src: A, dst: B, proto: 'icmp', icmpType: 8, id: 7, seq: 3, t: T0 + 2 });
    // A second ping process (other id) is its own flow, never answered.
    f.send({ src: A, dst: B, proto: 'icmp', icmpType: 8, id: 9, seq: 1, t: T0 + 2 });
    const flows = t.snapshot({ sort: 'start' }).flows;
    expect(flows).toHaveLength(2);
    expect(flows[0]).toMatchObject({ proto: 'icmp', a: A, b: B, echoId: 7, packetsAB: 3, packetsBA: 2 });
    expect(flows[0].echo).toEqual({ requests: 3, replies: 2, unanswered: 1, rttMinMs: 2, rttAvgMs: 3, rttMaxMs: 4, rttSamples: 2 });
    expect(flows[0].key).toBe('icmp 10.244.1.1 <-> 10.244.1.2 id 7');
    const p = t.problems().filter((x) => x.kind === 'icmp-unanswered');
    expect(p.map((x) => x.details.unanswered)).toEqual([1, 1]);
  });

  it('matches ICMPv6 echo with the id and sequence read from the header', () => {
    const t = new FlowTable();
    const f = new Feeder(t);
    f.send({ src: '1', dst: '2', proto: 'icmp6', icmpType: 128, id: 3, seq: 1, t: T0 });
    f.send({ src: '2', dst: '1', proto: 'icmp6', icmpType: 129, id: 3, seq: 1, t: T0 + 0.0005 });
    const fl = t.snapshot().flows[0];
    expect(fl).toMatchObject({ proto: 'icmpv6', a: 'fd00::1', echoId: 3 });
    expect(fl.echo).toMatchObject({ requests: 1, replies: 1, rttSamples: 1 });
    expect(fl.echo!.rttAvgMs).toBeCloseTo(0.5, 3);
  });

  it('reports the MTU of "fragmentation needed" (decoded bytes: IPv4 UDP, then the router\'s error)', () => {
    const t = new FlowTable();
    const v = new PacketView();
    const add = (frame: Buffer, sec: number): void => {
      const r: PacketRecord = { buf: frame, offset: 0, caplen: frame.length, len: frame.length, tsSec: sec, tsNsec: 0, linktype: 1, ifIndex: 0, iface: undefined };
      decodeRecord(v, r);
      t.add(v, r);
    };
    const dgram = c.ipv4({ src: A, dst: B, proto: 17 }, c.udp(4789, 4789, Buffer.alloc(1472)));
    add(c.ether('02:00:00:00:00:02', '02:00:00:00:00:01', 0x0800, dgram), T0);
    // Next-hop MTU in the low 16 bits of the header's second word.
    const err = c.ipv4({ src: '10.244.0.1', dst: A, proto: 1 }, c.icmpError(3, 4, dgram.subarray(0, 28), 1450));
    add(c.ether('02:00:00:00:00:01', '02:00:00:00:00:fe', 0x0800, err), T0 + 1);
    const udp = t.snapshot().flows.find((x) => x.proto === 'udp')!;
    expect(udp.icmpErrors).toEqual({ count: 1, type: 3, code: 4, from: '10.244.0.1', text: 'destination unreachable (fragmentation needed), MTU 1450' });
    expect(t.problems().find((p) => p.kind === 'icmp-error')!.details).toMatchObject({ mtu: 1450, icmpv6: false });
  });

  it('counts later fragments (no ports) on the flow of their datagram\'s first fragment, IPv4 and IPv6', () => {
    const t = new FlowTable();
    const v = new PacketView();
    let sec = T0;
    const add = (l3: Buffer, type = 0x0800): void => {
      const frame = c.ether('02:00:00:00:00:02', '02:00:00:00:00:01', type, l3);
      const r: PacketRecord = { buf: frame, offset: 0, caplen: frame.length, len: frame.length, tsSec: sec++, tsNsec: 0, linktype: 1, ifIndex: 0, iface: undefined };
      decodeRecord(v, r);
      t.add(v, r);
    };
    // A 3000-byte UDP datagram A→B in three fragments, the answer B→A in two, another flow's packet in between.
    const udp = c.udp(4789, 4789, Buffer.alloc(2992));
    add(c.ipv4({ src: A, dst: B, proto: 17, id: 77, mf: true }, udp.subarray(0, 1480)));
    add(c.ipv4({ src: A, dst: '10.244.1.9', proto: 17, id: 78 }, c.udp(1, 2, Buffer.alloc(10))));
    add(c.ipv4({ src: A, dst: B, proto: 17, id: 77, mf: true, fragOff: 1480 }, udp.subarray(1480, 2960)));
    add(c.ipv4({ src: A, dst: B, proto: 17, id: 77, fragOff: 2960 }, udp.subarray(2960)));
    const back = c.udp(4789, 4789, Buffer.alloc(1600));
    add(c.ipv4({ src: B, dst: A, proto: 17, id: 5, mf: true }, back.subarray(0, 1480)));
    add(c.ipv4({ src: B, dst: A, proto: 17, id: 5, fragOff: 1480 }, back.subarray(1480)));
    // A later fragment whose first fragment was never seen stays a flow without ports.
    add(c.ipv4({ src: A, dst: B, proto: 17, id: 999, fragOff: 1480 }, Buffer.alloc(100)));
    const flows = t.snapshot().flows;
    const tunnel = flows.find((f) => f.proto === 'udp' && f.aPort === 4789)!;
    expect([tunnel.packetsAB, tunnel.packetsBA]).toEqual([3, 2]);
    expect(tunnel.bytesAB).toBe(3 * 14 + 3 * 20 + 3000);
    expect(flows.filter((f) => f.proto === 'udp' && f.aPort === 0)).toHaveLength(1);
    expect(flows.find((f) => f.proto === 'udp' && f.aPort === 0)!.packets).toBe(1);
    // IPv6: fragment header, first fragment with the UDP header, then the rest.
    const X = 'fdaa:244:1::1';
    const Y = 'fdaa:244:2::2';
    const u6 = c.udp(5000, 6000, Buffer.alloc(1500));
    add(c.ipv6({ src: X, dst: Y, next: 44 }, Buffer.concat([c.ip6Frag(17, 0, true, 0xabcdef01), u6.subarray(0, 1232)])), 0x86dd);
    add(c.ipv6({ src: X, dst: Y, next: 44 }, Buffer.concat([c.ip6Frag(17, 1232, false, 0xabcdef01), u6.subarray(1232)])), 0x86dd);
    const f6 = t.snapshot().flows.find((f) => f.family === 'ipv6')!;
    expect([f6.proto, f6.aPort, f6.bPort, f6.packets]).toEqual(['udp', 5000, 6000, 2]);
    expect(t.snapshot().flows.filter((f) => f.family === 'ipv6')).toHaveLength(1);
  });

  it('attributes ICMP errors to the flow of the quoted packet', () => {
    const t = new FlowTable();
    const f = new Feeder(t);
    f.send({ src: A, dst: B, proto: 'udp', sport: 3333, dport: 53, t: T0 });
    f.send({ src: B, dst: A, proto: 'icmp', icmpType: 3, icmpCode: 3, t: T0 + 0.001, quote: { src: A, dst: B, proto: 17, sport: 3333, dport: 53 } });
    f.send({ src: '10.244.0.1', dst: A, proto: 'icmp', icmpType: 3, icmpCode: 1, t: T0 + 0.002, quote: { src: A, dst: '10.244.9.9', proto: 6, sport: 1, dport: 2 } });
    const udp = t.snapshot().flows.find((x) => x.proto === 'udp')!;
    expect(udp.icmpErrors).toEqual({ count: 1, type: 3, code: 3, from: B, text: 'destination unreachable (port unreachable)' });
    expect(t.counters().icmpErrorsUnmatched).toBe(1);
    // The error packets themselves are ICMP traffic between the reporter and the original sender.
    expect(t.snapshot().flows.filter((x) => x.proto === 'icmp').map((x) => x.packets)).toEqual([1, 1]);
    expect(t.problems().filter((x) => x.kind === 'icmp-error')[0].text).toBe(
      '10.244.1.2: destination unreachable (port unreachable) for udp 10.244.1.1:3333 <-> 10.244.1.2:53 (1×)',
    );
  });
});

describe('FlowTable: ARP and MAC learning', () => {
  const M1 = '02:00:00:00:00:01';
  const M2 = '02:00:00:00:00:02';
  const M3 = '02:00:00:00:00:03';

  it('counts requests per target, replies, unanswered targets, probes and gratuitous ARP', () => {
    const t = new FlowTable();
    const f = new Feeder(t);
    f.send({ proto: 'arp', arpOp: 1, src: A, dst: B, t: T0, smac: M1 });
    f.send({ proto: 'arp', arpOp: 2, src: B, dst: A, t: T0 + 0.001, smac: M2 });
    for (let i = 0; i < 3; i++) f.send({ proto: 'arp', arpOp: 1, src: A, dst: '10.244.1.50', t: T0 + 1 + i, smac: M1 });
    f.send({ proto: 'arp', arpOp: 1, src: '0.0.0.0', dst: '10.244.1.60', t: T0 + 5, smac: M3 }); // probe
    f.send({ proto: 'arp', arpOp: 1, src: '10.244.1.70', dst: '10.244.1.70', t: T0 + 6, smac: M3 }); // gratuitous
    const s = t.snapshot({ sort: 'start' });
    expect(s.flows[0]).toMatchObject({ proto: 'arp', family: 'arp', a: A, b: B, arp: { requests: 1, replies: 1 } });
    expect(s.flows[1]).toMatchObject({ a: A, b: '10.244.1.50', packets: 3, arp: { requests: 3, replies: 0 } });
    expect(s.counters.arp).toMatchObject({ requests: 4, replies: 1, probes: 1, gratuitous: 1, conflicts: 0 });
    const un = s.problems.filter((p) => p.kind === 'arp-unanswered');
    expect(un).toHaveLength(1);
    expect(un[0].details).toEqual({ target: '10.244.1.50', requests: 3, requester: A });
    const tgt = s.arpTargets.find((x) => x.ip === '10.244.1.70')!;
    expect(tgt).toMatchObject({ gratuitous: 1, requests: 0, macs: [M3] });
  });

  it('flags an IP claimed by two MACs', () => {
    const t = new FlowTable();
    const f = new Feeder(t);
    f.send({ proto: 'arp', arpOp: 1, src: A, dst: B, t: T0, smac: M1 });
    f.send({ proto: 'arp', arpOp: 2, src: B, dst: A, t: T0 + 0.001, smac: M2 });
    f.send({ proto: 'arp', arpOp: 2, src: B, dst: A, t: T0 + 0.002, smac: M3 });
    f.send({ proto: 'arp', arpOp: 2, src: B, dst: A, t: T0 + 0.003, smac: M2 });
    const c = t.problems().filter((p) => p.kind === 'arp-conflict');
    expect(c).toHaveLength(1);
    expect(c[0].details).toEqual({ ip: B, macs: [M2, M3] });
    expect(t.counters().arp.conflicts).toBe(1);
  });

  it('learns source MACs per interface/VLAN and reports moves', () => {
    const t = new FlowTable();
    const f = new Feeder(t);
    f.send({ src: A, dst: B, t: T0, smac: M1, iface: 'p1' });
    f.send({ src: B, dst: A, t: T0, smac: M2, iface: 'p2' });
    f.send({ src: A, dst: B, t: T0 + 1, smac: M1, iface: 'p1' });
    f.send({ src: A, dst: B, t: T0 + 2, smac: M1, iface: 'p3' });
    f.send({ src: A, dst: B, t: T0 + 3, smac: M1, iface: 'p3', vlan: 10 });
    f.send({ src: A, dst: B, t: T0 + 3, smac: '01:00:5e:00:00:01', iface: 'p3' }); // multicast source: ignored
    const s = t.snapshot();
    expect(s.macs.map((m) => [m.mac, m.iface, m.vlan, m.moves])).toEqual([
      [M1, 'p3', 10, 2],
      [M2, 'p2', null, 0],
    ]);
    const moves = s.problems.filter((p) => p.kind === 'mac-move');
    expect(moves).toHaveLength(1);
    expect(moves[0].details.path).toEqual(['p1', 'p3', 'p3 vlan 10']);
  });

  it('counts every packet of cached MACs and sees a move back to where a MAC was cached', () => {
    const t = new FlowTable();
    const f = new Feeder(t);
    const M3 = '02:00:00:00:00:33';
    // M1 and M2 alternate (both cached), then M1 moves to p2 and back to p1 while M2 keeps talking.
    for (let i = 0; i < 10; i++) f.send({ src: i % 2 ? B : A, dst: i % 2 ? A : B, t: T0 + i / 10, smac: i % 2 ? M2 : M1, iface: 'p1' });
    f.send({ src: A, dst: B, t: T0 + 2, smac: M1, iface: 'p2' });
    f.send({ src: B, dst: A, t: T0 + 2.125, smac: M2, iface: 'p1' });
    f.send({ src: A, dst: B, t: T0 + 2.25, smac: M1, iface: 'p1' });
    f.send({ src: A, dst: B, t: T0 + 2.375, smac: M3, iface: 'p1' }); // a third MAC pushes one out of the cache
    f.send({ src: A, dst: B, t: T0 + 2.5, smac: M1, iface: 'p1' });
    f.send({ src: B, dst: A, t: T0 + 2.625, smac: M2, iface: 'p1' });
    const macs = t.snapshot().macs;
    expect(macs.map((m) => [m.mac, m.iface, m.packets, m.moves, m.lastSeen])).toEqual([
      [M2, 'p1', 7, 0, `${T0 + 2}.625000000`],
      [M1, 'p1', 8, 2, `${T0 + 2}.500000000`],
      [M3, 'p1', 1, 0, `${T0 + 2}.375000000`],
    ]);
    const move = t.problems().find((p) => p.kind === 'mac-move')!;
    expect(move.details.path).toEqual(['p1', 'p2', 'p1']);
    // Reading does not lose what is still cached.
    f.send({ src: A, dst: B, t: T0 + 3, smac: M1, iface: 'p1' });
    expect(t.snapshot().macs.find((m) => m.mac === M1)!.packets).toBe(9);
  });

  it('learns inner MACs of VXLAN frames under their VNI', () => {
    const t = new FlowTable();
    const f = new Feeder(t);
    f.send({ src: '10.42.0.1', dst: '10.42.0.2', proto: 'udp', sport: 1, dport: 4789, t: T0, smac: M1, inner: { src: A, dst: B, sport: 1, dport: 2, vni: 7, smac: M3 } });
    expect(t.snapshot().macs.find((m) => m.mac === M3)).toMatchObject({ vni: 7 });
  });
});

describe('FlowTable: bounded memory', () => {
  it('evicts the least recently seen flow at the cap and counts every eviction', () => {
    const t = new FlowTable({ maxFlows: 100 });
    const f = new Feeder(t);
    // 250 flows; flow 0 stays busy so it is never the least recently seen.
    for (let i = 0; i < 250; i++) {
      f.send({ src: A, dst: B, sport: 1000 + i, dport: 80, t: T0 + i });
      f.send({ src: A, dst: B, sport: 1000, dport: 80, t: T0 + i + 0.5 });
    }
    const c = t.counters();
    expect(c.flows).toBe(100);
    expect(c.created).toBe(250);
    expect(c.evicted).toBe(150);
    // Kept: the busy flow and the 99 most recent ones (1151..1249).
    const ports = t.snapshot().flows.map((x) => x.aPort!).sort((x, y) => x - y);
    expect(ports).toEqual([1000, ...Array.from({ length: 99 }, (_, i) => 1151 + i)]);
    // The busy flow kept all its packets across the evictions around it.
    expect(t.snapshot().flows.find((x) => x.aPort === 1000)!.packets).toBe(251);
    const ev = t.problems().find((p) => p.kind === 'flows-evicted')!;
    expect(ev.details).toEqual({ evicted: 150, maxFlows: 100 });
  });

  it('keeps problems of evicted and expired flows', () => {
    const t = new FlowTable({ maxFlows: 10, idleTimeoutSec: 30 });
    const f = new Feeder(t);
    f.send({ src: A, dst: '10.244.9.9', sport: 1, dport: 443, flags: TCP.SYN, t: T0 });
    for (let i = 0; i < 20; i++) f.send({ src: A, dst: B, proto: 'udp', sport: 2000 + i, dport: 53, t: T0 + 1 + i });
    expect(t.counters().evicted).toBe(11);
    expect(t.problems().filter((p) => p.kind === 'tcp-failed-connect')).toHaveLength(1);
    t.expire(T0 + 100);
    expect(t.counters()).toMatchObject({ flows: 0, expired: 10 });
    expect(t.problems().filter((p) => p.kind === 'tcp-failed-connect')).toHaveLength(1);
  });

  it('expires idle flows in last-seen order and keeps active ones', () => {
    const t = new FlowTable({ idleTimeoutSec: 10 });
    const f = new Feeder(t);
    for (let i = 0; i < 5; i++) f.send({ src: A, dst: B, proto: 'udp', sport: i + 1, dport: 9, t: T0 + i });
    f.send({ src: A, dst: B, proto: 'udp', sport: 1, dport: 9, t: T0 + 20 });
    t.expire(T0 + 13.5); // cutoff T0+3.5: flows 2,3,4 (last seen T0+1..3) go; 1 (T0+20) and 5 (T0+4) stay
    expect(t.snapshot({ sort: 'start' }).flows.map((x) => x.aPort)).toEqual([1, 5]);
    expect(t.counters().expired).toBe(3);
  });

  it('stays consistent through growth, removals and slot reuse (checked against a Map model)', () => {
    const t = new FlowTable({ maxFlows: 5000, idleTimeoutSec: 50 });
    const f = new Feeder(t);
    const model = new Map<string, { n: number; last: number }>();
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 40000; i++) {
      const now = T0 + i / 100;
      const port = rnd(8000) + 1;
      const rev = rnd(2) === 1;
      f.send(rev ? { src: B, dst: A, proto: 'udp', sport: 53, dport: port, t: now } : { src: A, dst: B, proto: 'udp', sport: port, dport: 53, t: now });
      const m = model.get(String(port)) ?? { n: 0, last: 0 };
      m.n++;
      m.last = now;
      model.set(String(port), m);
      if (i % 1000 === 999) {
        t.expire(now);
        for (const [k, v] of model) if (v.last < now - 50) model.delete(k);
      }
    }
    // The cap is never hit (8000 ports over 400 s with a 50 s timeout ≈ 3900 live): the model is exact.
    expect(t.counters().evicted).toBe(0);
    const got = new Map(t.snapshot().flows.map((x) => [String(x.aPort === 53 ? x.bPort : x.aPort), x.packets]));
    expect(got.size).toBe(model.size);
    for (const [k, v] of model) expect(got.get(k)).toBe(v.n);
  });
});

describe('FlowReport', () => {
  function feed(r: FlowReport): void {
    const f = new Feeder(r);
    f.send({ src: A, dst: B, sport: 40000, dport: 80, flags: TCP.SYN, t: T0, len: 74 });
    f.send({ src: B, dst: A, sport: 80, dport: 40000, flags: TCP.SYN | TCP.ACK, t: T0 + 0.001, len: 74 });
    f.send({ src: A, dst: B, sport: 40000, dport: 80, flags: TCP.ACK, t: T0 + 0.002, len: 2000 });
    f.send({ src: A, dst: '10.244.1.51', sport: 40001, dport: 80, flags: TCP.SYN, t: T0 + 1, len: 74 });
    f.send({ src: A, dst: '10.244.1.51', sport: 40001, dport: 80, flags: TCP.SYN, t: T0 + 2, len: 74 });
  }

  it('renders a table sorted by bytes with a problems section', () => {
    const r = new FlowReport({ sort: 'bytes', top: 0, json: false });
    feed(r);
    const text = r.render();
    const lines = text.split('\n');
    expect(lines[0]).toBe('Flows: 2 (sorted by bytes), 5 packets, 2296 bytes');
    expect(lines[1]).toMatch(/^PROTO\s+A\s+B\s+PACKETS\s+A→B\s+B→A\s+BYTES/);
    expect(lines[2]).toMatch(/^tcp\s+10\.244\.1\.1:40000\s+10\.244\.1\.2:80\s+3\s+2\s+1\s+2148\s+2074\s+74\s+\+0\.000s\s+0\.002s\s+.*established$/);
    expect(lines[3]).toMatch(/^tcp\s+10\.244\.1\.1:40001\s+10\.244\.1\.51:80\s+2\s+2\s+0\s+148 .*\+1\.000s.*syn-sent \(2 SYNs\)$/);
    expect(text).toContain('Problems: 1 (tcp-failed-connect 1)\n  tcp-failed-connect  +2.000s  TCP connect 10.244.1.1 → 10.244.1.51:80 failed: 2 SYN(s) (1 retransmitted), no answer\n');
  });

  it('digests many problems: per kind the count, the most packets affected first, the rest counted, in at most 40 lines', () => {
    const r = new FlowReport({ sort: 'bytes', top: 1, json: false });
    const f = new Feeder(r);
    // 30 failed connects (connect i sends 1 + i % 4 SYNs), 12 unanswered pings (ping i sends 1 + i % 3 requests).
    for (let i = 0; i < 30; i++) for (let k = 0; k <= i % 4; k++) f.send({ src: A, dst: '10.244.1.51', sport: 41000 + i, dport: 80, flags: TCP.SYN, t: T0 + i + k / 10, len: 74 });
    for (let i = 0; i < 12; i++) for (let k = 0; k <= i % 3; k++) f.send({ src: A, dst: B, proto: 'icmp', icmpType: 8, id: 100 + i, seq: k, t: T0 + 40 + i + k / 10 });
    const text = r.render();
    const section = text.slice(text.indexOf('\nProblems:') + 1).trimEnd().split('\n');
    expect(section[0]).toBe('Problems: 42 (tcp-failed-connect 30, icmp-unanswered 12); listed per kind: the most packets affected first; --problems all lists all 42');
    const tcp = section.filter((l) => l.startsWith('  tcp-failed-connect'));
    expect(tcp).toHaveLength(6);
    // The 4-SYN connects (i = 3, 7, 11, …) first, earliest first; then "… 25 more".
    expect(tcp[0]).toContain(':80 failed: 4 SYN(s)');
    expect(tcp[0]).toMatch(/\+3\.300s/);
    expect(tcp[1]).toMatch(/\+7\.300s/);
    expect(tcp[5]).toMatch(/… 25 more$/);
    const icmp = section.filter((l) => l.startsWith('  icmp-unanswered'));
    expect(icmp[0]).toContain('3 of 3 echo request(s) unanswered');
    expect(icmp[5]).toMatch(/… 7 more$/);
    expect(section.length).toBeLessThanOrEqual(40);
    // --problems all lists every one; JSON keeps every one.
    const all = new FlowReport({ sort: 'bytes', top: 1, json: false, problems: Infinity });
    const j = new FlowReport({ sort: 'bytes', top: 1, json: true });
    for (const rep of [all, j]) {
      const g = new Feeder(rep);
      for (let i = 0; i < 30; i++) for (let k = 0; k <= i % 4; k++) g.send({ src: A, dst: '10.244.1.51', sport: 41000 + i, dport: 80, flags: TCP.SYN, t: T0 + i + k / 10, len: 74 });
    }
    expect(all.render()).toContain('Problems (30):');
    expect(all.render().split('\n').filter((l) => l.startsWith('  tcp-failed-connect'))).toHaveLength(30);
    const objs = j.render().trim().split('\n').map((l) => JSON.parse(l) as Record<string, { [k: string]: unknown }>);
    expect(objs.filter((o) => o.problem !== undefined)).toHaveLength(30);
    expect(objs[objs.length - 1].summary).toMatchObject({ problems: { total: 30, byKind: { 'tcp-failed-connect': 30 } } });
  });

  it('gives the digest as data: per-kind counts, packets affected and the top few', () => {
    const t = new FlowTable({ idleTimeoutSec: Infinity });
    const f = new Feeder(t);
    for (let i = 0; i < 8; i++) for (let k = 0; k <= i % 2; k++) f.send({ src: A, dst: '10.244.1.51', sport: 42000 + i, dport: 80, flags: TCP.SYN, t: T0 + i + k / 10, len: 74 });
    const d = t.problemDigest(3);
    expect(d.total).toBe(8);
    expect(d.kinds).toHaveLength(1);
    expect(d.kinds[0]).toMatchObject({ kind: 'tcp-failed-connect', count: 8, packets: 12 });
    expect(d.kinds[0].top.map((p) => p.details.port === 80 && p.packets)).toEqual([2, 2, 2]);
    expect(d.kinds[0].top.map((p) => (p.details.syns as number) + '@' + Math.round(Number(p.time) - T0))).toEqual(['2@1', '2@3', '2@5']);
  });

  it('prints JSON lines: one per flow, one per problem, one summary; honours --top', () => {
    const r = new FlowReport({ sort: 'packets', top: 1, json: true });
    feed(r);
    const objs = r.render().trim().split('\n').map((l) => JSON.parse(l) as Record<string, { [k: string]: unknown }>);
    expect(objs).toHaveLength(3);
    expect(objs[0].flow).toMatchObject({ a: A, aPort: 40000, packets: 3, tcp: { state: 'established' } });
    expect(objs[1].problem).toMatchObject({ kind: 'tcp-failed-connect' });
    expect(objs[2].summary).toMatchObject({ flows: 2, shown: 1, packets: 5, evicted: 0 });
  });

  it('gives the same report as UTF-8 bytes (text with non-ASCII rows, empty, JSON)', () => {
    for (const json of [false, true]) {
      const r = new FlowReport({ sort: 'bytes', top: 0, json });
      expect(r.renderBytes().toString('utf8')).toBe(r.render());
      feed(r);
      new Feeder(r).send({ src: A, dst: B, t: T0 + 3, iface: 'vethé→1' }); // a non-ASCII interface name in a row
      expect(r.renderBytes().toString('utf8')).toBe(r.render());
      if (!json) expect(r.render()).toContain('vethé→1');
    }
  });

  it('says so when there is nothing to show', () => {
    const r = new FlowReport({ sort: 'bytes', top: 0, json: false });
    expect(r.render()).toBe('Flows: 0 (sorted by bytes), 0 packets, 0 bytes\nNo flows.\n\nProblems: none\n');
  });
});

describe('FlowTable: hostile input', () => {
  it('never throws on frames of random bytes decoded by the real decoder, and stays consistent', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { decodePacket } = require('../../src/decode/decode') as typeof import('../../src/decode/decode');
    const t = new FlowTable({ maxFlows: 500, idleTimeoutSec: 5 });
    const v = new PacketView();
    const rec: PacketRecord = { buf: Buffer.alloc(0), offset: 0, caplen: 0, len: 0, tsSec: T0, tsNsec: 0, linktype: 1, ifIndex: 0, iface: undefined };
    let seed = 99;
    const rnd = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 8;
    };
    // Plausible prefixes (Ethernet + IPv4/ARP/IPv6/VLAN/VXLAN headers) followed by random bytes.
    const prefixes = [
      '02000000000202000000000108004500',
      '0200000000020200000000010806000108000604',
      '02000000000202000000000186dd6000000000',
      '0200000000020200000000018100000a0800',
      '020000000002020000000001080045000060000040004011000a2a00010a2a0002',
    ].map((h) => Buffer.from(h, 'hex'));
    for (let i = 0; i < 20000; i++) {
      const len = rnd() % 160;
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = rnd() & 255;
      prefixes[i % prefixes.length].copy(b, 0, 0, Math.min(len, prefixes[i % prefixes.length].length));
      rec.buf = b;
      rec.caplen = len;
      rec.len = len + (rnd() % 3 === 0 ? 100 : 0);
      rec.linktype = [1, 1, 1, 101, 113, 276][i % 6];
      rec.tsNsec = (i * 997_000) % 1_000_000_000;
      rec.tsSec = T0 + Math.floor(i / 1000);
      rec.ifIndex = i % 3;
      decodePacket(v, b, 0, len, rec.len, rec.linktype);
      t.add(v, rec); // a throw fails the test
      if (i % 2000 === 1999) t.expire(rec.tsSec);
    }
    const s = t.snapshot({ sort: 'bytes' });
    expect(s.counters.packets).toBe(20000);
    expect(s.flows.length).toBe(s.counters.flows);
    expect(s.counters.flows).toBeLessThanOrEqual(500);
    expect(s.counters.created - s.counters.evicted - s.counters.expired).toBe(s.counters.flows);
    const perFlow = s.flows.reduce((n, f) => n + f.packets, 0);
    expect(perFlow).toBeLessThanOrEqual(20000);
    expect(() => JSON.stringify(s)).not.toThrow();
  });
});
