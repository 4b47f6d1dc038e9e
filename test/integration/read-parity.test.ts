/**
 * `netscope read` (the built CLI) and `tcpdump` 4.99 on the same file, line for line, with TZ=UTC for both:
 * every fixture under fixtures/, and a fresh capture of namespace traffic (ARP, IGMP, MLDv2, ICMP echo,
 * ICMP errors, IPv4 fragments, UDP, TCP, VXLAN) made here. Then the tcpdump options `read` accepts: -r,
 * -n/-nn, -e, -S, -q, -t…-ttttt, -x/-xx/-X/-XX, -c, -s (tcpdump ignores -s on a file: the oracle reads the file cut by
 * editcap -s). The one deliberate difference: VXLAN on 8472, which tcpdump calls OTV.
 */
import { execFile, execFileSync, spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { cleanupPrefix, isRoot, nsExec, testPrefix, tryRun } from '../helpers/netns';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'netscope');
const ENV = { ...process.env, TZ: 'UTC' };

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: ENV, maxBuffer: 64 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');
const otvAsVxlan = (l: string): string => l.replace(/OTV, flags \[I\] \(0x08\), overlay 0, instance (\d+)$/, 'VXLAN, flags [I] (0x08), vni $1');

async function tcpdump(args: string[]): Promise<string[]> {
  return lines(await run('tcpdump', args)).map(otvAsVxlan);
}

async function netscope(args: string[]): Promise<string[]> {
  return lines(await run(process.execPath, [BIN, 'read', ...args]));
}

function fixtures(): string[] {
  const out: string[] = [];
  for (const dir of ['pcap', 'flows']) {
    const d = path.join(ROOT, 'fixtures', dir);
    for (const f of fs.readdirSync(d).sort()) if (/\.pcap(ng)?$/.test(f)) out.push(path.join(d, f));
  }
  return out;
}

/** tcpdump refuses some files (a pcapng whose interfaces have different snap lengths): nothing to compare. */
function tcpdumpReads(file: string): boolean {
  try {
    execFileSync('tcpdump', ['-nn', '-r', file], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const haveTools = tryRun('tcpdump', ['--version']);

(haveTools ? describe : describe.skip)('read text = tcpdump -nn -r on every fixture', () => {
  it.each(fixtures().map((f) => [path.relative(ROOT, f), f]))('%s', async (_name, file) => {
    const ours = await netscope(['-nn', '-r', file]);
    if (!tcpdumpReads(file)) {
      expect(ours.length).toBeGreaterThan(0);
      return;
    }
    const theirs = await tcpdump(['-nn', '-r', file]);
    expect(theirs.length).toBeGreaterThan(0);
    expect(ours).toEqual(theirs);
    // The positional form and -e, -S and -q agree too.
    expect(await netscope([file])).toEqual(ours);
    expect(await netscope(['-e', file])).toEqual(await tcpdump(['-nn', '-e', '-r', file]));
    expect(await netscope(['-S', file])).toEqual(await tcpdump(['-nn', '-S', '-r', file]));
    expect(await netscope(['-q', file])).toEqual(await tcpdump(['-nn', '-q', '-r', file]));
  });
});

(haveTools ? describe : describe.skip)('tcpdump options on read', () => {
  const tcp = path.join(ROOT, 'fixtures', 'flows', 'basic.pcap');

  it.each([['-t'], ['-tt'], ['-ttt'], ['-tttt'], ['-ttttt']])('%s', async (t) => {
    expect(await netscope([t, '-r', tcp])).toEqual(await tcpdump(['-nn', t, '-r', tcp]));
  });

  it.each([['-x'], ['-xx'], ['-X'], ['-XX']])('%s hex dumps (Ethernet, SLL2, raw IP, VXLAN)', async (x) => {
    for (const name of ['pcap/arp.pcap', 'pcap/sll2.pcap', 'pcap/raw.pcap', 'pcap/vxlan8472.pcap', 'flows/basic.pcap']) {
      const f = path.join(ROOT, 'fixtures', name);
      expect({ name, text: await netscope([x, f]) }).toEqual({ name, text: await tcpdump(['-nn', x, '-r', f]) });
    }
  });

  it('-c N with a filter word after -r FILE', async () => {
    expect(await netscope(['-n', '-r', tcp, '-c', '3', 'tcp'])).toEqual(await tcpdump(['-nn', '-c', '3', '-r', tcp, 'tcp']));
  });

  it('-s N decodes N bytes: the same text as the file cut to N bytes (editcap -s)', async () => {
    // (tcpdump ignores -s when reading a file, and prints cut headers field by field where we print
    // the fields of whole headers and "[|layer]": our own reading of the cut file is the oracle.)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-snap-'));
    try {
      for (const n of [40, 60, 96]) {
        const cut = path.join(dir, `cut${n}.pcap`);
        execFileSync('editcap', ['-s', String(n), tcp, cut], { stdio: 'ignore' });
        const full = await netscope([tcp]);
        const snapped = await netscope(['-s', String(n), tcp]);
        expect({ n, text: snapped }).toEqual({ n, text: await netscope([cut]) });
        if (n < 74) expect(snapped).not.toEqual(full); // 74 bytes hold every header of this file
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('usage errors: no file, -s negative, -t six times', async () => {
    for (const args of [['-n'], ['-s', '-1', tcp], ['-tttttt', tcp]]) {
      const code = await new Promise<number | null>((resolve) => {
        const c = spawn(process.execPath, [BIN, 'read', ...args], { stdio: 'ignore' });
        c.on('close', resolve);
      });
      expect({ args, code }).toEqual({ args, code: 2 });
    }
  });
});

(isRoot && haveTools ? describe : describe.skip)('read text = tcpdump on fresh namespace traffic', () => {
  const P = testPrefix('par');
  const A = `${P}a`;
  const B = `${P}b`;
  let dir = '';
  let file = '';

  beforeAll(async () => {
    cleanupPrefix(P);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-parity-'));
    file = path.join(dir, 'fresh.pcap');
    execFileSync('ip', ['netns', 'add', A]);
    execFileSync('ip', ['netns', 'add', B]);
    execFileSync('ip', ['-n', A, 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'b0', 'netns', B]);
    for (const [ns, ifc, addr] of [
      [A, 'a0', '10.244.77.1/24'],
      [B, 'b0', '10.244.77.2/24'],
    ]) {
      nsExec(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
      nsExec(ns, 'ip', ['link', 'set', 'lo', 'up']);
      nsExec(ns, 'ip', ['addr', 'add', addr, 'dev', ifc]);
    }
    nsExec(B, 'ip', ['link', 'set', 'b0', 'up']);
    nsExec(B, 'ip', ['link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local', '10.244.77.2', 'remote', '10.244.77.1', 'dev', 'b0']);
    nsExec(B, 'ip', ['addr', 'add', '10.244.78.2/24', 'dev', 'vx0']);
    nsExec(B, 'ip', ['link', 'set', 'vx0', 'up']);
    nsExec(A, 'ip', ['link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local', '10.244.77.1', 'remote', '10.244.77.2', 'dev', 'a0']);
    nsExec(A, 'ip', ['addr', 'add', '10.244.78.1/24', 'dev', 'vx0']);

    nsExec(A, 'ip', ['link', 'set', 'a0', 'up']);
    const td = spawn('ip', ['netns', 'exec', A, 'tcpdump', '-i', 'a0', '--immediate-mode', '-s', '0', '-U', '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      td.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('listening on')) resolve();
      });
      td.on('close', () => reject(new Error(`tcpdump ended: ${err}`)));
    });
    nsExec(A, 'ip', ['link', 'set', 'vx0', 'up']);
    nsExec(A, 'ip', ['addr', 'add', '239.1.2.3/32', 'dev', 'a0', 'autojoin']); // IGMP report
    nsExec(A, 'ip', ['-6', 'addr', 'add', 'ff0e::1:2/128', 'dev', 'a0', 'autojoin']); // MLDv2 report
    nsExec(A, 'ping', ['-c', '2', '-i', '0.2', '10.244.77.2']); // ARP + ICMP echo
    nsExec(A, 'ping', ['-c', '1', '-s', '3000', '10.244.77.2']); // IPv4 fragments
    nsExec(A, 'ping', ['-c', '1', '10.244.78.2']); // VXLAN
    nsExec(A, 'bash', ['-c', 'printf hello >/dev/udp/10.244.77.2/40404']); // UDP + ICMP port unreachable
    nsExec(A, 'bash', ['-c', 'exec 3<>/dev/tcp/10.244.77.2/40405 || true']); // TCP SYN, RST
    // A TCP exchange with data: a one-shot server in B.
    const srv = spawn('ip', ['netns', 'exec', B, process.execPath, '-e', `
      const s = require('net').createServer((c) => c.on('data', (d) => c.end('reply:' + d)));
      s.listen(40406, '10.244.77.2', () => console.log('ready'));
      setTimeout(() => process.exit(0), 10000);`], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((resolve) => srv.stdout.once('data', () => resolve()));
    nsExec(A, 'bash', ['-c', 'exec 3<>/dev/tcp/10.244.77.2/40406; printf "hello\\n" >&3; cat <&3 >/dev/null']);
    srv.kill();
    // One more echo as an end marker: once tcpdump has written it, everything before is in the file.
    nsExec(A, 'ping', ['-c', '1', '-p', 'ee', '10.244.77.2']);
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline && !(fs.existsSync(file) && execFileSync('tcpdump', ['-nn', '-r', file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().split('\n').filter((l) => l.includes('echo reply')).length >= 5)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    td.kill('SIGTERM');
    await new Promise((r) => td.once('close', r));
  }, 60000);

  afterAll(() => {
    cleanupPrefix(P);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('line for line, with and without -e, relative and absolute sequence numbers', async () => {
    const theirs = await tcpdump(['-nn', '-r', file]);
    const text = theirs.join('\n');
    for (const kind of ['ARP, Request', 'igmp v3 report', 'multicast listener report v2', 'ICMP echo request', 'ip-proto-1', 'udp port 40404 unreachable', 'Flags [S]', 'Flags [R.]', 'VXLAN', 'length 6']) {
      expect({ kind, seen: text.includes(kind) }).toEqual({ kind, seen: true });
    }
    expect(await netscope(['-nn', '-r', file])).toEqual(theirs);
    expect(await netscope(['-e', file])).toEqual(await tcpdump(['-nn', '-e', '-r', file]));
    expect(await netscope(['-S', file])).toEqual(await tcpdump(['-nn', '-S', '-r', file]));
  });
});
