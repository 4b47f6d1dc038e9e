/**
 * Writes the bundle that `node --build-snapshot` turns into netscope's startup snapshot (docs/startup.md).
 *
 * The snapshot builder can only require built-in modules, so the CLI's modules (ours and yargs) are put into
 * one file as CommonJS wrapper functions, with node's own resolution of every require between them recorded
 * at bundle time: the modules are required here once, in an ordinary node process, with the resolver watched.
 * snapshotRuntime.ts then loads them inside the builder. Modules with native code (cap) are refused: they
 * stay on disk and load at run time.
 */
import fs from 'fs';
import Module from 'module';
import path from 'path';
import type { SnapshotTables } from './snapshotRuntime';

export interface SnapshotBundleOptions {
  /** The checkout (the directory holding bin/ and dist/). */
  root: string;
  /** Modules evaluated at snapshot build time, with everything they require at load. */
  eager: string[];
  /** Modules bundled but evaluated on first require at run time (with what they require at load). */
  lazy: string[];
  /** The CLI entry module (exports main(argv)); must be eager. */
  main: string;
  warmUp: SnapshotTables['warmUp'];
  allowedStateReads: Record<string, string[]>;
  /** The bundle file to write. */
  out: string;
}

export interface SnapshotBundleInfo {
  /** Bundled files, absolute, in load order. */
  files: string[];
  bytes: number;
}

type ResolveFilename = (request: string, parent: { filename?: string } | undefined, ...rest: unknown[]) => string;

/** Requires the modules with node's resolver watched; returns the files loaded and each resolution made. */
function discover(entries: string[]): { files: string[]; resolved: Record<string, string> } {
  const m = Module as unknown as { _resolveFilename: ResolveFilename; _cache: Record<string, unknown> };
  const before = new Set(Object.keys(m._cache));
  const resolved: Record<string, string> = {};
  const original = m._resolveFilename;
  m._resolveFilename = function (this: unknown, request, parent, ...rest) {
    const file = original.call(this, request, parent, ...rest);
    // Keyed like node's own resolution cache: the answer depends on the requiring module's directory only.
    if (parent?.filename !== undefined && !Module.isBuiltin(request)) {
      resolved[`${path.dirname(parent.filename)}\0${request}`] = file;
    }
    return file;
  };
  try {
    for (const e of entries) require(e);
  } finally {
    m._resolveFilename = original;
  }
  const files = Object.keys(m._cache).filter((f) => !before.has(f) || entries.includes(f));
  return { files, resolved };
}

/** A module's source as a CommonJS wrapper function expression. */
function moduleBody(file: string): string {
  let src = fs.readFileSync(file, 'utf8');
  if (file.endsWith('.json')) return `function (exports, require, module) { module.exports = ${src.trim()}; }`;
  if (src.startsWith('#!')) src = `//${src}`;
  // The map's relative path would be resolved against the bundle, not the module.
  src = src.replace(/\n\/\/# sourceMappingURL=[^\n]*\s*$/, '\n');
  return `function (exports, require, module, __filename, __dirname) {${src}\n}`;
}

export function writeSnapshotBundle(o: SnapshotBundleOptions): SnapshotBundleInfo {
  if (!o.eager.includes(o.main)) throw new Error(`${o.main} must be among the eager modules`);
  const eager = discover(o.eager);
  const lazy = discover(o.lazy);
  const files = [...eager.files, ...lazy.files.filter((f) => !eager.files.includes(f))];
  const native = files.filter((f) => f.endsWith('.node'));
  if (native.length > 0) throw new Error(`native modules cannot be in a snapshot: ${native.join(', ')}`);
  const outside = files.filter((f) => !f.startsWith(o.root + path.sep));
  if (outside.length > 0) throw new Error(`modules outside ${o.root}: ${outside.join(', ')}`);

  // The compiled runtime goes into the bundle (run this from dist, not from the TypeScript sources).
  const runtime = require.resolve('./snapshotRuntime');
  if (!runtime.endsWith('.js')) throw new Error(`the snapshot runtime must be compiled JavaScript, not ${runtime}`);
  const stamps: SnapshotTables['stamps'] = {};
  const sources: string[] = [];
  for (const f of files) {
    // Stat before reading: a file rewritten in between then looks changed at run time rather than current.
    const st = fs.statSync(f);
    stamps[f] = [st.mtimeMs, st.size, st.ino, st.ctimeMs];
    sources.push(moduleBody(f));
  }
  const tables: Omit<SnapshotTables, 'bodies'> = {
    root: o.root,
    nodeVersion: process.version,
    stamps,
    resolved: { ...lazy.resolved, ...eager.resolved },
    builtins: Module.builtinModules.flatMap((b) => [b, `node:${b}`]),
    // Everything an eager module pulled in at load is evaluated at build too, in the order node loaded it.
    eager: eager.files,
    main: o.main,
    warmUp: o.warmUp,
    allowedStateReads: o.allowedStateReads,
  };
  // No file-level 'use strict': each module body keeps the mode its own source asks for, as under node's loader.
  const parts = [
    '// Generated by scripts/build-snapshot.js (src/cli/snapshotBundle.ts): the input of node --build-snapshot.',
    'const bodies = Object.create(null);',
  ];
  files.forEach((f, i) => parts.push(`bodies[${JSON.stringify(f)}] = ${sources[i]};`));
  parts.push(
    `const tables = Object.assign(${JSON.stringify(tables)}, { bodies });`,
    'const runtime = { exports: {} };',
    `(${moduleBody(runtime)})(runtime.exports, require, runtime, ${JSON.stringify(runtime)}, ${JSON.stringify(path.dirname(runtime))});`,
    'runtime.exports.bootSnapshot(tables, require);',
    '',
  );
  const text = parts.join('\n');
  fs.writeFileSync(o.out, text);
  return { files, bytes: Buffer.byteLength(text) };
}
