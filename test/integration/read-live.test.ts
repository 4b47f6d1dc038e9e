/**
 * `netscope read` on traffic captured during the test (namespaces nst<worker>rd*, 10.244.77.0/24):
 *  - a live stream: `tcpdump -U -w -` piped into `netscope read - -c N`, which must print packets as they
 *    arrive and exit by itself after N matches although the pipe never ends;
 *  - a fresh capture file (ARP + ICMP echo) read from disk and from stdin, line for line equal to `tcpdump -nn -r`.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { cleanupPrefix, isRoot, nsExec, sh, testPrefix } from '../helpers/netns';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'netscope');
const ENV = { ...process.env, TZ: 'UTC' };
const P = testPrefix('rd');
const NS_A = `${P}a`;
const NS_B = `${P}b`;
const IF_A = `${P}va`;
const IF_B = `${P}vb`;

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

/** Starts tcpdump in a namespace writing a pcap stream to its stdout; resolves once it is capturing. */
function startTcpdump(ns: string, iface: string, extra: string[] = []): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', iface, '--immediate-mode', '-U', '-w', '-', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    const onData = (d: Buffer): void => {
      err += d.toString();
      if (err.includes('listening on')) {
        child.stderr?.off('data', onData);
        resolve(child);
      }
    };
    child.stderr?.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`tcpdump exited ${code}: ${err}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('close', () => resolve());
    child.kill('SIGTERM'); // tcpdump in immediate mode sleeps through SIGINT
  });
}

const d = isRoot ? describe : describe.skip;

d('read on fresh captures', () => {
  let tmp: string;
  const owned: ChildProcess[] = [];

  beforeAll(() => {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
    cleanupPrefix(P);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-read-live-'));
    sh('ip', ['netns', 'add', NS_A]);
    sh('ip', ['netns', 'add', NS_B]);
    // IPv4 only: IPv6 autoconfiguration noise (MLD reports) is printed differently by tcpdump and netscope.
    for (const ns of [NS_A, NS_B]) nsExec(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    sh('ip', ['-n', NS_A, 'link', 'add', IF_A, 'type', 'veth', 'peer', 'name', IF_B, 'netns', NS_B]);
    nsExec(NS_A, 'ip', ['addr', 'add', '10.244.77.1/24', 'dev', IF_A]);
    nsExec(NS_B, 'ip', ['addr', 'add', '10.244.77.2/24', 'dev', IF_B]);
    nsExec(NS_A, 'ip', ['link', 'set', IF_A, 'up']);
    nsExec(NS_B, 'ip', ['link', 'set', IF_B, 'up']);
  });

  afterAll(async () => {
    for (const c of owned) await stop(c);
    cleanupPrefix(P);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('streams a live tcpdump pipe and exits by itself after -c N', async () => {
    const td = await startTcpdump(NS_A, IF_A);
    owned.push(td);
    const ns = spawn(process.execPath, [BIN, 'read', '-', '-c', '4', 'icmp'], { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    owned.push(ns);
    td.stdout?.pipe(ns.stdin as NodeJS.WritableStream);
    ns.stdin?.on('error', () => undefined);
    let out = '';
    let err = '';
    const firstLine = new Promise<number>((resolve) => {
      ns.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        resolve(Date.now());
      });
    });
    ns.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((resolve) => ns.on('close', resolve));
    // One echo exchange: its lines must come out while the pipe is still open and -c 4 not reached.
    let exitedEarly = false;
    void exited.then(() => (exitedEarly = true));
    nsExec(NS_A, 'ping', ['-c', '1', '-W', '1', '10.244.77.2']);
    await Promise.race([firstLine, new Promise((_, reject) => setTimeout(() => reject(new Error('no output within 10 s')), 10000))]);
    expect(exitedEarly).toBe(false);
    // The second exchange completes -c 4: netscope must exit although tcpdump keeps the pipe open.
    nsExec(NS_A, 'ping', ['-c', '1', '-W', '1', '10.244.77.2']);
    const code = await exited;
    expect(code).toBe(0);
    expect(err).toBe('');
    const got = lines(out);
    expect(got).toHaveLength(4);
    expect(got[0]).toMatch(/IP 10\.244\.77\.1 > 10\.244\.77\.2: ICMP echo request, id \d+, seq 1, length 64$/);
    expect(got[1]).toMatch(/IP 10\.244\.77\.2 > 10\.244\.77\.1: ICMP echo reply, id \d+, seq 1, length 64$/);
    await stop(td);
  });

  it('reads a fresh capture from disk and stdin exactly as tcpdump -nn prints it', async () => {
    const file = path.join(tmp, 'fresh.pcap');
    const td = await startTcpdump(NS_B, IF_B);
    owned.push(td);
    const out = fs.createWriteStream(file);
    td.stdout?.pipe(out);
    nsExec(NS_A, 'ip', ['neigh', 'flush', 'dev', IF_A]);
    nsExec(NS_A, 'ping', ['-c', '3', '-i', '0.2', '10.244.77.2']);
    await new Promise((r) => setTimeout(r, 300));
    await stop(td);
    await new Promise((r) => out.close(r));
    const expected = execFileSync('tcpdump', ['-nn', '-r', file], { env: ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(expected).toMatch(/ARP, Request who-has 10\.244\.77\.2 tell 10\.244\.77\.1/);
    // 3 echo exchanges and the ARP that resolved them (a neighbour refresh may add another ARP pair).
    expect(lines(expected).filter((l) => / ICMP echo (request|reply)/.test(l))).toHaveLength(6);
    expect(lines(expected).length).toBeGreaterThanOrEqual(8);
    const fromFile = execFileSync(process.execPath, [BIN, 'read', file], { env: ENV, encoding: 'utf8' });
    const fromStdin = execFileSync(process.execPath, [BIN, 'read', '-'], { env: ENV, encoding: 'utf8', input: fs.readFileSync(file) });
    expect(fromFile).toBe(expected);
    expect(fromStdin).toBe(expected);
  });
});
