/**
 * bin/netscope started from the startup snapshot (docs/startup.md) against `node bin/netscope` (no snapshot):
 * byte-identical output and exit codes for read in every mode on the fixture captures, stdin, errors and help;
 * run-time TZ and locale; the launcher's choice (traced with sh -x) for a symlinked launcher, a blob built by
 * another node (falls back) and a copied checkout (falls back inside the snapshot). Needs `npm run build`.
 */
import { spawn, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const REPO = path.resolve(__dirname, '..', '..');
const BIN = path.join(REPO, 'bin', 'netscope');
const SNAP = path.join(REPO, 'dist', 'snapshot');
const PCAPS = path.join(REPO, 'fixtures', 'pcap');

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs argv (asynchronously, so both cores are used); env is added to the test's environment. */
/** The environment the commands run in: NODE_OPTIONS (if the machine sets one) would keep the launcher off the blob. */
const BASE_ENV: NodeJS.ProcessEnv = { ...process.env };
delete BASE_ENV.NODE_OPTIONS;

function exec(argv: string[], env: NodeJS.ProcessEnv = {}, input?: Buffer, cwd = REPO): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env: { ...BASE_ENV, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) =>
      resolve({ status, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString() }),
    );
    child.stdin.end(input);
  });
}

const viaSnapshot = (args: string[], env?: NodeJS.ProcessEnv, input?: Buffer): Promise<Result> => exec([BIN, ...args], env, input);
const viaNode = (args: string[], env?: NodeJS.ProcessEnv, input?: Buffer): Promise<Result> =>
  exec([process.execPath, BIN, ...args], env, input);

async function expectSame(args: string[], env?: NodeJS.ProcessEnv, input?: Buffer): Promise<Result> {
  const [a, b] = await Promise.all([viaSnapshot(args, env, input), viaNode(args, env, input)]);
  expect({ args, ...a }).toEqual({ args, ...b });
  return a;
}

/** The command the launcher execs, from `sh -x` (the launcher is a sh script first). */
function launcherExec(launcher: string, cwd = REPO, env: NodeJS.ProcessEnv = BASE_ENV): string {
  const r = spawnSync('sh', ['-x', launcher, '--version'], { cwd, encoding: 'utf8', env });
  expect(r.status).toBe(0);
  const line = r.stderr.split('\n').find((l) => /^\+ exec \S*node /.test(l));
  if (line === undefined) throw new Error(`no exec in the launcher trace:\n${r.stderr}`);
  return line;
}

describe('netscope from the startup snapshot', () => {
  const tmp: string[] = [];
  afterAll(() => {
    for (const d of tmp) fs.rmSync(d, { recursive: true, force: true });
  });
  const tempDir = (): string => {
    const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'nst-snapcli-')));
    tmp.push(d);
    return d;
  };

  it('was built with this node, and the launcher uses it', () => {
    expect(fs.existsSync(path.join(SNAP, 'netscope.blob'))).toBe(true); // else: npm run build (and read its output)
    expect(fs.realpathSync(path.join(SNAP, 'node'))).toBe(fs.realpathSync(process.execPath));
    expect(launcherExec(BIN)).toMatch(/^\+ exec \S*node --snapshot-blob \S+\/dist\/snapshot\/netscope\.blob /);
    // And it is not older than dist (else it hands over to dist and the comparisons below prove nothing).
    const bundle = fs.readFileSync(path.join(SNAP, 'bundle.js'), 'utf8');
    const stamps = JSON.parse(/"stamps":(\{[^}]*\})/.exec(bundle)?.[1] ?? '{}') as Record<string, [number, number]>;
    expect(Object.keys(stamps)).toContain(path.join(REPO, 'dist', 'cli', 'commands', 'read.js'));
    const stale = Object.entries(stamps).filter(([f, [mtime, size]]) => {
      const st = fs.statSync(f, { throwIfNoEntry: false });
      return st === undefined || st.mtimeMs !== mtime || st.size !== size;
    });
    expect(stale.map(([f]) => path.relative(REPO, f))).toEqual([]); // else: npm run build
  });

  const files = fs.readdirSync(PCAPS).filter((f) => /\.pcap(ng)?$/.test(f));

  it.each(['', '--json'])('prints every fixture the same (read %s)', async (mode) => {
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) await expectSame(['read', path.join(PCAPS, f), ...(mode ? [mode] : [])]);
  });

  it.each([
    ['--summary'],
    ['--summary', '--json'],
    ['--flows'],
    ['--flows', '--json'],
    ['--flows', '--sort', 'packets', '--top', '1'],
    ['-e', '-c', '3'],
    ['tcp', 'or', 'icmp'],
  ])('prints the same with %s', async (...mode) => {
    for (const f of ['tcp.pcap', 'multi.pcapng', 'vxlan.pcap', 'icmp-errors.pcap', 'frag.pcap']) {
      await expectSame(['read', path.join(PCAPS, f), ...mode]);
    }
  });

  it('reads stdin the same', async () => {
    const input = fs.readFileSync(path.join(PCAPS, 'tcp.pcapng'));
    const r = await expectSame(['read', '-', '--json'], {}, input);
    expect(r.stdout.split('\n').length).toBeGreaterThan(5);
  });

  it('uses the run-time time zone (TZ), not the build one', async () => {
    const args = ['read', path.join(PCAPS, 'tcp.pcap'), '-c', '1'];
    const utc = await expectSame(args, { TZ: 'UTC' });
    const tokyo = await expectSame(args, { TZ: 'Asia/Tokyo' });
    expect(utc.stdout.slice(0, 15)).toBe('07:34:59.291359');
    expect(tokyo.stdout.slice(0, 15)).toBe('16:34:59.291359');
  });

  it('uses the run-time locale for parser messages', async () => {
    const r = await expectSame(['read'], { LANG: 'fr_FR.UTF-8', LC_ALL: '', LC_MESSAGES: '' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Pas assez d'arguments");
  });

  it.each([
    [['read', '/nonexistent/x.pcap'], 1],
    [['read', path.join(PCAPS, 'tcp.pcap'), 'port', 'banana'], 2],
    [['read', path.join(PCAPS, 'tcp.pcap'), '-c', '0'], 2],
    [['read'], 2],
    [['reed', 'x'], 2],
    [['read', path.join(PCAPS, 'tcp.pcap'), '--bogus'], 2],
  ] as [string[], number][])('reports %j in one line with exit %i, as without it', async (args, code) => {
    const r = await expectSame(args);
    expect(r.status).toBe(code);
    expect(r.stderr).toMatch(/^netscope: [^\n]+\n(Run "netscope --help" for usage\.\n)?$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints the same help and version (commands not in the snapshot load from dist)', async () => {
    for (const args of [['--help'], ['read', '--help'], ['capture', '--help'], ['topo', '--help'], ['--version']]) {
      const r = await expectSame(args);
      expect(r.status).toBe(0);
    }
  });

  it('follows a symlinked launcher (as npm links bin/) to the snapshot', async () => {
    const link = path.join(tempDir(), 'netscope');
    fs.symlinkSync(BIN, link);
    expect(launcherExec(link, os.tmpdir())).toContain('--snapshot-blob');
    const r = await exec([link, 'read', path.join(PCAPS, 'udp.pcap')]);
    expect(r).toEqual(await viaNode(['read', path.join(PCAPS, 'udp.pcap')]));
  });

  /** A checkout copy: its own bin/ and dist/snapshot/, everything else of dist/ linked to the real one. */
  function copyCheckout(nodeLinkTarget: string, patchBlob: (b: Buffer) => Buffer = (b) => b): string {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'bin'));
    fs.copyFileSync(BIN, path.join(root, 'bin', 'netscope'));
    fs.mkdirSync(path.join(root, 'dist', 'snapshot'), { recursive: true });
    for (const e of fs.readdirSync(path.join(REPO, 'dist'))) {
      if (e !== 'snapshot') fs.symlinkSync(path.join(REPO, 'dist', e), path.join(root, 'dist', e));
    }
    fs.writeFileSync(path.join(root, 'dist', 'snapshot', 'netscope.blob'), patchBlob(fs.readFileSync(path.join(SNAP, 'netscope.blob'))));
    fs.symlinkSync(nodeLinkTarget, path.join(root, 'dist', 'snapshot', 'node'));
    fs.copyFileSync(path.join(SNAP, 'node.stamp'), path.join(root, 'dist', 'snapshot', 'node.stamp'));
    // The stamp's time to the nanosecond, as the launcher's -nt/-ot compare it.
    spawnSync('touch', ['-r', path.join(SNAP, 'node.stamp'), path.join(root, 'dist', 'snapshot', 'node.stamp')]);
    return root;
  }

  it('starts the ordinary way when NODE_OPTIONS is set (V8 flags there make node refuse any blob)', async () => {
    const env = { ...process.env, NODE_OPTIONS: '--max-old-space-size=4096' };
    expect(launcherExec(BIN, REPO, env)).not.toContain('--snapshot-blob');
    const args = ['read', path.join(PCAPS, 'tcp.pcap'), '--flows'];
    const r = await exec([BIN, ...args], env);
    expect(r.status).toBe(0);
    expect(r).toEqual(await viaNode(args, env));
  });

  it('does not use the blob when the node binary was replaced in place (an upgrade keeps the path)', () => {
    const root = copyCheckout(fs.realpathSync(process.execPath));
    const launcher = path.join(root, 'bin', 'netscope');
    expect(launcherExec(launcher)).toContain('--snapshot-blob');
    // The stamp carries the building binary's modification time; a replaced binary has another one.
    const stamp = path.join(root, 'dist', 'snapshot', 'node.stamp');
    fs.utimesSync(stamp, new Date(2000, 0, 1), new Date(2000, 0, 1));
    expect(launcherExec(launcher)).not.toContain('--snapshot-blob');
  });

  it('does not use a blob built by another node (starts the ordinary way)', async () => {
    // What a node upgrade leaves behind: the blob names the old version, the link the old binary.
    const version = Buffer.from(process.version.slice(1));
    const root = copyCheckout('/bin/sh', (b) => {
      const at = b.indexOf(version);
      expect(at).toBeGreaterThan(0);
      const stale = Buffer.from(b);
      stale.write('0.0.0'.padEnd(version.length, '0'), at, 'latin1');
      return stale;
    });
    const launcher = path.join(root, 'bin', 'netscope');
    expect(launcherExec(launcher)).not.toContain('--snapshot-blob');
    const args = ['read', path.join(PCAPS, 'icmp.pcap'), '--summary'];
    expect(await exec([launcher, ...args])).toEqual(await viaNode(args));
  });

  it("runs a copied checkout's own files, not the snapshot's", async () => {
    const root = copyCheckout(fs.realpathSync(process.execPath));
    const launcher = path.join(root, 'bin', 'netscope');
    expect(launcherExec(launcher)).toContain('--snapshot-blob'); // the blob is fine for this node…
    const args = ['read', path.join(PCAPS, 'arp.pcap'), '--json'];
    const r = await exec([launcher, ...args]);
    expect(r).toEqual(await viaNode(args)); // …and the snapshot hands over to this checkout's dist
  });
});
