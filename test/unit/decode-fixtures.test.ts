/**
 * Real captures (fixtures/pcap, fixtures/flows: recorded from namespace traffic) through the decoder and
 * the text formatter, line by line against tcpdump -S -nn on the same file. Only the documented,
 * deliberate differences are normalised away before comparing.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { decodeRecord } from '../../src/decode/decode';
import { describeProblem, formatLine } from '../../src/decode/format';
import { PacketView } from '../../src/decode/view';
import { openCaptureInput, readCapture } from '../../src/pcap/reader';
import { tryRun } from '../helpers/netns';

process.env.TZ = 'UTC';

const root = path.join(__dirname, '..', '..', 'fixtures');
const files = ['pcap', 'flows']
  .map((d) => path.join(root, d))
  .filter((d) => fs.existsSync(d))
  .flatMap((d) => fs.readdirSync(d).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => path.join(d, f)));

const haveTcpdump = tryRun('tcpdump', ['--version']);

/** Our additions (ICMP quote, IPv4 fragment details) removed. */
function normaliseOurs(line: string): string {
  return line.replace(/, quoted [^,]*$/, '').replace(/(, )?frag id \d+, offset \d+(, length \d+)?(, more fragments)?$/, '');
}

/** tcpdump's extras we do not print: application dissection, MLDv2 records, SLL2 iface. */
function normaliseTcpdump(line: string): string {
  return line
    .replace(/(length \d+): .*$/, '$1')
    .replace(/, \d+ group record\(s\)/, '')
    .replace(/^(\d\d:\d\d:\d\d\.\d{6}) \S+ +(In|Out|B|M|P) +/, '$1 ');
}

(haveTcpdump && files.length > 0 ? describe : describe.skip)('real captures vs tcpdump', () => {
  it.each(files.map((f) => [path.relative(root, f), f]))('%s', async (_name, file) => {
    const view = new PacketView();
    const ours: string[] = [];
    let problems = 0;
    const res = await readCapture(openCaptureInput(file), (rec) => {
      decodeRecord(view, rec);
      if (describeProblem(view) !== undefined) problems++;
      for (const l of formatLine(view, rec).split('\n')) ours.push(normaliseOurs(l));
    });
    expect(res.error).toBeNull();
    expect(problems).toBe(0);
    let out = '';
    try {
      out = execFileSync('tcpdump', ['-S', '-nn', '-r', file], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, TZ: 'UTC' } }).toString();
    } catch {
      return; // tcpdump cannot read this file (e.g. pcapng with several link types): nothing to compare
    }
    const theirs = out.split('\n').filter((l) => l !== '').map(normaliseTcpdump);
    if (theirs.length === 0) return;
    expect(ours.map(normaliseTcpdump)).toEqual(theirs);
  });
});
