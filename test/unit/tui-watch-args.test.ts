import yargs, { type Argv } from 'yargs';
import * as watch from '../../src/cli/commands/watch';
import * as demo from '../../src/cli/commands/demo';

function parse(mod: { command: string; describe: string; builder: (y: Argv) => unknown }, argv: string[]): Record<string, unknown> {
  let got: Record<string, unknown> = {};
  yargs(argv)
    .command({ command: mod.command, describe: mod.describe, builder: (y: Argv) => mod.builder(y) as Argv, handler: (a) => void (got = a) })
    .exitProcess(false)
    .strict()
    .parse();
  return got;
}

describe('watch/demo command lines', () => {
  it('-i takes one value each time and leaves the filter words alone', () => {
    let a = parse(watch, ['watch', 'cni0@node', '-i', 'eth0@pod-a', 'not', 'arp']);
    expect(a.bridge).toBe('cni0@node');
    expect(a.interface).toBe('eth0@pod-a');
    expect(a.filter).toEqual(['not', 'arp']);
    a = parse(watch, ['watch', 'br0', 'tcp', 'port', '80', '-i', 'eth0@a', '-i', 'eth0@b', '--poll', '1']);
    expect(a.interface).toEqual(['eth0@a', 'eth0@b']);
    expect(a.filter).toEqual(['tcp', 'port', '80']);
    expect(a.poll).toBe(1);
  });

  it('demo options', () => {
    const a = parse(demo, ['demo', '--no-ui', '--duration', '5', '--keep']);
    expect(a.ui).toBe(false);
    expect(a.duration).toBe(5);
    expect(a.keep).toBe(true);
  });
});
