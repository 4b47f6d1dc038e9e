/**
 * Real captures (fixtures/pcap, fixtures/flows: recorded from namespace traffic) through the decoder and
 * the text formatter, line by line against tcpdump -S -nn on the same file: equal, except VXLAN on 8472
 * (tcpdump's OTV).
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

/**
 * The one place the texts differ on purpose: VXLAN on the kernel's port 8472, which tcpdump 4.99 decodes as
 * OTV (same header, other names).
 */
function otvAsVxlan(line: string): string {
  return line.replace(/OTV, flags \[I\] \(0x08\), overlay 0, instance (\d+)$/, 'VXLAN, flags [I] (0x08), vni $1');
}

(haveTcpdump && files.length > 0 ? describe : describe.skip)('real captures vs tcpdump', () => {
  it.each(files.map((f) => [path.relative(root, f), f]))('%s', async (_name, file) => {
    const view = new PacketView();
    const ours: string[] = [];
    let problems = 0;
    const res = await readCapture(openCaptureInput(file), (rec) => {
      decodeRecord(view, rec);
      if (describeProblem(view) !== undefined) problems++;
      for (const l of formatLine(view, rec).split('\n')) ours.push(l);
    });
    expect(res.error).toBeNull();
    expect(problems).toBe(0);
    let out = '';
    try {
      out = execFileSync('tcpdump', ['-S', '-nn', '-r', file], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, TZ: 'UTC' } }).toString();
    } catch {
      return; // tcpdump cannot read this file (e.g. pcapng with several link types): nothing to compare
    }
    const theirs = out.split('\n').filter((l) => l !== '').map(otvAsVxlan);
    if (theirs.length === 0) return;
    expect(ours).toEqual(theirs);
  });
});
