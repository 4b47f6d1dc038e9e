/**
 * Replays a capture file's frames onto an interface with libpcap (pcap_sendpacket through cap), in the
 * interface's namespace via an agent. Pacing: the file's own timing scaled by `speed`, a fixed `pps`, or
 * as fast as the agent can send (`topSpeed`).
 */
import fs from 'fs';
import { AgentProcess, AgentStartError } from './agentProcess';
import type { AgentMessage, SendJob } from './agentProtocol';
import { CaptureStartError } from './live';
import { CaptureTarget, TargetError, checkTargetExists, targetSpec } from './target';

export interface ReplayOptions {
  /** Frames per second (exclusive with speed/topSpeed). */
  pps?: number;
  /** Multiplier on the file's timing (default 1 when neither pps nor topSpeed is given). */
  speed?: number;
  topSpeed?: boolean;
  /** Stop after this many frames. */
  count?: number;
  /** Passes over the file (default 1; 0 = repeat until count or stop). */
  loops?: number;
}

export interface ReplayResult {
  target: string;
  sent: number;
  failed: number;
  bytes: number;
  /** Distinct send errors with their counts, e.g. "send: Message too long (3×)". */
  errors: string[];
  elapsedMs: number;
}

export class Replay {
  private readonly agent: AgentProcess;

  constructor(
    readonly file: string,
    readonly target: CaptureTarget,
    opts: ReplayOptions = {},
  ) {
    const job: SendJob = {
      mode: 'send',
      iface: target.iface,
      file,
      pps: opts.pps ?? 0,
      speed: opts.topSpeed || (opts.pps ?? 0) > 0 ? 0 : (opts.speed ?? 1),
      count: opts.count ?? 0,
      loops: opts.loops ?? 1,
    };
    this.agent = new AgentProcess(target, job);
  }

  /**
   * Sends the frames and resolves with what was sent. Rejects with CaptureStartError before sending anything
   * (unknown file/interface/namespace, permission) or when the agent dies.
   */
  async run(): Promise<ReplayResult> {
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      throw new CaptureStartError('permission', 'replay needs CAP_NET_RAW (and CAP_SYS_ADMIN to enter namespaces): run as root');
    }
    try {
      fs.accessSync(this.file, fs.constants.R_OK);
    } catch (e) {
      throw new CaptureStartError('target', `cannot read ${this.file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    try {
      await checkTargetExists(this.target);
    } catch (e) {
      if (e instanceof TargetError) throw new CaptureStartError('target', e.message);
      throw new CaptureStartError('failure', e instanceof Error ? e.message : String(e));
    }
    let result: Extract<AgentMessage, { type: 'sent' }> | null = null;
    this.agent.on('message', (m) => {
      if (m.type === 'sent') result = m;
    });
    try {
      await this.agent.start();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const kind = e instanceof AgentStartError && e.kind === 'permission' ? 'permission' : e instanceof AgentStartError && e.kind === 'iface' ? 'target' : 'failure';
      throw new CaptureStartError(kind, `${targetSpec(this.target)}: ${msg}`);
    }
    this.agent.go();
    const exit = await this.agent.whenExited();
    const r = result as Extract<AgentMessage, { type: 'sent' }> | null;
    if (r === null) {
      const why = exit?.lost ? `the interface went down or was deleted (${exit.lost})` : exit?.text.join('; ') || `agent exit ${exit?.code ?? exit?.signal}`;
      throw new CaptureStartError('failure', `${targetSpec(this.target)}: replay stopped: ${why}`);
    }
    return { target: targetSpec(this.target), sent: r.sent, failed: r.failed, bytes: r.bytes, errors: r.errors, elapsedMs: r.elapsedMs };
  }

  /** Stops sending early (Ctrl-C); run() then resolves with what was sent so far. */
  async stop(): Promise<void> {
    await this.agent.stop();
  }
}
