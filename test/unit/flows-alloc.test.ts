/**
 * "No allocation per packet for an existing flow", measured: after warm-up, millions of packets of existing
 * TCP/UDP/ICMP-echo/ARP flows must not trigger a single scavenge. Even 16 bytes per packet would be 64 MB,
 * several times what V8's young generation holds, so any per-packet allocation shows.
 *
 * Runs in a plain node child (`--trace-gc`): jest's sandbox hands modules a foreign-realm `Math`, which V8
 * cannot inline, so the same code is ~40× slower and allocates there. The engine's sources are transpiled
 * into a temp dir first, so the test needs no prior build.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import ts from 'typescript';

const ROOT = path.join(__dirname, '../..');

function transpileTree(out: string): void {
  const files = [
    ...fs.readdirSync(path.join(ROOT, 'src/analysis')).map((f) => `src/analysis/${f}`),
    ...fs.readdirSync(path.join(ROOT, 'src/decode')).map((f) => `src/decode/${f}`),
    'src/pcap/record.ts',
  ].filter((f) => f.endsWith('.ts'));
  for (const f of files) {
    const js = ts.transpileModule(fs.readFileSync(path.join(ROOT, f), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    const dest = path.join(out, f.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, js);
  }
}

const SCRIPT = `
const { FlowTable } = require('./src/analysis/flows');
const { L, PacketView, TCP } = require('./src/decode/view');
function view(src, dst, layers, proto) {
  const v = new PacketView();
  v.buf = Buffer.alloc(64); v.caplen = 64; v.buf[6] = 2; v.buf[11] = src & 255;
  v.ethSrcOff = 6; v.ethDstOff = 0; v.layers = layers; v.ip4Src = src; v.ip4Dst = dst; v.ipProto = proto;
  return v;
}
const base = 0x0af40000, srv = base + 1000, views = [];
for (let i = 0; i < 100; i++) {
  let v = view(base + i, srv, L.ETH | L.IPV4 | L.TCP, 6); v.sport = 40000 + i; v.dport = 80; v.tcpFlags = TCP.ACK; views.push(v);
  v = view(srv, base + i, L.ETH | L.IPV4 | L.TCP, 6); v.sport = 80; v.dport = 40000 + i; v.tcpFlags = TCP.ACK | TCP.PSH; views.push(v);
  v = view(base + i, srv, L.ETH | L.IPV4 | L.UDP, 17); v.sport = 5000 + i; v.dport = 53; views.push(v);
  v = view(base + i, srv, L.ETH | L.IPV4 | L.ICMP, 1); v.icmpType = 8; v.icmpId = i; views.push(v);
  v = view(srv, base + i, L.ETH | L.IPV4 | L.ICMP, 1); v.icmpType = 0; v.icmpId = i; views.push(v);
  v = view(base + i, srv, L.ETH | L.ARP, 0); v.arpOp = 1; v.arpSpa = base + i; v.arpTpa = srv; v.arpShaOff = 6; views.push(v);
}
const rec = { buf: Buffer.alloc(64), offset: 0, caplen: 64, len: 100, tsSec: 1700000000, tsNsec: 0, linktype: 1, ifIndex: 0, iface: 'nsA/eth0' };
const t = new FlowTable({ maxFlows: 10000 });
function feed(n) {
  for (let i = 0; i < n; i++) {
    const v = views[i % views.length];
    v.icmpSeq = (i / views.length) & 0xffff;
    rec.tsNsec += 10000; // 10 µs apart: the warm-up spans several seconds, so per-second paths are optimised too
    if (rec.tsNsec >= 1e9) { rec.tsNsec = 0; rec.tsSec++; }
    t.add(v, rec);
  }
}
feed(500000);
console.log('BEGIN ' + t.size);
gc(); // start the measured run with an empty young generation: warm-up garbage must not count
feed(4000000);
console.log('END ' + t.counters().packets + ' ' + t.size);
`;

it('updates existing flows without allocating (no scavenge in 4M packets)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-flows-alloc-'));
  try {
    transpileTree(dir);
    fs.writeFileSync(path.join(dir, 'run.js'), SCRIPT);
    const out = execFileSync(process.execPath, ['--trace-gc', '--expose-gc', 'run.js'], { cwd: dir, encoding: 'utf8' });
    const lines = out.split('\n');
    const begin = lines.findIndex((l) => l.startsWith('BEGIN'));
    const end = lines.findIndex((l) => l.startsWith('END'));
    expect(lines[begin]).toBe('BEGIN 400');
    expect(lines[end]).toBe('END 4500000 400');
    // The first line after BEGIN is the requested gc() itself.
    const gcs = lines.slice(begin + 1, end).filter((l) => /Scavenge|Mark-Compact|Mark-sweep/i.test(l) && !/testing/.test(l));
    expect(gcs).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
