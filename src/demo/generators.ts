/**
 * The demo's traffic processes: each runs inside a lab namespace, is owned by the demo and reaped by stop().
 * Two safety nets make sure none outlives the demo even when it is killed with SIGKILL: node generators exit
 * when their stdin (held by the demo) closes, and every process is started under `setpriv --pdeathsig KILL`
 * when setpriv is installed (util-linux), so the kernel kills it when the demo dies.
 */
import { spawn, type ChildProcess } from 'child_process';
import fs from 'fs';
import { netnsArgv } from '../host/run';

export interface GeneratorSpec {
  /** Short label for messages ("ping pod-a → pod-b"). */
  label: string;
  netns: string;
  argv: string[];
}

interface Running {
  spec: GeneratorSpec;
  child: ChildProcess;
  exited: Promise<void>;
  stderr: string;
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));

export class GeneratorSet {
  private running: Running[] = [];
  private stopping = false;

  /** `onExit` hears about a generator that stopped on its own (not via stop()). */
  constructor(private readonly onExit: (label: string, why: string) => void = () => undefined) {}

  start(spec: GeneratorSpec): void {
    const guard = SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL'] : [];
    const argv = [...netnsArgv(spec.netns), ...guard, ...spec.argv];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
    const r: Running = { spec, child, stderr: '', exited: Promise.resolve() };
    child.stderr?.on('data', (d: Buffer) => {
      r.stderr = (r.stderr + d.toString()).slice(-500);
    });
    child.stdin?.on('error', () => undefined);
    r.exited = new Promise((resolve) => {
      child.on('error', (err) => {
        if (!this.stopping) this.onExit(spec.label, err.message);
        resolve();
      });
      child.on('exit', (code, signal) => {
        if (!this.stopping) {
          const last = r.stderr.trim().split('\n').pop() ?? '';
          this.onExit(spec.label, `${signal ? `killed by ${signal}` : `exit code ${code}`}${last ? `: ${last}` : ''}`);
        }
        resolve();
      });
    });
    this.running.push(r);
  }

  get pids(): number[] {
    return this.running.map((r) => r.child.pid).filter((p): p is number => p !== undefined);
  }

  /** SIGTERM to all, SIGKILL after `graceMs`; resolves when every process has exited. */
  async stop(graceMs = 2000): Promise<void> {
    this.stopping = true;
    for (const r of this.running) {
      r.child.stdin?.end();
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
    }
    const timer = setTimeout(() => {
      for (const r of this.running) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    }, graceMs);
    await Promise.all(this.running.map((r) => r.exited));
    clearTimeout(timer);
    this.running = [];
  }
}
