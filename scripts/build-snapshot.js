#!/usr/bin/env node
'use strict';
// Builds netscope's startup snapshot (docs/startup.md), run by `npm run build` after tsc:
//   dist/snapshot/bundle.js      the CLI's modules in one file (the snapshot builder cannot load files)
//   dist/snapshot/netscope.blob  node --snapshot-blob … --build-snapshot bundle.js
//   dist/snapshot/node           symlink to the node that built the blob: bin/netscope uses the blob only when
//                                the `node` on PATH is that same file (node refuses a blob from another build)
//   dist/snapshot/node.stamp     its modification time is that node binary's (one replaced in place differs)
// If the snapshot cannot be built, the build still succeeds: bin/netscope then starts the ordinary way.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const dir = path.join(dist, 'snapshot');
const blob = path.join(dir, 'netscope.blob');
const nodeLink = path.join(dir, 'node');
const nodeStamp = path.join(dir, 'node.stamp');
const d = (p) => path.join(dist, p);

// read and what it needs at start are evaluated at build; the filter compiler and the flow report are loaded
// by read only when asked for, and are bundled so they need no file lookups. Commands that need native code
// (capture: cap) or the dashboard (blessed) are not in the snapshot: they load from dist at run time.
const options = {
  root,
  main: d('cli/main.js'),
  eager: [d('cli/main.js'), d('cli/commands/read.js')],
  lazy: [d('filter/filter.js'), d('views/flows/report.js')],
  warmUp: {
    yargs: path.join(root, 'node_modules/yargs/index.cjs'),
    command: d('cli/commands/read.js'),
    argv: [
      ['read', 'x.pcap', '-c', '1'],
      ['read', 'x.pcap', '--summary', '--json'],
      ['read', 'x.pcap', '--flows', '--sort', 'packets', '--top', '5', 'tcp', 'port', '80'],
    ],
  },
  // Load-time reads of run-time state that are known not to matter. The snapshot build fails on any other one
  // (src/cli/snapshotRuntime.ts watchStateReads), so a module that starts reading TZ at load is caught.
  allowedStateReads: {
    // A minimum-node-version check.
    'node_modules/yargs-parser/build/index.cjs': ['env.YARGS_MIN_NODE_VERSION'],
    // The version check; stdout.columns (only used when no wrap is set: main sets one from process.stdout at
    // run time); stderr/stdout handles looked at for blocking writes, which is done again when yargs exits.
    'node_modules/yargs/build/index.cjs': ['env.YARGS_MIN_NODE_VERSION', 'process.stdout', 'process.stderr'],
    // `require('yargs')` builds a default instance from the build's argv, cwd and shell; main() builds its own
    // from the run-time ones (yargs(argv)), which replaces it.
    'node_modules/yargs/index.cjs': ['process.argv', 'process.cwd()', 'env._', 'env.SHELL', 'env.ZSH_NAME'],
  },
  out: path.join(dir, 'bundle.js'),
};

function build() {
  fs.mkdirSync(dir, { recursive: true });
  // Never leave a blob that does not match the dist next to it.
  fs.rmSync(nodeLink, { force: true });
  fs.rmSync(nodeStamp, { force: true });
  fs.rmSync(blob, { force: true });
  const { writeSnapshotBundle } = require(d('cli/snapshotBundle.js'));
  const info = writeSnapshotBundle(options);
  const tmp = `${blob}.${process.pid}.tmp`;
  const env = { ...process.env };
  // The builder's locale and CA settings must not matter to the blob (they are read again at run time).
  for (const k of ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS', 'LC_ALL', 'LC_MESSAGES', 'LANG', 'LANGUAGE', 'TZ']) delete env[k];
  try {
    execFileSync(process.execPath, ['--snapshot-blob', tmp, '--build-snapshot', options.out], {
      cwd: root,
      env,
      // A bundled module that leaves a timer or handle open would keep the builder alive for ever.
      timeout: 120_000,
      killSignal: 'SIGKILL',
      // Not the terminal: the builder's std streams must not be TTYs whatever runs the build.
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    const stderr = e.stderr ? String(e.stderr).trim() : '';
    throw new Error(stderr || e.message);
  }
  fs.renameSync(tmp, blob);
  // Renamed into place, so that a build running at the same time cannot make this one fail.
  const tmpLink = `${nodeLink}.${process.pid}.tmp`;
  fs.rmSync(tmpLink, { force: true });
  const nodeBin = fs.realpathSync(process.execPath);
  fs.symlinkSync(nodeBin, tmpLink);
  fs.renameSync(tmpLink, nodeLink);
  // The node binary's modification time, for the launcher's `-nt`/`-ot` test: a node replaced at the same
  // path (an upgrade) has another one, and node would refuse the blob.
  const tmpStamp = `${nodeStamp}.${process.pid}.tmp`;
  fs.writeFileSync(tmpStamp, `${process.version}\n`);
  // touch -r copies the time to the nanosecond (fs.utimes goes through a double), as the shell's test compares it.
  execFileSync('touch', ['-r', nodeBin, tmpStamp]);
  fs.renameSync(tmpStamp, nodeStamp);
  const mb = (n) => (n / 1048576).toFixed(1);
  console.log(`snapshot: ${info.files.length} modules (${mb(info.bytes)} MB) -> ${path.relative(root, blob)} (${mb(fs.statSync(blob).size)} MB)`);
}

try {
  build();
} catch (e) {
  process.stderr.write(`snapshot: not built, netscope will start without it: ${e.message}\n`);
}
