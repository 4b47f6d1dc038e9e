/**
 * The parent's handle on one agent process: spawns it in the target's namespace, turns its stderr into
 * AgentMessages, hands its stdout bytes on, and owns its lifetime (go, stop, kill after a grace period).
 * Host commands otherwise go through host/run.ts; an agent is a long-lived streaming child that run() (which
 * collects output) cannot host, so it is spawned here with the same argv-only rules and netnsArgv().
 */
import { ChildProcessByStdio, spawn } from 'child_process';
import { EventEmitter } from 'events';
import fs from 'fs';
import path from 'path';
import type { Readable, Writable } from 'stream';
import { netnsArgv } from '../host/run';
import { AgentJob, AgentMessage, decodeAgentLine } from './agentProtocol';
import type { PcapErrorKind } from '../libpcap/handle';
import { CaptureTarget } from './target';

/** dist/capture/agent.js next to this module once built; from the sources (ts-jest) the built copy in dist/. */
export function agentScriptPath(): string {
  const here = path.join(__dirname, 'agent.js');
  if (fs.existsSync(here)) return here;
  const built = path.resolve(__dirname, '..', '..', 'dist', 'capture', 'agent.js');
  if (fs.existsSync(built)) return built;
  throw new Error(`capture agent not found (${built}): run "npm run build"`);
}

export class AgentStartError extends Error {
  constructor(
    readonly kind: PcapErrorKind | 'setup',
    message: string,
  ) {
    super(message);
    this.name = 'AgentStartError';
  }
}

/** libpcap's pcap_lookupnet() complaint for interfaces without IPv4 addresses: noise, not a problem. */
const LOOKUPNET_NOISE = /This may not actually work/;

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The agent finished normally (sent "done"/"sent"). */
  clean: boolean;
  /** The capture socket failed (interface down or deleted): libpcap's message, else null. */
  lost: string | null;
  /** Plain-text stderr lines (other than known noise), for messages. */
  text: string[];
}

/**
 * Events: 'message' (AgentMessage), 'data' (Buffer from stdout), 'exit' (AgentExit).
 */
export class AgentProcess extends EventEmitter {
  private child: ChildProcessByStdio<Writable, Readable, Readable> | null = null;
  private readonly text: string[] = [];
  private clean = false;
  private lost: string | null = null;
  private exited: Promise<AgentExit> | null = null;

  constructor(
    readonly target: CaptureTarget,
    private readonly job: AgentJob,
  ) {
    super();
  }

  /** Spawns the agent; resolves with its "ready" message, rejects with AgentStartError. */
  start(): Promise<Extract<AgentMessage, { type: 'ready' }>> {
    const argv = [...netnsArgv(this.target.netns), process.execPath, agentScriptPath(), JSON.stringify(this.job)];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdin.on('error', () => undefined); // agent gone: its exit is reported separately
    child.stdout.on('data', (d: Buffer) => this.emit('data', d));
    let pending = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        this.line(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        if (pending !== '') this.line(pending);
        const exit: AgentExit = { code, signal, clean: this.clean && this.lost === null, lost: this.lost, text: this.text };
        this.child = null;
        this.emit('exit', exit);
        resolve(exit);
      });
      child.on('error', (e) => {
        this.text.push(e.message);
      });
    });
    return new Promise((resolve, reject) => {
      const onMessage = (m: AgentMessage): void => {
        if (m.type === 'ready') {
          this.off('message', onMessage);
          this.off('exit', onExit);
          resolve(m);
        } else if (m.type === 'error') {
          this.off('message', onMessage);
          this.off('exit', onExit);
          reject(new AgentStartError(m.kind, m.message));
        }
      };
      const onExit = (e: AgentExit): void => {
        this.off('message', onMessage);
        const why = e.text.join('; ') || (e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`);
        reject(new AgentStartError('setup', `capture agent did not start: ${why}`));
      };
      this.on('message', onMessage);
      this.once('exit', onExit);
    });
  }

  private line(raw: string): void {
    const m = decodeAgentLine(raw);
    if (m !== null) {
      if (m.type === 'done' || m.type === 'sent') this.clean = true;
      if (m.type === 'lost') this.lost = m.message;
      this.emit('message', m);
      return;
    }
    const line = raw.trim();
    if (line === '' || LOOKUPNET_NOISE.test(line)) return;
    if (this.text.length < 20) this.text.push(line);
  }

  /** Tells a ready agent to start streaming (capture) or sending (replay). */
  go(): void {
    this.child?.stdin.write('go\n');
  }

  /** Asks the agent to stop and waits for it to exit; kills it after graceMs. */
  async stop(graceMs = 5000): Promise<AgentExit | null> {
    if (this.exited === null) return null;
    const child = this.child;
    if (child !== null) {
      child.stdin.end('stop\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const exit = await this.exited;
      clearTimeout(timer);
      return exit;
    }
    return this.exited;
  }

  /** Resolves when the agent has exited (null if it was never started). */
  whenExited(): Promise<AgentExit> | null {
    return this.exited;
  }
}
