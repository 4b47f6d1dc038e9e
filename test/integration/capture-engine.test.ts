/**
 * The libpcap binding and the capture engine on real kernel objects:
 * - one echo seen on four hops comes out in physical order (kernel timestamps + the agents' in-band promises),
 *   in the pcapng and in the printed text; `read --flows` on it sees one flow with per-hop delays and
 *   tcpdump's RTT;
 * - drop accounting is tcpdump's: with a tiny ring under a flood, captured + dropped by kernel = received by
 *   filter = frames sent;
 * - snapshot length cuts caplen but keeps the original length;
 * - a handle nobody references keeps capturing through garbage collection, and close() inside its own
 *   callback is safe.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { buildHopLab, destroyHopLab, EchoSightings, HopLab, hopOrder, startTcpdump } from '../../src/bench/_hops';
import { ether, ipv4, udp } from '../../src/decode/craft';
import { CaptureParser } from '../../src/pcap/reader';
import { PcapWriter } from '../../src/pcap/writer';
import { cleanupPrefix, isRoot, sh, testPrefix } from '../helpers/netns';

function rxPackets(netns: string, iface: string): number {
  const j = JSON.parse(sh('ip', ['-n', netns, '-j', '-s', 'link', 'show', iface])) as Array<{ stats64: { rx: { packets: number } } }>;
  return j[0].stats64.rx.packets;
}

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'netscope');
const P = testPrefix('ce');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-ce-'));
const d = isRoot ? describe : describe.skip;

/** Starts `netscope capture …` and resolves once it prints "capturing on". */
function startCapture(args: string[]): Promise<{ child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'capture', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.includes('capturing on')) resolve({ child, stdout: () => out, stderr: () => err, exited });
    });
    void exited.then((code) => reject(new Error(`capture exited (${code}) before starting: ${err}`)));
  });
}

function readFile(file: string, onRecord: (r: Parameters<ConstructorParameters<typeof CaptureParser>[0]>[0]) => void): string | null {
  const p = new CaptureParser(onRecord);
  p.push(fs.readFileSync(file));
  const e = p.end();
  return e ? e.message : null;
}

async function writeFrames(file: string, frames: Buffer[]): Promise<void> {
  const w = new PcapWriter(fs.createWriteStream(file), { linktype: 1 });
  frames.forEach((f, i) => w.write({ buf: f, offset: 0, caplen: f.length, len: f.length, tsSec: 1, tsNsec: i, linktype: 1, ifIndex: 0, iface: undefined }));
  await w.close();
}

d('capture engine (libpcap binding) on real namespaces', () => {
  let lab: HopLab;

  beforeAll(async () => {
    cleanupPrefix(P);
    lab = await buildHopLab(P);
  });
  afterAll(async () => {
    if (lab) await destroyHopLab(lab);
    cleanupPrefix(P);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('puts 1000 echoes seen on four hops in physical order, in the pcapng and in the text', async () => {
    const out = path.join(tmp, 'hops.pcapng');
    const args = lab.hops.flatMap((h) => ['-i', h]);
    const cap = await startCapture([...args, '-w', out, '--print', 'icmp']);
    // tcpdump on the source pod's eth0 at the same time: the RTT oracle for the flow report below.
    const tdFile = path.join(tmp, 'hops-tcpdump.pcap');
    const td = await startTcpdump(lab.podA, 'eth0', tdFile, 'icmp', 2000);
    const tdExited = new Promise<void>((r) => (td.exitCode !== null ? r() : td.on('close', () => r())));
    const ping = spawnSync('ip', ['netns', 'exec', lab.podA, 'ping', '-q', '-c', '1000', '-i', '0.005', '-W', '1', lab.ipB], { encoding: 'utf8', timeout: 120_000 });
    expect(ping.stdout).toMatch(/1000 packets transmitted, 1000 received/);
    // tcpdump stops by itself at 2000 packets (1000 requests, 1000 replies).
    await tdExited;
    cap.child.kill('SIGINT');
    expect(await cap.exited).toBe(0);

    // The file: interfaces named after the hops, every echo on every hop, in physical order.
    const s = new EchoSightings();
    let lastSec = 0;
    let lastNsec = 0;
    let fileInversions = 0;
    const err = readFile(out, (r) => {
      if (r.tsSec < lastSec || (r.tsSec === lastSec && r.tsNsec < lastNsec)) fileInversions++;
      lastSec = r.tsSec;
      lastNsec = r.tsNsec;
      s.add(r, lab.labels.indexOf(r.iface ?? ''));
    });
    expect(err).toBeNull();
    const order = hopOrder(s, 4);
    expect({ complete: order.complete, pairs: order.pairs, inversions: order.inversions, streamInversions: order.streamInversions, fileInversions }).toEqual({
      complete: 2000,
      pairs: 6000,
      inversions: 0,
      streamInversions: 0,
      fileInversions: 0,
    });
    // Per-hop deltas are microseconds on one machine, not the milliseconds of arrival stamps.
    expect(order.medianDeltaNs).toBeGreaterThanOrEqual(0);
    expect(order.medianDeltaNs).toBeLessThan(1_000_000);

    // The text: each line starts with the hop; the same physical order line by line.
    const lines = cap.stdout().trim().split('\n');
    const seen = new Map<string, number[]>();
    lines.forEach((line, i) => {
      const m = /^(\S+) \S+ IP \S+ > \S+: ICMP echo (request|reply), id (\d+), seq (\d+)/.exec(line);
      if (!m) return;
      const key = `${m[2]}/${m[3]}/${m[4]}`;
      const hop = lab.labels.indexOf(m[1]);
      let at = seen.get(key);
      if (at === undefined) seen.set(key, (at = [-1, -1, -1, -1]));
      if (at[hop] < 0) at[hop] = i;
    });
    let textInversions = 0;
    let textComplete = 0;
    for (const [key, at] of seen) {
      if (at.some((x) => x < 0)) continue;
      textComplete++;
      const path4 = key.startsWith('request') ? at : [...at].reverse();
      for (let i = 1; i < 4; i++) if (path4[i] < path4[i - 1]) textInversions++;
    }
    expect({ textComplete, textInversions }).toEqual({ textComplete: 2000, textInversions: 0 });
    // read --flows on the merged file: one ICMP flow (a packet seen on four hops counts once), every echo
    // answered, the RTT on the source interface as tcpdump's capture there gives it, per-hop delays, no
    // MAC "moves" between the capture points.
    const flows = spawnSync(process.execPath, [BIN, 'read', out, '--flows', '--json'], { encoding: 'utf8', timeout: 60_000 });
    expect(flows.status).toBe(0);
    const objs = flows.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const fl = objs.filter((o) => o.flow).map((o) => o.flow as { proto: string; echo: { requests: number; replies: number; rttAvgMs: number }; ifaces: string[] });
    expect(fl).toHaveLength(1);
    expect(fl[0]).toMatchObject({ proto: 'icmp', echo: { requests: 1000, replies: 1000 } });
    expect(new Set(fl[0].ifaces)).toEqual(new Set(lab.labels));
    expect(objs.filter((o) => o.problem && (o.problem as { kind: string }).kind === 'mac-move')).toEqual([]);
    const sum = objs.find((o) => o.summary)!.summary as { hops: Array<{ from: string; to: string; packets: number; medianUs: number }> };
    expect(sum.hops.length).toBeGreaterThanOrEqual(3);
    for (const h of sum.hops) expect(h.packets).toBe(1000);
    const tdEcho = new Map<string, number>();
    const rtts: number[] = [];
    readFile(tdFile, (r) => {
      const ihl = (r.buf[r.offset + 14] & 0x0f) * 4;
      const icmp = r.offset + 14 + ihl;
      const key = `${r.buf.readUInt16BE(icmp + 4)}/${r.buf.readUInt16BE(icmp + 6)}`;
      const t = r.tsSec * 1e3 + r.tsNsec / 1e6;
      if (r.buf[icmp] === 8) tdEcho.set(key, t);
      else if (r.buf[icmp] === 0 && tdEcho.has(key)) rtts.push(t - tdEcho.get(key)!);
    });
    expect(rtts).toHaveLength(1000);
    const tdAvg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
    expect(Math.abs(fl[0].echo.rttAvgMs - tdAvg) / tdAvg).toBeLessThan(0.1);

    // tshark reads the file and sees the same four interfaces.
    const t = spawnSync('tshark', ['-r', out, '-T', 'fields', '-e', 'frame.interface_name'], { encoding: 'utf8' });
    expect(t.status).toBe(0);
    expect(new Set(t.stdout.trim().split('\n'))).toEqual(new Set(lab.labels));
  });

  it('accounts for every frame like tcpdump: captured + dropped by kernel = received by filter = sent, with a tiny ring', async () => {
    const frames = Array.from({ length: 8 }, (_, i) =>
      ether('02:00:00:00:0b:0b', '02:00:00:00:0a:0a', 0x0800, ipv4({ src: '10.244.77.9', dst: '10.244.77.2', proto: 17, id: i }, udp(4000 + i, 5000, Buffer.alloc(64, i)))),
    );
    const fixture = path.join(tmp, 'flood.pcap');
    await writeFrames(fixture, frames);
    const rx0 = rxPackets(lab.podB, 'eth0');
    const cap = await startCapture(['-i', `eth0@${lab.podB}`, '-B', '64', '-s', '128', '--json', '-w', path.join(tmp, 'flood.pcapng'), '--print', 'udp and port 5000']);
    const sent = spawnSync(process.execPath, [BIN, 'replay', fixture, '-i', `eth0@${lab.podA}`, '--top-speed', '--loop', '0', '-c', '200000', '--json'], { encoding: 'utf8', timeout: 120_000 });
    expect(sent.status).toBe(0);
    const sentCount = (JSON.parse(sent.stdout) as { sent: number }).sent;
    expect(sentCount).toBe(200000);
    cap.child.kill('SIGINT');
    expect(await cap.exited).toBe(0);
    const summary = JSON.parse(cap.stdout().trim().split('\n').pop()!) as {
      summary: { interfaces: Array<{ captured: number; received_by_filter: number; dropped_by_kernel: number; dropped_by_netscope: number }> };
    };
    const acct = summary.summary.interfaces[0];
    expect(acct.dropped_by_kernel).toBeGreaterThan(0);
    expect(acct.captured + acct.dropped_by_kernel + acct.dropped_by_netscope).toBe(acct.received_by_filter);
    // What the interface received: its rx counter (the bridge may drop some of a flood before it gets there;
    // an ARP refresh may add a packet the filter does not take).
    const rx = rxPackets(lab.podB, 'eth0') - rx0;
    expect(acct.received_by_filter).toBeLessThanOrEqual(rx);
    expect(rx - acct.received_by_filter).toBeLessThan(10);
    expect(acct.received_by_filter).toBeLessThanOrEqual(sentCount);
    // The closing line says it as tcpdump does.
    expect(cap.stderr()).toMatch(new RegExp(`${lab.podB}/eth0: ${acct.captured} packets captured \\(\\d+ bytes\\), ${acct.received_by_filter} received by filter, ${acct.dropped_by_kernel} dropped by kernel`));
  });

  it('keeps the original length when -s cuts the capture (tshark agrees)', async () => {
    const out = path.join(tmp, 'snap.pcapng');
    const cap = await startCapture(['-i', `eth0@${lab.podB}`, '-s', '100', '-w', out, 'icmp']);
    spawnSync('ip', ['netns', 'exec', lab.podA, 'ping', '-q', '-c', '3', '-i', '0.05', '-s', '1000', lab.ipB]);
    cap.child.kill('SIGINT');
    expect(await cap.exited).toBe(0);
    const t = spawnSync('tshark', ['-r', out, '-T', 'fields', '-e', 'frame.cap_len', '-e', 'frame.len'], { encoding: 'utf8' });
    const rows = t.stdout.trim().split('\n');
    expect(rows).toHaveLength(6);
    for (const row of rows) expect(row).toBe('100\t1042');
  });

  it('a handle referenced by nobody keeps capturing through gc(), and close() inside its callback is safe', async () => {
    const script = path.join(tmp, 'gc-child.js');
    fs.writeFileSync(
      script,
      `
const { PcapHandle } = require(${JSON.stringify(path.join(ROOT, 'dist', 'libpcap', 'handle.js'))});
let packets = 0, bad = 0, afterClose = 0;
(function start() {
  // No reference kept: only the binding holds the handle while it is open.
  new PcapHandle().openCapture({ iface: 'eth0', filter: 'icmp' }, (batch, n) => {
    let o = 0;
    for (let i = 0; i < n; i++) { const cap = batch.readUInt32LE(o + 8); if (cap < 42 || batch.readUInt16BE(o + 16 + 12) !== 0x0800) bad++; o += 16 + cap; }
    if (o !== batch.length) bad++;
    packets += n;
  }, () => {});
})();
const h2 = new PcapHandle();
let closedInside = false;
h2.openCapture({ iface: 'eth0', filter: 'icmp' }, () => { if (closedInside) afterClose++; h2.close(); h2.close(); closedInside = true; }, () => {});
const junk = [];
let turns = 0;
(function churn() {
  for (let i = 0; i < 50; i++) junk.push(Buffer.alloc(1024 + (i % 7) * 4096), { a: i, s: 'x'.repeat(i) });
  if (junk.length > 4000) junk.length = 0;
  if (++turns % 4 === 0) global.gc();
  if (packets < 400) setImmediate(churn);
  else { process.stdout.write(JSON.stringify({ packets, bad, afterClose, closedInside }) + '\\n'); process.exit(0); }
})();
`,
    );
    const child = spawn('ip', ['netns', 'exec', lab.podB, process.execPath, '--expose-gc', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    // Pings until the child has seen 400 packets and exits (bounded by the ping count, not by a clock).
    const ping = spawn('ip', ['netns', 'exec', lab.podA, 'ping', '-q', '-c', '5000', '-i', '0.002', lab.ipB], { stdio: 'ignore' });
    const code = await exited;
    ping.kill('SIGINT');
    expect({ code, err: err.trim() }).toEqual({ code: 0, err: '' });
    const r = JSON.parse(out) as { packets: number; bad: number; afterClose: number; closedInside: boolean };
    expect(r).toEqual({ packets: expect.any(Number), bad: 0, afterClose: 0, closedInside: true });
    expect(r.packets).toBeGreaterThanOrEqual(400);
  });

  it('compiles filters with libpcap and says what is wrong in libpcap words', () => {
    const r = spawnSync(process.execPath, [BIN, 'capture', '-i', `eth0@${lab.podB}`, 'tcp port'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bad filter "tcp port": syntax error \(libpcap\); "tcp" parses, the problem is in "port"/);
  });
});
