/**
 * `netscope read` end to end: spawns bin/netscope (the built dist/, as CI builds before testing) on the real
 * fixtures and checks text lines (against tcpdump where the formats coincide), -c, -e, --json numbering,
 * --summary numbers (against tshark), filters (tcpdump is the oracle for what an expression means), stdin,
 * damaged/garbage/missing files, usage errors, a closed output pipe, and --flows.
 */
import { execFile, execFileSync, spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { generate as generateFlows } from '../../src/bench/flows';
import { writeBenchFile } from '../../src/bench/read';
import { waitForPipeDrained, waitForSignalHandler } from '../helpers/process';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'netscope');
const FX = path.join(ROOT, 'fixtures', 'pcap');
const fx = (name: string): string => path.join(FX, name);
const ENV = { ...process.env, TZ: 'UTC' };

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function netscope(args: string[], input?: Buffer): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin.on('error', () => undefined); // the command may stop reading stdin early
    child.stdin.end(input);
  });
}

function tcpdump(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('tcpdump', args, { env: ENV, maxBuffer: 64 << 20 }, (e, stdout, stderr) => {
      if (e) reject(new Error(`tcpdump ${args.join(' ')}: ${stderr || e.message}`));
      else resolve(stdout);
    });
  });
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

let tmp: string;

beforeAll(() => {
  const main = path.join(ROOT, 'dist', 'cli', 'main.js');
  if (!fs.existsSync(main)) throw new Error('dist/ is missing: run `npm run build` before these tests (CI does)');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-read-cli-'));
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('text output', () => {
  it.each(['icmp.pcap', 'udp.pcap', 'vxlan.pcap', 'icmpv6.pcap', 'sll.pcap'])('%s prints exactly what tcpdump -nn prints', async (f) => {
    const [mine, theirs] = await Promise.all([netscope(['read', fx(f)]), tcpdump(['-nn', '-r', fx(f)])]);
    expect(mine.code).toBe(0);
    expect(mine.stderr).toBe('');
    expect(lines(mine.stdout).length).toBeGreaterThan(0);
    expect(mine.stdout).toBe(theirs);
  });

  it('-e prints link-layer headers like tcpdump -e', async () => {
    const [mine, theirs] = await Promise.all([netscope(['read', '-e', fx('icmp.pcap')]), tcpdump(['-e', '-nn', '-r', fx('icmp.pcap')])]);
    expect(mine.stdout).toBe(theirs);
    expect(mine.stdout).toContain('02:00:00:00:01:01 > 02:00:00:00:01:02, ethertype IPv4 (0x0800), length 98: ');
  });

  it('prints known TCP, ICMP error and ARP lines', async () => {
    const tcp = lines((await netscope(['read', fx('tcp.pcap')])).stdout);
    expect(tcp).toHaveLength(12);
    expect(tcp[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{6} IP 10\.244\.1\.1\.\d+ > 10\.244\.1\.2\.8080: Flags \[S\], seq \d+, win 64240, options \[mss 1460,.*\], length 0$/);
    expect(tcp[11]).toMatch(/IP 10\.244\.1\.2\.8081 > 10\.244\.1\.1\.\d+: Flags \[R\.\], seq 0, ack \d+, win 0, length 0$/);
    const err = (await netscope(['read', fx('icmp-errors.pcap')])).stdout;
    expect(err).toMatch(/ICMP 10\.244\.2\.1 udp port 33434 unreachable, length 41/);
    expect(err).toMatch(/IP 10\.244\.1\.254 > 10\.244\.1\.1: ICMP time exceeded in-transit, length 92/);
    expect(err).toMatch(/ICMP 10\.244\.2\.1 unreachable - need to frag \(mtu 1280\), length 556/);
    const arp = (await netscope(['read', fx('arp.pcap'), 'arp'])).stdout;
    expect(arp).toMatch(/ARP, Request who-has 10\.244\.1\.2 tell 10\.244\.1\.1, length 28\n.*ARP, Reply 10\.244\.1\.2 is-at 02:00:00:00:01:02, length 28/);
  });

  it('-c stops after N matching packets', async () => {
    expect(lines((await netscope(['read', '-c', '3', fx('tcp.pcap')])).stdout)).toHaveLength(3);
    const two = lines((await netscope(['read', fx('arp.pcap'), '-c', '2', 'icmp'])).stdout);
    expect(two).toHaveLength(2);
    expect(two.every((l) => l.includes(' ICMP echo '))).toBe(true);
  });

  it('--json numbers frames in the file, not among matches', async () => {
    const r = await netscope(['read', '--json', fx('arp.pcap'), 'icmp']);
    const objs = lines(r.stdout).map((l) => JSON.parse(l) as { n: number; icmp: { type: number } });
    const all = lines((await netscope(['read', '--json', fx('arp.pcap')])).stdout).map((l) => JSON.parse(l) as { n: number; icmp?: unknown });
    expect(objs.map((o) => o.n)).toEqual(all.filter((o) => o.icmp !== undefined).map((o) => o.n));
    expect(objs[0].n).toBeGreaterThan(1);
  });
});

describe('--summary', () => {
  /** Packets, wire bytes and earliest/latest timestamps according to tshark. */
  function tsharkTotals(file: string): { packets: number; bytes: number; first: string; last: string } {
    const rows = lines(execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.time_epoch'], { encoding: 'utf8' }));
    const ts = rows.map((r) => r.split('\t')[1]).sort();
    return { packets: rows.length, bytes: rows.reduce((s, r) => s + Number(r.split('\t')[0]), 0), first: ts[0], last: ts[ts.length - 1] };
  }

  it.each(['tcp.pcap', 'gso.pcap', 'multi.pcapng', 'icmp-nsec.pcap'])('%s totals agree with tshark', async (f) => {
    const r = await netscope(['read', '--summary', '--json', fx(f)]);
    expect(r.code).toBe(0);
    const s = (JSON.parse(r.stdout) as { summary: { packets: number; bytes: number; first: string; last: string; durationSec: number } }).summary;
    const t = tsharkTotals(fx(f));
    expect({ packets: s.packets, bytes: s.bytes, first: s.first, last: s.last }).toEqual(t);
    const span = Number(BigInt(t.last.replace('.', '')) - BigInt(t.first.replace('.', ''))) / 1e9;
    expect(s.durationSec).toBeCloseTo(span, 9);
  });

  it('counts protocols, interfaces, and prints a readable table', async () => {
    const j = JSON.parse((await netscope(['read', '--summary', '--json', fx('icmp-errors.pcap')])).stdout) as {
      summary: { protocols: Record<string, { packets: number }>; truncated: object; malformed: object };
    };
    expect(j.summary.protocols).toEqual({ icmp: { packets: 5, bytes: 75 + 98 + 126 + 1442 + 590 }, udp: { packets: 1, bytes: 47 } });
    expect(j.summary.truncated).toEqual({});
    const text = (await netscope(['read', '--summary', fx('multi.pcapng')])).stdout;
    expect(text).toMatch(/^packets +9$/m);
    expect(text).toMatch(/^duration +0\.\d{6} s$/m);
    expect(text).toMatch(/^icmp +8 +784$/m);
    expect(text).toMatch(/^r1 +5 +\d+$/m);
    expect(text).toMatch(/^r2 +4 +\d+$/m);
    const vx = JSON.parse((await netscope(['read', '--summary', '--json', fx('vxlan.pcap'), '-c', '3'])).stdout) as { summary: { packets: number; protocols: object } };
    expect(vx.summary.packets).toBe(3);
    expect(Object.keys(vx.summary.protocols)).toEqual(['vxlan']);
  });

  it('reports truncated packets by layer', async () => {
    // Cut every record of tcp.pcap to 40 bytes (inside the TCP header) with editcap -s.
    const cut = path.join(tmp, 'cut.pcap');
    execFileSync('editcap', ['-s', '40', fx('tcp.pcap'), cut]);
    const s = (JSON.parse((await netscope(['read', '--summary', '--json', cut])).stdout) as { summary: { truncated: Record<string, number>; capturedBytes: number; bytes: number } }).summary;
    expect(s.truncated).toEqual({ tcp: 12 });
    expect(s.capturedBytes).toBe(12 * 40);
    expect(s.bytes).toBeGreaterThan(s.capturedBytes);
  });
});

describe('filters mean what tcpdump means', () => {
  const ALL = ['arp.pcap', 'icmp.pcap', 'icmp-errors.pcap', 'frag.pcap', 'tcp.pcap', 'udp.pcap', 'vxlan.pcap', 'icmpv6.pcap', 'gso.pcap'];
  let merged: string;
  beforeAll(() => {
    merged = path.join(tmp, 'all.pcap');
    execFileSync('mergecap', ['-F', 'pcap', '-w', merged, ...ALL.map(fx)]);
  });

  const count = async (file: string, expr: string): Promise<{ mine: number; theirs: number }> => {
    const [r, t] = await Promise.all([
      netscope(['read', '--summary', '--json', file, ...expr.split(' ')]),
      tcpdump(['-nn', '-r', file, '--count', expr]),
    ]);
    if (r.code !== 0) throw new Error(`netscope read ${expr}: ${r.stderr}`);
    return { mine: (JSON.parse(r.stdout) as { summary: { packets: number } }).summary.packets, theirs: Number(/(\d+) packets?/.exec(t)?.[1]) };
  };

  it.each([
    'arp', 'icmp', 'ip', 'ip6', 'tcp', 'udp', 'vlan',
    'host 10.244.1.2', 'src host 10.244.1.1', 'dst host 10.244.2.1', 'host 10.244.9.1', 'host fe80::ff:fe00:102',
    'net 10.244.0.0/16', 'src net 10.42.0.0/24', 'dst net 10.244.2.0/24',
    'port 8080', 'src port 7777', 'dst port 33434', 'udp port 4789', 'port 8090 and tcp',
    'ether host 02:00:00:00:01:02', 'ether src 02:00:00:00:02:fe', 'ether dst ff:ff:ff:ff:ff:ff',
    'icmp or arp', 'tcp and not port 8080', 'not ip', 'udp or tcp and src host 10.244.1.2', '( tcp or udp ) and not dst port 4789',
  ])('%s', async (expr) => {
    const { mine, theirs } = await count(merged, expr);
    expect(Number.isInteger(theirs)).toBe(true);
    expect(mine).toBe(theirs);
  });

  it('icmp6: like tcpdump, plus ICMPv6 behind a hop-by-hop header (known divergence, see docs/read.md)', async () => {
    // libpcap's icmp6 is "ip6 proto 58" and does not chase extension headers, so tcpdump misses the MLD
    // reports (hop-by-hop, then ICMPv6); netscope's filter follows the chain. Pinned here so a change shows.
    const { mine, theirs } = await count(merged, 'icmp6');
    const hbh = await tcpdump(['-nn', '-r', merged, '--count', 'ip6 and ip6[6] == 0 and ip6[40] == 58']);
    const behindHbh = Number(/(\d+) packets?/.exec(hbh)?.[1]);
    expect(behindHbh).toBeGreaterThan(0);
    expect([theirs, theirs + behindHbh]).toContain(mine);
  });

  it.each([
    ['sll.pcap', 'icmp'], ['sll.pcap', 'arp'], ['sll2.pcap', 'host 10.244.1.2 and icmp'], ['raw.pcap', 'tcp port 8081'], ['raw.pcap', 'src host 10.244.1.2'],
  ])('%s: %s (cooked and raw link types)', async (f, expr) => {
    const { mine, theirs } = await count(fx(f), expr);
    expect(theirs).toBeGreaterThan(0);
    expect(mine).toBe(theirs);
  });

  it('a syntax error is exit 2 with the offending token, before the file is opened', async () => {
    const r = await netscope(['read', path.join(tmp, 'does-not-exist.pcap'), 'tcp', 'and', 'prot', '80']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^netscope: bad filter "tcp and prot 80": syntax error.*\(libpcap\); "tcp" parses, the problem is in "and prot 80"/);
  });
});

describe('inputs', () => {
  it('reads stdin with -', async () => {
    for (const f of ['tcp.pcapng', 'icmp-be.pcap']) {
      const [piped, direct] = await Promise.all([netscope(['read', '-'], fs.readFileSync(fx(f))), netscope(['read', fx(f)])]);
      expect(piped.code).toBe(0);
      expect(piped.stdout).toBe(direct.stdout);
      expect(lines(piped.stdout).length).toBeGreaterThan(5);
    }
  });

  it('a truncated file: complete records printed, then one error line with the offset, exit 1', async () => {
    const data = fs.readFileSync(fx('tcp.pcap'));
    const full = lines((await netscope(['read', fx('tcp.pcap')])).stdout);
    // Header (24) + the first records; cut 10 bytes into the record after them.
    let off = 24;
    for (let i = 0; i < 5; i++) off += 16 + data.readUInt32LE(off + 8);
    const cut = path.join(tmp, 'truncated.pcap');
    fs.writeFileSync(cut, data.subarray(0, off + 10));
    for (const r of [await netscope(['read', cut]), await netscope(['read', '-'], fs.readFileSync(cut))]) {
      expect(r.code).toBe(1);
      expect(lines(r.stdout)).toEqual(full.slice(0, 5));
      expect(lines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^netscope: (${cut.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}|stdin): .*byte ${off}\\b`));
    }
  });

  it('garbage, empty, missing and directory inputs: one line, exit 1, no stack trace', async () => {
    const garbage = path.join(tmp, 'garbage.pcap');
    fs.writeFileSync(garbage, Buffer.from('this is not a capture file at all, just text\n'.repeat(20)));
    const empty = path.join(tmp, 'empty.pcap');
    fs.writeFileSync(empty, '');
    const cases: Array<[string, RegExp]> = [
      [garbage, /not a pcap or pcapng file/],
      [empty, /empty/],
      [path.join(tmp, 'missing.pcap'), /no such file/],
      [tmp, /is a directory/],
    ];
    for (const [file, msg] of cases) {
      const r = await netscope(['read', file]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(lines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toMatch(/^netscope: /);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
    }
  });

  it('usage errors exit 2', async () => {
    for (const args of [['-c', '0'], ['-c', 'x'], ['--top', '3'], ['--sort', 'bytes'], ['--flows', '--top', '-1'], ['--flows', '--summary']]) {
      const r = await netscope(['read', fx('icmp.pcap'), ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^netscope: /);
    }
  });
});

describe('output', () => {
  it('ends quietly when the reader closes the pipe (| head)', async () => {
    const big = path.join(tmp, 'big.pcap');
    writeBenchFile(big, 300_000);
    const child = spawn(process.execPath, [BIN, 'read', big], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(first).toMatch(/^\d\d:\d\d:\d\d\.\d{6} /);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('--flows prints the flow table; --json gives flow lines', async () => {
    const t = await netscope(['read', fx('tcp.pcap'), '--flows', '--sort', 'bytes', '--top', '1']);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/10\.244\.1\.1:\d+ +10\.244\.1\.2:8080/);
    expect(lines(t.stdout).filter((l) => l.startsWith('tcp '))).toHaveLength(1);
    expect(t.stdout).toMatch(/refused/); // the problems section covers all flows, not only the top one
    const j = await netscope(['read', fx('tcp.pcap'), '--flows', '--json']);
    const objs = lines(j.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs.filter((o) => 'flow' in o)).toHaveLength(2);
    expect(objs[objs.length - 1]).toHaveProperty('summary');
  });

  it('--flows shows the 50 biggest flows by default and says so; --top 0 and --json keep every flow', async () => {
    const file = path.join(tmp, 'sixty-flows.pcap');
    generateFlows(file, 60, 60, true); // packet i is flow i
    const d = await netscope(['read', file, '--flows']);
    expect(d.code).toBe(0);
    expect(lines(d.stdout)[0]).toMatch(/^Flows: 60 \(top 50 by bytes; --top 0 shows all\), 60 packets, \d+ bytes$/);
    const rows = (s: string): string[] => lines(s).filter((l) => /^(tcp|udp|icmp) /.test(l));
    expect(rows(d.stdout)).toHaveLength(50);
    const all = await netscope(['read', file, '--flows', '--top', '0']);
    expect(lines(all.stdout)[0]).toMatch(/^Flows: 60 \(sorted by bytes\), /);
    expect(rows(all.stdout)).toHaveLength(60);
    const j = await netscope(['read', file, '--flows', '--json']);
    expect(lines(j.stdout).filter((l) => l.startsWith('{"flow":'))).toHaveLength(60);
  });

  it('Ctrl-C on a live pipe stops reading and still prints the report of what was read (exit 130)', async () => {
    const pcap = fs.readFileSync(fx('tcp.pcap'));
    for (const mode of [['--flows'], ['--summary'], []]) {
      const child = spawn(process.execPath, [BIN, 'read', '-', ...mode], { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      // The whole file, then the pipe stays open like a live `tcpdump -w -` would keep it. SIGINT goes once
      // netscope handles it and has read every byte of the pipe (not after a guessed delay).
      await new Promise<void>((resolve, reject) => child.stdin.write(pcap, (e) => (e ? reject(e) : resolve())));
      await waitForSignalHandler(child.pid!, 'SIGINT');
      await waitForPipeDrained(child.pid!, 0);
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      child.stdin.destroy();
      expect(code).toBe(130);
      const n = Number(execFileSync('capinfos', ['-c', '-M', fx('tcp.pcap')], { encoding: 'utf8' }).match(/Number of packets:\s+(\d+)/)![1]);
      expect(stderr).toBe(`netscope: interrupted after ${n} packets read${mode.length > 0 ? '; the report covers them' : ''}\n`);
      if (mode[0] === '--flows') expect(stdout).toMatch(new RegExp(`^Flows: \\d+ \\(sorted by bytes\\), ${n} packets`));
      else if (mode[0] === '--summary') expect(stdout).toMatch(new RegExp(`\\b${n}\\b`));
      else expect(lines(stdout)).toHaveLength(n);
    }
  });
});
