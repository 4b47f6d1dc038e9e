/**
 * Multi-point analysis on a crafted 4-hop pcapng (pod A eth0, node veth-a, node veth-b, pod B eth0; known
 * timestamps), written by the real pcapng writer and read back by the real reader and decoder: a packet seen
 * on N interfaces counts once in its flow, the flow lists every interface, per-hop delays are measured from
 * the first sighting, echo RTT is paired on one interface, and a MAC seen along the path is no move.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { FlowTable } from '../../src/analysis/flows';
import { decodeRecord } from '../../src/decode/decode';
import { PacketView } from '../../src/decode/view';
import { openCaptureInput, readCapture } from '../../src/pcap/reader';
import type { PacketRecord } from '../../src/pcap/record';
import { PcapngWriter } from '../../src/pcap/writer';
import { FlowReport } from '../../src/views/flows/report';

const A = [10, 244, 1, 2];
const B = [10, 244, 2, 3];
const MAC_A = [2, 0, 0, 0, 1, 2];
const MAC_B = [2, 0, 0, 0, 2, 3];
const T0 = 1_800_000_000;

/** Ethernet + IPv4 + ICMP echo (type 8/0) or TCP (flags). */
function frame(o: { src: number[]; dst: number[]; smac: number[]; dmac: number[]; ipId: number; icmp?: { type: number; id: number; seq: number }; tcp?: { sport: number; dport: number; flags: number; seq: number; ack: number } }): Buffer {
  const l4 = o.icmp ? 8 + 56 : 20;
  const b = Buffer.alloc(14 + 20 + l4);
  b.set(o.dmac, 0);
  b.set(o.smac, 6);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(20 + l4, 16);
  b.writeUInt16BE(o.ipId, 18);
  b[22] = 64;
  b[23] = o.icmp ? 1 : 6;
  b.set(o.src, 26);
  b.set(o.dst, 30);
  if (o.icmp) {
    b[34] = o.icmp.type;
    b.writeUInt16BE(o.icmp.id, 38);
    b.writeUInt16BE(o.icmp.seq, 40);
  } else if (o.tcp) {
    b.writeUInt16BE(o.tcp.sport, 34);
    b.writeUInt16BE(o.tcp.dport, 36);
    b.writeUInt32BE(o.tcp.seq, 38);
    b.writeUInt32BE(o.tcp.ack, 42);
    b[46] = 0x50;
    b[47] = o.tcp.flags;
  }
  return b;
}

const HOPS = ['nsA/eth0', 'node/veth-a', 'node/veth-b', 'nsB/eth0'];

async function writeCapture(file: string): Promise<void> {
  const out = fs.createWriteStream(file);
  const w = new PcapngWriter(out);
  const ids = HOPS.map((h) => w.addInterface(h, 1));
  const events: Array<{ t: number; hop: number; buf: Buffer }> = [];
  const along = (buf: Buffer, t: number, hops: number[], delaysUs: number[]): void => {
    hops.forEach((h, i) => events.push({ t: t + delaysUs[i] / 1e6, hop: h, buf }));
  };
  for (let seq = 0; seq < 10; seq++) {
    const t = 0.1 * seq;
    along(frame({ src: A, dst: B, smac: MAC_A, dmac: MAC_B, ipId: 100 + seq, icmp: { type: 8, id: 77, seq } }), t, [0, 1, 2, 3], [0, 2, 5, 7]);
    along(frame({ src: B, dst: A, smac: MAC_B, dmac: MAC_A, ipId: 200 + seq, icmp: { type: 0, id: 77, seq } }), t + 50e-6, [3, 2, 1, 0], [0, 2, 4, 6]);
  }
  // A TCP handshake along the same path.
  const syn = frame({ src: A, dst: B, smac: MAC_A, dmac: MAC_B, ipId: 1, tcp: { sport: 40000, dport: 80, flags: 0x02, seq: 1000, ack: 0 } });
  const synAck = frame({ src: B, dst: A, smac: MAC_B, dmac: MAC_A, ipId: 2, tcp: { sport: 80, dport: 40000, flags: 0x12, seq: 5000, ack: 1001 } });
  const ack = frame({ src: A, dst: B, smac: MAC_A, dmac: MAC_B, ipId: 3, tcp: { sport: 40000, dport: 80, flags: 0x10, seq: 1001, ack: 5001 } });
  along(syn, 2, [0, 1, 2, 3], [0, 2, 5, 7]);
  along(synAck, 2.001, [3, 2, 1, 0], [0, 2, 4, 6]);
  along(ack, 2.002, [0, 1, 2, 3], [0, 2, 5, 7]);
  events.sort((x, y) => x.t - y.t);
  for (const e of events) {
    const ns = Math.round(e.t * 1e9);
    const rec: PacketRecord = { buf: e.buf, offset: 0, caplen: e.buf.length, len: e.buf.length, tsSec: T0 + Math.floor(ns / 1e9), tsNsec: ns % 1e9, linktype: 1, ifIndex: ids[e.hop], iface: HOPS[e.hop] };
    w.write(ids[e.hop], rec);
  }
  await w.close();
}

describe('multi-point capture (one packet on four interfaces)', () => {
  let dir: string;
  let t: FlowTable;
  let report: FlowReport;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-multipoint-'));
    const file = path.join(dir, 'four-hops.pcapng');
    await writeCapture(file);
    t = new FlowTable({ idleTimeoutSec: Infinity });
    report = new FlowReport({ sort: 'bytes', top: 0, json: false });
    const view = new PacketView();
    const res = await readCapture(openCaptureInput(file), (rec) => {
      decodeRecord(view, rec);
      t.add(view, rec);
      report.add(view, rec);
    });
    expect(res.error).toBeNull();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('counts each packet once in its flow and lists every interface it was seen on', () => {
    const flows = t.snapshot({ sort: 'start' }).flows;
    expect(flows.map((f) => f.proto)).toEqual(['icmp', 'tcp']);
    const [echo, tcp] = flows;
    expect(echo).toMatchObject({ packetsAB: 10, packetsBA: 10, packets: 20, echo: { requests: 10, replies: 10, unanswered: 0 } });
    expect(echo.ifaces).toEqual(HOPS);
    expect(tcp).toMatchObject({ packets: 3, tcp: { state: 'established', syns: 1, synRetransmits: 0 } });
    expect(tcp.ifaces).toEqual(HOPS);
    expect(t.counters().repeats).toBe(60 + 9);
  });

  it('measures echo RTT on one interface (the requester’s), not across hops', () => {
    const echo = t.snapshot({ sort: 'start' }).flows[0].echo!;
    expect(echo.rttSamples).toBe(10);
    // Request leaves A's eth0 at t, its reply reaches A's eth0 at t + 50 µs + 6 µs.
    expect(echo.rttMinMs).toBeCloseTo(0.056, 3);
    expect(echo.rttMaxMs).toBeCloseTo(0.056, 3);
  });

  it('gives the delay from the first sighting to each later one per interface pair', () => {
    const hops = new Map(t.hopLatency().map((h) => [`${h.from} > ${h.to}`, h]));
    const expectHop = (k: string, packets: number, us: number): void => {
      expect(hops.get(k)).toMatchObject({ packets, medianUs: us, maxUs: us });
    };
    // 10 echo requests + SYN + ACK from A's side, 10 replies + SYN-ACK from B's.
    expectHop('nsA/eth0 > node/veth-a', 12, 2);
    expectHop('nsA/eth0 > node/veth-b', 12, 5);
    expectHop('nsA/eth0 > nsB/eth0', 12, 7);
    expectHop('nsB/eth0 > node/veth-b', 11, 2);
    expectHop('nsB/eth0 > node/veth-a', 11, 4);
    expectHop('nsB/eth0 > nsA/eth0', 11, 6);
    expect(hops.size).toBe(6);
  });

  it('learns MACs per capture point: a MAC seen along the path is not a move', () => {
    expect(t.problems().filter((p) => p.kind === 'mac-move')).toEqual([]);
    expect(t.problems()).toEqual([]);
  });

  it('says so in the read --flows report: sightings counted once, a hops table', () => {
    const text = report.render();
    expect(text.split('\n')[0]).toBe('Flows: 2 (sorted by bytes), 92 packets, 8488 bytes, 69 seen again on another interface (counted once)');
    expect(text).toContain('Hops (delay from the first sighting of a packet to a later one):');
    expect(text).toMatch(/^  nsA\/eth0 +node\/veth-b +12 +5µs +5µs$/m);
    expect(text).toContain('Problems: none');
  });
});
