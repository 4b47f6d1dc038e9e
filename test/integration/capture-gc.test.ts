/**
 * Regression test for cap's raw buffer pointer: cap memcpy()s every packet into the Buffer given to open().
 * If that Buffer were collected, a flood plus garbage-collector pressure crashes the process (heap-use-after-
 * free: "malloc(): unsorted double linked list corrupted"). A child node process with --expose-gc captures
 * through CapHandle while a veth is flooded and the GC runs in a loop with heavy allocation; it must survive
 * and see consistent packets.
 */
import { spawn, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { ether, ipv4, udp } from '../../src/decode/craft';
import { PcapWriter } from '../../src/pcap/writer';
import { cleanupPrefix, isRoot, sh, testPrefix } from '../helpers/netns';

const ROOT = path.resolve(__dirname, '..', '..');
const P = testPrefix('cg');
const NS = `${P}ns`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-cg-'));
const d = isRoot ? describe : describe.skip;

const CHILD = `
const { CapHandle } = require(${JSON.stringify(path.join(ROOT, 'dist', 'capture', 'capHandle.js'))});
let packets = 0, bad = 0;
if (process.argv[4] === 'unreferenced') {
  // Nobody but CapHandle's own registry references the handle: its buffer must still stay alive.
  (function start() {
    new CapHandle().open(process.argv[2], 'udp', 4 << 20, () => { packets++; });
  })();
} else {
  // Only the listener closure keeps the handle (and so its buffer) alive, as in the agent.
  (function start() {
    const h = new CapHandle();
    h.open(process.argv[2], 'udp', 4 << 20, (n) => {
      packets++;
      // Every fixture frame ends with 0x5a bytes before its 4-byte number: check the copy landed intact.
      if (n < 60 || h.packetBuffer[n - 5] !== 0x5a || h.packetBuffer[12] !== 8) bad++;
    });
  })();
}
const junk = [];
let turns = 0;
const until = Date.now() + Number(process.argv[3]);
(function churn() {
  for (let i = 0; i < 50; i++) junk.push(Buffer.alloc(1024 + (i % 7) * 4096), { a: i, s: 'x'.repeat(i) });
  if (junk.length > 4000) junk.length = 0;
  // A full collection every few turns: often enough to move and free memory around cap's writes,
  // rare enough that packets keep flowing between collections.
  if (++turns % 4 === 0) global.gc();
  if (Date.now() < until) setImmediate(churn);
  else { process.stdout.write(JSON.stringify({ packets, bad }) + '\\n'); process.exit(0); }
})();
`;

d('cap buffer stays alive under flood and GC pressure', () => {
  beforeAll(() => {
    cleanupPrefix(P);
    sh('ip', ['netns', 'add', NS]);
    sh('ip', ['netns', 'exec', NS, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    sh('ip', ['-n', NS, 'link', 'add', `${P}a`, 'type', 'veth', 'peer', 'name', `${P}b`]);
    sh('ip', ['-n', NS, 'link', 'set', `${P}a`, 'up']);
    sh('ip', ['-n', NS, 'link', 'set', `${P}b`, 'up']);
  });
  afterAll(() => {
    cleanupPrefix(P);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it.each(['referenced', 'unreferenced'])('captures a top-speed flood while gc() runs in a loop (%s handle), without crashing or corrupt copies', async (mode) => {
    const fixture = path.join(tmp, 'flood.pcap');
    const w = new PcapWriter(fs.createWriteStream(fixture), { linktype: 1 });
    for (let i = 0; i < 8; i++) {
      const body = Buffer.alloc(64 + i * 150, 0x5a);
      body.writeUInt32BE(i, body.length - 4);
      const f = ether('02:00:00:00:0b:0b', '02:00:00:00:0a:0a', 0x0800, ipv4({ src: '10.244.8.1', dst: '10.244.8.2', proto: 17 }, udp(1, 2, body)));
      w.write({ buf: f, offset: 0, caplen: f.length, len: f.length, tsSec: 1, tsNsec: i, linktype: 1, ifIndex: 0, iface: undefined });
    }
    await w.close();
    const script = path.join(tmp, 'gc-child.js');
    fs.writeFileSync(script, CHILD);
    const child = spawn('ip', ['netns', 'exec', NS, process.execPath, '--expose-gc', script, `${P}b`, '3000', mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
    await new Promise((r) => setTimeout(r, 400));
    const flood = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'netscope'), 'replay', fixture, '-i', `${P}a@${NS}`, '--top-speed', '--loop', '0', '-c', '400000'], { encoding: 'utf8', timeout: 30_000 });
    expect(flood.stdout).toMatch(/400000 frames sent/);
    const res = await exited;
    expect({ ...res, err: err.split('\n').filter((l) => !/This may not actually work/.test(l)).join('\n').trim() }).toEqual({ code: 0, signal: null, err: '' });
    const r = JSON.parse(out) as { packets: number; bad: number };
    expect(r.bad).toBe(0);
    // Copies kept landing between collections (far fewer than the flood: the gc loop starves the capture,
    // the more so on a loaded machine; what matters is that none of them hit freed memory).
    expect(r.packets).toBeGreaterThan(200);
  });
});
