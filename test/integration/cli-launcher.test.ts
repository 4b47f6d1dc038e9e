/**
 * bin/netscope, the sh/Node launcher: run through sh it drops NODE_EXTRA_CA_CERTS (Node would parse every
 * certificate in it before running anything) and runs the CLI; through a symlink (npm link) too.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'netscope');

describe('bin/netscope launcher', () => {
  let tmp: string;
  beforeAll(() => {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('run `npm run build` first');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-launcher-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('drops NODE_EXTRA_CA_CERTS before node starts', () => {
    // A `node` first on PATH that reports the variable it was started with, then runs the real node.
    const dir = path.join(tmp, 'bin');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'node'), `#!/bin/sh\necho "NODE_EXTRA_CA_CERTS=\${NODE_EXTRA_CA_CERTS-unset}" >&2\nexec ${process.execPath} "$@"\n`, { mode: 0o755 });
    const env = { ...process.env, PATH: `${dir}:${process.env.PATH}`, NODE_EXTRA_CA_CERTS: path.join(tmp, 'certs.pem'), TZ: 'UTC' };
    const r = spawnSync(BIN, ['read', path.join(ROOT, 'fixtures', 'pcap', 'icmp.pcap'), '-c', '1'], { env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('NODE_EXTRA_CA_CERTS=unset\n');
    expect(r.stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{6} IP 10\.244\.1\.1 > 10\.244\.1\.2: ICMP echo request/);
  });

  it('runs through a symlink from another directory', () => {
    const link = path.join(tmp, 'netscope');
    fs.symlinkSync(BIN, link);
    const r = spawnSync(link, ['--version'], { cwd: tmp, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });
});
