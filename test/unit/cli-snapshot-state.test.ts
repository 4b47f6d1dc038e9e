/**
 * The snapshot build's guard against module-scope reads of run-time state (src/cli/snapshotRuntime.ts):
 * what it notices, whom it blames, and that it puts everything back.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { unexpectedStateReads, watchStateReads, type StateRead } from '../../src/cli/snapshotRuntime';

const ROOT = path.resolve(__dirname, '..', '..');

function watch(body: () => void, module = 'dist/x.js'): StateRead[] {
  return watchStateReads(ROOT, () => module, body);
}

const whats = (reads: StateRead[]): string[] => reads.map((r) => r.what);

describe('watchStateReads', () => {
  it('notices environment variables, by name, whether read or tested', () => {
    const reads = watch(() => {
      void process.env.TZ;
      void ('LANG' in process.env);
      void Object.keys(process.env);
    });
    expect(whats(reads)).toEqual(['env.TZ', 'env.LANG', 'env (all keys)']);
  });

  it('notices the clock and anything that converts to local time (TZ)', () => {
    const fixed = new Date(0); // made before watching: a fixed instant is not state
    const reads = watch(() => {
      void new Date();
      void Date.now();
      void new Date(1700000000000).getTime(); // UTC value: fine
      void fixed.getUTCHours(); // fine
      void fixed.getHours();
      void fixed.getTimezoneOffset();
      void new Intl.DateTimeFormat();
    });
    expect(whats(reads)).toEqual([
      'new Date() (the clock)',
      'Date.now() (the clock)',
      'Date.prototype.getHours (the local time zone)',
      'Date.prototype.getTimezoneOffset (the local time zone)',
      'Intl.DateTimeFormat (locale and time zone)',
    ]);
  });

  it('notices argv, cwd, the std streams, the user and host, and files outside the checkout', () => {
    const reads = watch(() => {
      void process.argv.length;
      void process.cwd();
      void process.stdout.columns;
      void os.homedir();
      void os.hostname();
      fs.existsSync('/etc/hostname');
      fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'); // inside the checkout: part of the build
    });
    expect(whats(reads)).toEqual([
      'process.argv',
      'process.cwd()',
      'process.stdout',
      'os.homedir()',
      'os.hostname()',
      'fs.existsSync(file /etc/hostname)',
    ]);
  });

  it('blames the module current() names and reports each read once per module', () => {
    let current = 'dist/a.js';
    const reads = watchStateReads(ROOT, () => current, () => {
      void process.env.HOME;
      void process.env.HOME;
      current = 'node_modules/b/index.js';
      void process.env.HOME;
    });
    expect(reads).toEqual([
      { module: 'dist/a.js', what: 'env.HOME' },
      { module: 'node_modules/b/index.js', what: 'env.HOME' },
    ]);
  });

  it('puts everything back, also when the body throws', () => {
    const env = process.env;
    const RealDate = Date;
    const cwd = process.cwd;
    const readFileSync = fs.readFileSync;
    const getHours = Object.getOwnPropertyDescriptor(Date.prototype, 'getHours');
    expect(() =>
      watch(() => {
        throw new Error('module failed');
      }),
    ).toThrow('module failed');
    expect(process.env).toBe(env);
    expect(Date).toBe(RealDate);
    expect(process.cwd).toBe(cwd);
    expect(fs.readFileSync).toBe(readFileSync);
    expect(Object.getOwnPropertyDescriptor(Date.prototype, 'getHours')).toEqual(getHours);
    expect(Object.getOwnPropertyDescriptor(process, 'argv')?.get).toBeUndefined();
    // And reads after watching are not recorded anywhere (nothing is left wrapped).
    const reads = watch(() => undefined);
    void process.env.TZ;
    expect(reads).toEqual([]);
  });

  it('keeps Date working inside the body (constructing, instanceof, statics)', () => {
    let ok = false;
    watch(() => {
      const d = new Date(86_400_000);
      ok = d instanceof Date && d.toISOString() === '1970-01-02T00:00:00.000Z' && Date.UTC(1970, 0, 2) === 86_400_000;
    });
    expect(ok).toBe(true);
  });
});

describe('unexpectedStateReads', () => {
  it('drops the reads listed for their module and keeps the rest', () => {
    const reads: StateRead[] = [
      { module: 'node_modules/yargs/index.cjs', what: 'process.argv' },
      { module: 'node_modules/yargs/index.cjs', what: 'env.TZ' },
      { module: 'dist/cli/commands/read.js', what: 'process.argv' },
    ];
    expect(unexpectedStateReads(reads, { 'node_modules/yargs/index.cjs': ['process.argv'] })).toEqual([
      { module: 'node_modules/yargs/index.cjs', what: 'env.TZ' },
      { module: 'dist/cli/commands/read.js', what: 'process.argv' },
    ]);
  });
});
