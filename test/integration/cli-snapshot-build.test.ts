/**
 * The snapshot machinery (src/cli/snapshotBundle.ts + snapshotRuntime.ts, compiled in dist/) on a small
 * made-up checkout: bundle, `node --build-snapshot`, then start from the blob. Checks what is evaluated when
 * (build vs run time), that requires resolve as node's would, that modules loaded from disk at run time share
 * the bundled ones, that a load-time read of TZ fails the build, and the fallback for another checkout.
 * Needs `npm run build` (dist/).
 */
import { spawnSync, type SpawnSyncReturns } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const REPO = path.resolve(__dirname, '..', '..');
const BUNDLER = path.join(REPO, 'dist', 'cli', 'snapshotBundle.js');

interface Tree {
  root: string;
  blob: string;
}

function write(root: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    const f = path.join(root, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, text);
  }
}

/** A checkout with an entry (dist/main.js), a package dependency with a JSON file, a lazy module, a disk-only one. */
function makeTree(extra: Record<string, string> = {}): string {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'nst-snap-')));
  write(root, {
    'bin/netscope': "require('../dist/main.js').main(process.argv.slice(2), 'disk');\n",
    'dist/main.js': [
      "'use strict';",
      "const dep = require('dep');",
      "const table = require('./table.json');",
      'exports.builtPid = process.pid;',
      'exports.main = function (argv, how) {',
      "  const lazy = require('./lazy');",
      "  const extra = require(require('path').join(__dirname, 'disk', 'extra.js'));",
      '  process.stdout.write(JSON.stringify({',
      "    how: how || 'snapshot', argv, script: process.argv[1], dep: dep.name, table,",
      '    mainEvaluatedHere: exports.builtPid === process.pid, depEvaluatedHere: dep.pid === process.pid,',
      '    lazyEvaluatedHere: lazy.pid === process.pid, lazyTz: lazy.tz, hours: new Date(0).getHours(),',
      '    sharedDep: extra.dep === dep, execArgv: process.execArgv,',
      '  }));',
      '};',
      '',
    ].join('\n'),
    'dist/table.json': '{ "rows": [1, 2] }\n',
    'dist/lazy.js': 'exports.pid = process.pid;\nexports.tz = process.env.TZ;\n',
    'dist/disk/extra.js': "exports.dep = require('dep');\n",
    'node_modules/dep/package.json': '{ "name": "dep", "main": "lib/index.js" }\n',
    'node_modules/dep/lib/index.js': "exports.name = 'dep';\nexports.pid = process.pid;\n",
    ...extra,
  });
  return root;
}

function buildBlob(root: string): SpawnSyncReturns<string> & { blob: string } {
  const bundle = path.join(root, 'dist', 'bundle.js');
  const blob = path.join(root, 'dist', 'test.blob');
  const options = {
    root,
    main: path.join(root, 'dist/main.js'),
    eager: [path.join(root, 'dist/main.js')],
    lazy: [path.join(root, 'dist/lazy.js')],
    warmUp: undefined,
    allowedStateReads: {},
    out: bundle,
  };
  const w = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(BUNDLER)}).writeSnapshotBundle(${JSON.stringify(options)})`], {
    encoding: 'utf8',
  });
  if (w.status !== 0) return { ...w, blob };
  return { ...spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', bundle], { encoding: 'utf8', cwd: root }), blob };
}

function run(blob: string, script: string, args: string[], env: NodeJS.ProcessEnv = {}): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--snapshot-blob', blob, script, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('startup snapshot of a made-up checkout', () => {
  const roots: string[] = [];
  let tree: Tree;

  beforeAll(() => {
    expect(fs.existsSync(BUNDLER)).toBe(true); // npm run build first
    const root = makeTree();
    roots.push(root);
    const b = buildBlob(root);
    expect(b.stderr).toBe('');
    expect(b.status).toBe(0);
    tree = { root, blob: b.blob };
  }, 60_000);

  afterAll(() => {
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  });

  it('runs main from the snapshot with the run-time argv, environment and time zone', () => {
    const script = path.join(tree.root, 'bin', 'netscope');
    const out = run(tree.blob, script, ['read', 'x', '-c', '1'], { TZ: 'Asia/Tokyo' });
    expect(out).toMatchObject({
      how: 'snapshot',
      argv: ['read', 'x', '-c', '1'],
      script,
      dep: 'dep',
      table: { rows: [1, 2] },
      hours: 9,
      lazyTz: 'Asia/Tokyo',
      sharedDep: true,
      execArgv: [],
    });
    expect(run(tree.blob, script, [], { TZ: 'UTC' })).toMatchObject({ hours: 0, lazyTz: 'UTC' });
  });

  it('evaluated the eager modules at build, the lazy ones at run time', () => {
    const out = run(tree.blob, path.join(tree.root, 'bin', 'netscope'), []);
    expect(out).toMatchObject({ mainEvaluatedHere: false, depEvaluatedHere: false, lazyEvaluatedHere: true });
  });

  it('takes a relative launcher path as node would (made absolute)', () => {
    const r = spawnSync(process.execPath, ['--snapshot-blob', tree.blob, 'bin/netscope', 'a'], { encoding: 'utf8', cwd: tree.root });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ how: 'snapshot', script: path.join(tree.root, 'bin', 'netscope') });
  });

  it("runs another checkout's launcher the ordinary way (from its own files)", () => {
    const other = makeTree();
    roots.push(other);
    const out = run(tree.blob, path.join(other, 'bin', 'netscope'), ['x']);
    expect(out).toMatchObject({ how: 'disk', argv: ['x'], mainEvaluatedHere: true, depEvaluatedHere: true });
  });

  it('stands aside when a bundled file changed after the build (dist rebuilt by tsc alone)', () => {
    const root = makeTree();
    roots.push(root);
    const b = buildBlob(root);
    expect(b.status).toBe(0);
    const script = path.join(root, 'bin', 'netscope');
    expect(run(b.blob, script, [])).toMatchObject({ how: 'snapshot' });
    const lazy = path.join(root, 'dist', 'lazy.js');
    fs.writeFileSync(lazy, `${fs.readFileSync(lazy, 'utf8')}exports.changed = true;\n`);
    expect(run(b.blob, script, ['y'])).toMatchObject({ how: 'disk', argv: ['y'], lazyEvaluatedHere: true });
  });

  it('refuses to build when an eager module reads TZ at load, naming the module', () => {
    const bad = makeTree({ 'node_modules/dep/lib/index.js': "exports.name = 'dep';\nexports.tz = process.env.TZ;\n" });
    roots.push(bad);
    const b = buildBlob(bad);
    expect(b.status).not.toBe(0);
    expect(b.stderr).toContain('node_modules/dep/lib/index.js: env.TZ');
    expect(fs.existsSync(b.blob)).toBe(false);
  });

  it('refuses native modules (cap)', () => {
    const cap = JSON.stringify(path.join(REPO, 'node_modules', 'cap'));
    const nat = makeTree({ 'dist/main.js': `require(${cap});\nexports.main = () => undefined;\n` });
    roots.push(nat);
    const b = buildBlob(nat);
    expect(b.status).not.toBe(0);
    expect(b.stderr).toMatch(/native modules cannot be in a snapshot: .*\.node/);
  });
});
