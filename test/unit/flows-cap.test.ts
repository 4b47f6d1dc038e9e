/**
 * The hard cap through the whole read path: a generated pcap with more flows than the table may hold, read by
 * the real reader and decoder. Every eviction must be counted and reported, and the table never grows past it.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { FlowTable } from '../../src/analysis/flows';
import { FlowReport } from '../../src/views/flows/report';
import { generate } from '../../src/bench/_flowInputs';
import { decodeRecord } from '../../src/decode/decode';
import { PacketView } from '../../src/decode/view';
import { openCaptureInput, readCapture } from '../../src/pcap/reader';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-flows-cap-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function feed(file: string, sink: { add: FlowTable['add'] }): Promise<void> {
  const view = new PacketView();
  const r = await readCapture(openCaptureInput(file), (rec) => {
    decodeRecord(view, rec);
    sink.add(view, rec);
  });
  expect(r.error).toBeNull();
}

it('holds at most maxFlows, evicts the least recently seen and counts every eviction', async () => {
  const file = path.join(dir, 'distinct.pcap');
  generate(file, 5000, 5000, true); // 5000 packets, each a new flow
  const t = new FlowTable({ maxFlows: 1000, idleTimeoutSec: Infinity });
  await feed(file, t);
  const c = t.counters();
  expect(c).toMatchObject({ packets: 5000, created: 5000, flows: 1000, evicted: 4000, unkeyed: 0 });
  // The survivors are the 1000 most recently seen: the last 1000 packets of the file.
  const firsts = t.snapshot({ sort: 'start' }).flows.map((f) => f.first);
  const all: string[] = [];
  const v = new PacketView();
  await readCapture(openCaptureInput(file), (rec) => {
    decodeRecord(v, rec);
    all.push(`${rec.tsSec}.${String(rec.tsNsec).padStart(9, '0')}`);
  });
  expect(firsts).toEqual(all.slice(4000));
  const p = t.problems().filter((x) => x.kind === 'flows-evicted');
  expect(p).toHaveLength(1);
  expect(p[0].details).toEqual({ evicted: 4000, maxFlows: 1000 });
});

it('keeps recurring flows and counts their packets exactly while others are evicted around them', async () => {
  const file = path.join(dir, 'mixed.pcap');
  generate(file, 50_000, 2000, false); // 2000 flows, ~25 packets each, random order
  const exact = new FlowTable({ idleTimeoutSec: Infinity });
  await feed(file, exact);
  expect(exact.counters().evicted).toBe(0);
  const capped = new FlowTable({ maxFlows: 500, idleTimeoutSec: Infinity });
  await feed(file, capped);
  const c = capped.counters();
  expect(c.flows).toBe(500);
  expect(c.created - c.evicted).toBe(500);
  expect(c.evicted).toBeGreaterThan(0);
  // Per-flow packet counts can only be lower than the uncapped truth (a flow evicted and recreated restarts).
  // A recreated flow may start from a reply, so its a/b sides can differ from the uncapped run: compare by pair.
  const pair = (f: { proto: string; a: string; aPort: number | null; b: string; bPort: number | null; echoId: number | null }): string =>
    `${f.proto} ${[`${f.a}:${f.aPort}`, `${f.b}:${f.bPort}`].sort().join(' ')} ${f.echoId}`;
  const truth = new Map(exact.snapshot().flows.map((f) => [pair(f), f.packets]));
  expect(truth.size).toBe(exact.size);
  for (const f of capped.snapshot().flows) {
    expect(truth.has(pair(f))).toBe(true);
    expect(f.packets).toBeLessThanOrEqual(truth.get(pair(f))!);
  }
});

it('says EVICTED in the read --flows header and reports it as a problem', async () => {
  const file = path.join(dir, 'distinct.pcap');
  const r = new FlowReport({ sort: 'bytes', top: 5, json: false, maxFlows: 100 });
  await feed(file, r);
  const text = r.render();
  expect(text.split('\n')[0]).toBe('Flows: 100 (top 5 by bytes; --top 0 shows all), 5000 packets, ' + `${r.table.counters().bytes} bytes, 4900 flows EVICTED (cap 100)`);
  expect(text).toContain('flows-evicted');
  expect(text).toContain('4900 flow(s) evicted: table full at 100 flows');
});
