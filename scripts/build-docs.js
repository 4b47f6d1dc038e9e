#!/usr/bin/env node
'use strict';
// Run by `npm run build` after tsc: records the command-line interface from the command modules' builders (the
// same definitions --help prints, src/cli/spec.ts) and writes
//   dist/cli/spec.json   what shell completion reads (no module loads at TAB time)
//   dist/man/*.1         netscope(1) and netscope-COMMAND(1) (src/cli/man.ts), shipped with the package
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const { collectSpec, SPEC_FILE } = require(path.join(dist, 'cli', 'spec.js'));
const { manPages } = require(path.join(dist, 'cli', 'man.js'));

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
// SOURCE_DATE_EPOCH (reproducible builds) or today.
const epoch = process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) * 1000 : Date.now();
const date = new Date(epoch).toISOString().slice(0, 10);

const spec = collectSpec();
fs.writeFileSync(SPEC_FILE, JSON.stringify(spec));
const manDir = path.join(dist, 'man');
fs.rmSync(manDir, { recursive: true, force: true });
fs.mkdirSync(manDir, { recursive: true });
const pages = manPages(spec, { version: pkg.version, date });
for (const [file, text] of pages) fs.writeFileSync(path.join(manDir, file), text);
console.log(`docs: ${pages.size} man pages -> dist/man, spec -> ${path.relative(root, SPEC_FILE)}`);
