/**
 * The code that runs inside netscope's V8 startup snapshot (docs/startup.md). The bundle written by
 * snapshotBundle.ts holds the CLI's CommonJS modules as functions; this module loads them with a small
 * CommonJS loader, at snapshot build time (`node --build-snapshot`, where only built-in modules can be
 * required) and at run time, and installs the function that runs when node starts from the snapshot.
 *
 * Only built-in modules may be imported here: this file is itself evaluated by the snapshot builder.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import v8 from 'v8';

/** A bundled module's body: the CommonJS wrapper node would put around the file. */
export type ModuleBody = (
  exports: unknown,
  require: BundleRequire,
  module: BundledModule,
  filename: string,
  dirname: string,
) => void;

/** The `require` a bundled module sees. */
export interface BundleRequire {
  (request: string): unknown;
  resolve(request: string): string;
  main: BundledModule | undefined;
  readonly cache: Record<string, unknown>;
}

/**
 * A bundled module's `module` object. It has the fields node's loader reads from `require.cache` entries, so
 * the same object is put there at run time: a module loaded from disk that requires a bundled one gets it
 * rather than a second copy.
 */
export interface BundledModule {
  id: string;
  filename: string;
  path: string;
  loaded: boolean;
  exports: unknown;
  children: BundledModule[];
  paths: string[];
}

/** Everything the bundle hands to bootSnapshot. Paths are absolute, as they were at build time. */
export interface SnapshotTables {
  /** Checkout the snapshot was built from; the launcher must be ROOT/bin/netscope for the snapshot to apply. */
  root: string;
  /** process.version of the node that built the blob. */
  nodeVersion: string;
  bodies: Record<string, ModuleBody>;
  /** `${requiring module's directory}\0${request}` → file, as node resolved it when the bundle was written. */
  resolved: Record<string, string>;
  /** Names a bundled module may require as built-ins (with and without `node:`). */
  builtins: string[];
  /**
   * Modification time (ms) and size of every bundled file when it was bundled. A file that differs at run time
   * (dist rebuilt by tsc alone, node_modules reinstalled) makes the snapshot stand aside: it would run old code.
   */
  stamps: Record<string, [number, number, number, number]>;
  /** Modules evaluated while the snapshot is built (the rest run on first require). */
  eager: string[];
  /** The CLI entry module: exports main(argv). */
  main: string;
  /** Command lines parsed (with no-op handlers, output discarded) at build, so the parser's code is compiled. */
  warmUp: { yargs: string; command: string; argv: string[][] } | undefined;
  /** Run-time state reads allowed at module scope, per module path relative to root (see StateRead). */
  allowedStateReads: Record<string, string[]>;
}

/** Something read at module scope that would be frozen into the snapshot: `env.TZ`, `process.cwd()`, … */
export interface StateRead {
  module: string;
  what: string;
}

/**
 * Watches reads of run-time state (environment, argv, cwd, clock, local time zone, std streams, files outside
 * the checkout) while `body` runs, attributing each to the module `current()` names. Everything is restored
 * afterwards. A module that reads such state at load time would see the build machine's value forever.
 */
export function watchStateReads(root: string, current: () => string, body: () => void): StateRead[] {
  const reads: StateRead[] = [];
  const seen = new Set<string>();
  const note = (what: string): void => {
    const module = current();
    const key = `${module}\0${what}`;
    if (!seen.has(key)) {
      seen.add(key);
      reads.push({ module, what });
    }
  };
  const undo: (() => void)[] = [];
  const replaceValue = <T extends object, K extends keyof T>(obj: T, key: K, value: T[K]): void => {
    const old = Object.getOwnPropertyDescriptor(obj, key);
    Object.defineProperty(obj, key, { value, configurable: true, writable: true, enumerable: old?.enumerable ?? true });
    undo.push(() => (old ? Object.defineProperty(obj, key, old) : delete obj[key]));
  };
  const wrapGetter = (obj: object, key: string, what: string): void => {
    const old = Object.getOwnPropertyDescriptor(obj, key);
    if (!old) return;
    Object.defineProperty(obj, key, {
      configurable: true,
      enumerable: old.enumerable,
      get() {
        note(what);
        return old.get ? old.get.call(obj) : old.value;
      },
    });
    undo.push(() => Object.defineProperty(obj, key, old));
  };
  const wrapMethod = (obj: object, key: string, what: (args: unknown[]) => string | undefined): void => {
    const rec = obj as Record<string, unknown>;
    const fn = rec[key];
    if (typeof fn !== 'function') return;
    replaceValue(rec, key, function (this: unknown, ...args: unknown[]) {
      const w = what(args);
      if (w !== undefined) note(w);
      return (fn as (...a: unknown[]) => unknown).apply(this, args);
    });
  };

  const env = process.env;
  replaceValue(
    process,
    'env',
    new Proxy(env, {
      get: (t, k) => (typeof k === 'string' && note(`env.${k}`), Reflect.get(t, k)),
      has: (t, k) => (typeof k === 'string' && note(`env.${k}`), Reflect.has(t, k)),
      ownKeys: (t) => (note('env (all keys)'), Reflect.ownKeys(t)),
    }),
  );
  wrapGetter(process, 'argv', 'process.argv');
  for (const s of ['stdin', 'stdout', 'stderr']) wrapGetter(process, s, `process.${s}`);
  wrapMethod(process, 'cwd', () => 'process.cwd()');
  for (const f of ['homedir', 'hostname', 'userInfo', 'tmpdir', 'networkInterfaces']) wrapMethod(os, f, () => `os.${f}()`);
  const outside = (args: unknown[]): string | undefined => {
    const p = args[0];
    if (typeof p !== 'string') return 'a file descriptor';
    const abs = path.resolve(p);
    return abs === root || abs.startsWith(root + path.sep) ? undefined : `file ${abs}`;
  };
  for (const f of ['readFileSync', 'existsSync', 'statSync', 'lstatSync', 'readdirSync', 'openSync', 'realpathSync']) {
    wrapMethod(fs, f, (args) => {
      const o = outside(args);
      return o === undefined ? undefined : `fs.${f}(${o})`;
    });
  }
  const RealDate = Date;
  replaceValue(
    globalThis,
    'Date',
    new Proxy(RealDate, {
      construct: (t, args, nt) => (args.length === 0 && note('new Date() (the clock)'), Reflect.construct(t, args, nt)),
      apply: (t, self, args) => (note('Date() (the clock)'), Reflect.apply(t, self, args)),
    }),
  );
  wrapMethod(RealDate, 'now', () => 'Date.now() (the clock)');
  // Anything that turns a time into local time reads the time zone (TZ), which is fixed at build otherwise.
  const local = [
    'getFullYear', 'getMonth', 'getDate', 'getDay', 'getHours', 'getMinutes', 'getSeconds', 'getMilliseconds',
    'getTimezoneOffset', 'toString', 'toDateString', 'toTimeString', 'toLocaleString', 'toLocaleDateString',
    'toLocaleTimeString',
  ];
  for (const m of local) wrapMethod(RealDate.prototype, m, () => `Date.prototype.${m} (the local time zone)`);
  wrapMethod(Intl, 'DateTimeFormat', () => 'Intl.DateTimeFormat (locale and time zone)');

  try {
    body();
  } finally {
    for (let i = undo.length - 1; i >= 0; i--) undo[i]();
  }
  return reads;
}

/** The state reads in `reads` that `allowed` (module → list of `what`) does not list. */
export function unexpectedStateReads(reads: StateRead[], allowed: Record<string, string[]>): StateRead[] {
  return reads.filter((r) => !(allowed[r.module] ?? []).includes(r.what));
}

/**
 * Loads the eager modules, checks their load-time state reads, warms the parser up and registers the run-time
 * entry. Called by the bundle while `node --build-snapshot` runs it; throws (failing the build) on a state
 * read that is not allowed.
 */
export function bootSnapshot(t: SnapshotTables, builtinRequire: (name: string) => unknown): void {
  const loader = new BundleLoader(t, builtinRequire);
  const reads = watchStateReads(t.root, () => loader.current(), () => {
    for (const file of t.eager) loader.load(file);
  });
  const bad = unexpectedStateReads(reads, t.allowedStateReads);
  if (bad.length > 0) {
    throw new Error(
      'these modules read run-time state while loading, which a startup snapshot would freeze at build time ' +
        '(move the read into a function, or leave the module out of the snapshot):\n' +
        bad.map((r) => `  ${r.module}: ${r.what}`).join('\n'),
    );
  }
  if (t.warmUp !== undefined) warmUp(loader, t.warmUp);
  v8.startupSnapshot.setDeserializeMainFunction(() => runFromSnapshot(t, loader, builtinRequire));
}

/** The run-time entry: `node --snapshot-blob BLOB ROOT/bin/netscope ARGS…`, as bin/netscope execs it. */
function runFromSnapshot(t: SnapshotTables, loader: BundleLoader, builtinRequire: (name: string) => unknown): void {
  // child_process.fork passes execArgv on: a child must not start from this snapshot instead of its script.
  const flag = process.execArgv.findIndex((a) => a === '--snapshot-blob' || a.startsWith('--snapshot-blob='));
  if (flag >= 0) process.execArgv.splice(flag, process.execArgv[flag].includes('=') ? 1 : 2);
  const launcher = process.argv[1];
  if (launcher === undefined) {
    process.stderr.write('netscope: this snapshot starts bin/netscope; run bin/netscope instead\n');
    process.exitCode = 2;
    return;
  }
  // node makes the script argument absolute before running it; do the same.
  const script = path.resolve(launcher);
  process.argv[1] = script;
  const expected = path.join(t.root, 'bin', 'netscope');
  if (
    process.version !== t.nodeVersion ||
    (script !== expected && realpathOr(script) !== expected) ||
    changedSinceBundled(t.stamps)
  ) {
    // A blob from another checkout (copied or moved tree), or older than the files it holds: run the
    // launcher's own dist the ordinary way.
    (builtinRequire('module') as { runMain(main?: string): void }).runMain(script);
    return;
  }
  loader.startRunTime(builtinRequire('module') as ModuleApi);
  (loader.load(t.main) as { main(argv: string[]): void }).main(process.argv.slice(2));
}

/** Whether any bundled file was changed (or removed) since the bundle was written. ~40 stat calls. */
function changedSinceBundled(stamps: SnapshotTables['stamps']): boolean {
  for (const file in stamps) {
    const st = fs.statSync(file, { throwIfNoEntry: false });
    // ctime and inode too: copies that keep mtime and size (cp -p, rsync -a, tar) still change those.
    const [mtimeMs, size, ino, ctimeMs] = stamps[file];
    if (st === undefined || st.mtimeMs !== mtimeMs || st.size !== size || st.ino !== ino || st.ctimeMs !== ctimeMs) return true;
  }
  return false;
}

function realpathOr(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/** The parts of node's `module` module the loader uses at run time. */
interface ModuleApi {
  _cache: Record<string, unknown>;
  createRequire(filename: string): NodeJS.Require;
}

/** CommonJS loading of bundled modules, falling back to node's loader (at run time) for everything else. */
class BundleLoader {
  private readonly modules = new Map<string, BundledModule>();
  private readonly builtins: Set<string>;
  private readonly builtinCache = new Map<string, unknown>();
  private readonly stack: string[] = [];
  private nodeModule: ModuleApi | undefined;
  private readonly launcherModule: BundledModule;

  constructor(
    private readonly t: SnapshotTables,
    private readonly builtinRequire: (name: string) => unknown,
  ) {
    this.builtins = new Set(t.builtins);
    const launcher = path.join(t.root, 'bin', 'netscope');
    // What `require.main` is when node runs bin/netscope (yargs finds package.json for --version from it).
    this.launcherModule = newModule(launcher);
    this.launcherModule.id = '.';
  }

  /** The module being evaluated, relative to root (for state-read reports). */
  current(): string {
    const f = this.stack[this.stack.length - 1];
    return f === undefined ? '(snapshot entry)' : path.relative(this.t.root, f);
  }

  /** Switches to run time: node's require cache learns the bundled modules, unknown requests go to node. */
  startRunTime(nodeModule: ModuleApi): void {
    this.nodeModule = nodeModule;
    for (const [file, m] of this.modules) if (nodeModule._cache[file] === undefined) nodeModule._cache[file] = m;
  }

  load(file: string): unknown {
    const known = this.modules.get(file);
    if (known !== undefined) return known.exports;
    const cached = this.nodeModule?._cache[file] as BundledModule | undefined;
    if (cached !== undefined) return cached.exports;
    const body = this.t.bodies[file];
    if (body === undefined) throw new Error(`snapshot bundle has no module ${file}`);
    const m = newModule(file);
    this.modules.set(file, m);
    if (this.nodeModule !== undefined) this.nodeModule._cache[file] = m;
    this.stack.push(file);
    try {
      body.call(m.exports, m.exports, this.requireFor(file), m, file, m.path);
    } catch (e) {
      this.modules.delete(file);
      if (this.nodeModule !== undefined) delete this.nodeModule._cache[file];
      throw e;
    } finally {
      this.stack.pop();
    }
    m.loaded = true;
    return m.exports;
  }

  private requireFor(parent: string): BundleRequire {
    const req = ((request: string): unknown => this.require(parent, request)) as BundleRequire;
    req.resolve = (request: string): string => {
      const file = this.bundled(parent, request);
      if (file !== undefined) return file;
      if (this.builtins.has(request)) return request;
      return this.node(`resolve ${request}`).createRequire(parent).resolve(request);
    };
    req.main = this.launcherModule;
    Object.defineProperty(req, 'cache', { get: () => this.node('require.cache')._cache });
    return req;
  }

  private require(parent: string, request: string): unknown {
    const file = this.bundled(parent, request);
    if (file !== undefined) return this.load(file);
    if (this.builtins.has(request)) {
      let b = this.builtinCache.get(request);
      if (b === undefined) this.builtinCache.set(request, (b = this.builtinRequire(request)));
      return b;
    }
    return this.node(`require ${request} from ${parent}`).createRequire(parent)(request);
  }

  /** The bundled file a request names: as resolved at build, or a path (computed at run time) to one. */
  private bundled(parent: string, request: string): string | undefined {
    const r = this.t.resolved[`${path.dirname(parent)}\0${request}`];
    if (r !== undefined) return r;
    if (request.startsWith('/') || request.startsWith('./') || request.startsWith('../')) {
      const abs = path.resolve(path.dirname(parent), request);
      for (const f of [abs, `${abs}.js`, path.join(abs, 'index.js')]) if (this.t.bodies[f] !== undefined) return f;
    }
    return undefined;
  }

  private node(what: string): ModuleApi {
    if (this.nodeModule === undefined) {
      throw new Error(`snapshot build: ${what} is not in the bundle (only bundled and built-in modules load here)`);
    }
    return this.nodeModule;
  }
}

function newModule(file: string): BundledModule {
  const dir = path.dirname(file);
  const paths: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    if (path.basename(d) !== 'node_modules') paths.push(path.join(d, 'node_modules'));
    if (path.dirname(d) === d) break;
  }
  return { id: file, filename: file, path: dir, loaded: false, exports: {}, children: [], paths };
}

/** Parses the given command lines once each with the real parser and command builder, handlers replaced. */
function warmUp(loader: BundleLoader, w: NonNullable<SnapshotTables['warmUp']>): void {
  type Chain = {
    scriptName(n: string): Chain;
    command(c: object): Chain;
    strict(): Chain;
    help(): Chain;
    version(v: string | false): Chain;
    wrap(n: number): Chain;
    parse(argv: string[], ctx: object, cb: (err: unknown, argv: unknown, output: string) => void): unknown;
  };
  const yargs = loader.load(w.yargs) as (argv: string[]) => Chain;
  const cmd = loader.load(w.command) as Record<string, unknown>;
  for (const argv of w.argv) {
    yargs(argv)
      .scriptName('netscope')
      .command({ ...cmd, handler: () => undefined })
      .strict()
      .help()
      .version(false)
      .wrap(100)
      .parse(argv, {}, () => undefined);
  }
}
