/**
 * The packed package installs and runs: `npm pack` of this checkout (its built dist/), `npm install -g` of
 * the tarball into a temporary prefix from the npm cache (--prefer-offline: the dependencies are cached by
 * `npm ci`), which builds the libpcap binding from native/ + binding.gyp with the machine's toolchain; then
 * `netscope --version` and `netscope read FIXTURE` from another directory, the man pages, completion.
 */
import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; man: string[] };
let tmp: string;
let prefix: string;
let bin: string;

/** The environment without npm's own npm_* variables (jest may run under `npm test`). */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'man', 'netscope.1'))) throw new Error('run `npm run build` first (the package ships dist/)');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-pkg-'));
  prefix = path.join(tmp, 'prefix');
  // --ignore-scripts: pack what is built (prepack would rebuild it).
  const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: ROOT, encoding: 'utf8', env: cleanEnv() });
  const tarball = path.join(tmp, (JSON.parse(packed) as { filename: string }[])[0].filename);
  const r = spawnSync(
    'npm',
    ['install', '-g', '--prefix', prefix, '--prefer-offline', '--allow-scripts=netscope', '--no-audit', '--no-fund', '--loglevel=error', tarball],
    { cwd: tmp, encoding: 'utf8', env: cleanEnv(), timeout: 170_000 },
  );
  if (r.status !== 0) throw new Error(`npm install -g failed (${r.status}): ${r.stderr.slice(-2000)}`);
  bin = path.join(prefix, 'bin', 'netscope');
}, 180_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('installed package', () => {
  it('runs from another directory: --version, and read of a fixture as the checkout reads it', () => {
    const elsewhere = fs.mkdtempSync(path.join(tmp, 'cwd-'));
    const env = cleanEnv({ TZ: 'UTC', PATH: `${path.join(prefix, 'bin')}:${process.env.PATH}` });
    expect(execFileSync('netscope', ['--version'], { cwd: elsewhere, encoding: 'utf8', env }).trim()).toBe(pkg.version);
    const fixture = path.join(ROOT, 'fixtures', 'flows', 'basic.pcap');
    const installed = execFileSync('netscope', ['read', fixture], { cwd: elsewhere, encoding: 'utf8', env });
    const checkout = execFileSync(process.execPath, [path.join(ROOT, 'bin', 'netscope'), 'read', fixture], { encoding: 'utf8', env });
    expect(installed.split('\n').length).toBeGreaterThan(40);
    expect(installed).toBe(checkout);
    expect(fs.realpathSync(bin)).toBe(path.join(prefix, 'lib', 'node_modules', 'netscope', 'bin', 'netscope'));
  });

  it('built the libpcap binding from native/ at install', () => {
    const mod = path.join(prefix, 'lib', 'node_modules', 'netscope', 'dist', 'libpcap', 'handle.js');
    const v = execFileSync(process.execPath, ['-e', `process.stdout.write(String(require(${JSON.stringify(mod)}).nativePcap().libVersion))`], { encoding: 'utf8' });
    expect(v).toMatch(/^libpcap version \d/);
  });

  it('installed the man pages where man finds them', () => {
    const dir = path.join(prefix, 'share', 'man', 'man1');
    expect(fs.readdirSync(dir).sort()).toEqual(pkg.man.map((m) => path.basename(m)).sort());
    const where = execFileSync('man', ['-w', 'netscope-read'], { encoding: 'utf8', env: cleanEnv({ MANPATH: path.join(prefix, 'share', 'man') }) });
    expect(fs.realpathSync(where.trim())).toBe(path.join(prefix, 'lib', 'node_modules', 'netscope', 'dist', 'man', 'netscope-read.1'));
  });

  it('completion works from the installed copy', () => {
    const script = ['source <(netscope completion bash)', "COMP_WORDS=(netscope re)", 'COMP_CWORD=1', '_netscope_complete', 'printf "%s\\n" "${COMPREPLY[@]}"'].join('\n');
    const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], {
      cwd: tmp,
      encoding: 'utf8',
      env: cleanEnv({ PATH: `${path.join(prefix, 'bin')}:${process.env.PATH}` }),
    });
    expect(r.stdout.split('\n').filter((l) => l)).toEqual(['read', 'replay']);
  });
});

describe('package.json', () => {
  it('lists every man page the build writes', () => {
    const built = fs.readdirSync(path.join(ROOT, 'dist', 'man')).map((f) => `dist/man/${f}`);
    expect([...pkg.man].sort()).toEqual(built.sort());
  });
});
