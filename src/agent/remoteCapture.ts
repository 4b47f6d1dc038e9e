/**
 * RemoteCapture: one capture over several nodes. Asks each agent (/healthz) for its node name and the
 * namespaces it follows, opens one /capture stream per (agent, interface) — an interface whose namespace
 * several agents follow ("eth0@host") is captured on each of them — reads each pcapng stream with the file
 * reader, and merges them in timestamp order with the same TimestampMerger as local captures. Records carry
 * the agents' interface names, "node/netns/iface". It has LiveCapture's shape (events, start, stop,
 * interfaces, stats) so `netscope capture` writes and prints it the same way.
 */
import { EventEmitter } from 'events';
import http from 'http';
import https from 'https';
import { CaptureStartError, type CapturedInterface, type TargetStats } from '../capture/live';
import { TimestampMerger } from '../capture/merge';
import { parseTarget, targetSpec, type CaptureTarget } from '../capture/target';
import { CaptureParser } from '../pcap/reader';
import type { PacketRecord } from '../pcap/record';

export interface RemoteCaptureOptions {
  filter?: string;
  /** Seconds each agent streams (the agents end their streams; default 60). */
  durationSec?: number;
  /** Bearer token for the agents' /capture. */
  token?: string;
  /** How long records are held to merge streams in time order (default 2000 ms: streams cross the network). */
  reorderWindowMs?: number;
  /** Milliseconds to wait for an agent's answer (default 15000). */
  timeoutMs?: number;
}

interface AgentInfo {
  url: URL;
  node: string;
  namespaces: string[];
}

interface Stream {
  agent: AgentInfo;
  target: CaptureTarget;
  name: string;
  req: http.ClientRequest | null;
  parser: CaptureParser | null;
  linktype: number;
  snaplen: number;
  packets: number;
  bytes: number;
  active: boolean;
}

export declare interface RemoteCapture {
  on(event: 'record', fn: (rec: PacketRecord) => void): this;
  on(event: 'warning', fn: (msg: string) => void): this;
  on(event: 'end', fn: () => void): this;
}

export class RemoteCapture extends EventEmitter {
  private streams: Stream[] = [];
  private merger: TimestampMerger | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ended = false;
  private stopping = false;
  private readonly windowMs: number;

  constructor(
    private readonly agentUrls: string[],
    private readonly specs: string[],
    private readonly opts: RemoteCaptureOptions = {},
  ) {
    super();
    this.windowMs = opts.reorderWindowMs ?? 2000;
  }

  private headers(): Record<string, string> {
    return this.opts.token ? { Authorization: `Bearer ${this.opts.token}` } : {};
  }

  private get(url: URL): Promise<{ res: http.IncomingMessage; req: http.ClientRequest }> {
    return new Promise((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      const req = mod.get(url, { headers: this.headers() }, (res) => resolve({ res, req }));
      req.setTimeout(this.opts.timeoutMs ?? 15000, () => req.destroy(new Error('no answer (timed out)')));
      req.on('error', reject);
    });
  }

  private async body(res: http.IncomingMessage): Promise<string> {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of res) {
      const b = c as Buffer;
      if (n < 65536) parts.push(b);
      n += b.length;
    }
    return Buffer.concat(parts).toString('utf8').trim();
  }

  private async agentInfo(raw: string): Promise<AgentInfo> {
    let url: URL;
    try {
      url = new URL(/^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`);
    } catch {
      throw new CaptureStartError('target', `--agent ${raw}: not a URL (http://HOST:PORT)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CaptureStartError('target', `--agent ${raw}: use http:// or https://`);
    let text: string;
    try {
      const { res } = await this.get(new URL('/healthz', url));
      text = await this.body(res);
      if (res.statusCode !== 200 && res.statusCode !== 503) throw new Error(`/healthz answered ${res.statusCode}`);
    } catch (e) {
      throw new CaptureStartError('failure', `agent ${url.host}: ${e instanceof Error ? e.message : String(e)}; is "netscope agent" running there?`);
    }
    try {
      const h = JSON.parse(text) as { node?: unknown; namespaces?: unknown };
      if (typeof h.node !== 'string' || !Array.isArray(h.namespaces)) throw new Error('no node/namespaces');
      return { url, node: h.node, namespaces: h.namespaces.filter((n): n is string => typeof n === 'string') };
    } catch {
      throw new CaptureStartError('failure', `agent ${url.host}: /healthz is not a netscope agent's answer`);
    }
  }

  /** Finds the agents for every -i, opens the streams, waits until each has declared its interface. */
  async start(): Promise<void> {
    if (this.agentUrls.length === 0) throw new CaptureStartError('target', 'name at least one agent (--agent http://HOST:PORT)');
    const agents = await Promise.all(this.agentUrls.map((u) => this.agentInfo(u)));
    const targets = this.specs.map((s) => {
      try {
        return parseTarget(s.endsWith('@host') ? s.slice(0, -5) : s);
      } catch (e) {
        throw new CaptureStartError('target', e instanceof Error ? e.message : String(e));
      }
    });
    for (const t of targets) {
      const ns = t.netns ?? 'host';
      const on = agents.filter((a) => a.namespaces.includes(ns));
      if (on.length === 0) {
        const known = agents.map((a) => `${a.node}: ${a.namespaces.join(', ') || 'none'}`).join('; ');
        throw new CaptureStartError('target', `"${targetSpec(t)}": no agent follows namespace ${ns} (${known})`);
      }
      for (const a of on) {
        this.streams.push({ agent: a, target: t, name: `${a.node}/${ns}/${t.iface}`, req: null, parser: null, linktype: 1, snaplen: 65535, packets: 0, bytes: 0, active: false });
      }
    }
    const results = await Promise.allSettled(this.streams.map((s) => this.open(s)));
    const bad = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (bad) {
      this.abortAll();
      throw bad.reason instanceof CaptureStartError ? bad.reason : new CaptureStartError('failure', String(bad.reason));
    }
    this.merger = new TimestampMerger(
      this.streams.map((s) => s.name),
      (rec) => this.emit('record', rec),
    );
    this.streams.forEach((s, i) => this.wire(s, i));
    this.timer = setInterval(() => this.releaseHeld(), Math.max(5, Math.floor(this.windowMs / 4)));
  }

  private queued = new Map<Stream, Buffer[]>();

  private async open(s: Stream): Promise<void> {
    const u = new URL('/capture', s.agent.url);
    u.searchParams.append('iface', s.target.netns === undefined ? s.target.iface : `${s.target.iface}@${s.target.netns}`);
    if (this.opts.filter) u.searchParams.set('filter', this.opts.filter);
    u.searchParams.set('duration', String(this.opts.durationSec ?? 60));
    let res: http.IncomingMessage;
    try {
      const r = await this.get(u);
      res = r.res;
      s.req = r.req;
    } catch (e) {
      throw new CaptureStartError('failure', `agent ${s.agent.node}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (res.statusCode !== 200) {
      const text = await this.body(res);
      const kind = res.statusCode === 400 ? 'filter' : res.statusCode === 404 ? 'target' : res.statusCode === 401 ? 'permission' : 'failure';
      const hint = res.statusCode === 401 ? ' (give --token-file)' : '';
      throw new CaptureStartError(kind, `agent ${s.agent.node} (${targetSpec(s.target)}): ${res.statusCode} ${text}${hint}`);
    }
    // Hold the body until the merge is wired; the interface block arrives first and tells the link type.
    const held: Buffer[] = [];
    this.queued.set(s, held);
    const probe = new CaptureParser(() => undefined);
    await new Promise<void>((resolve, reject) => {
      const onData = (c: Buffer): void => {
        held.push(c);
        probe.push(c);
        const i = probe.interfaces[0];
        if (i !== undefined) {
          s.linktype = i.linktype;
          s.snaplen = i.snaplen;
          res.off('data', onData);
          res.off('end', onEnd);
          res.pause();
          resolve();
        }
      };
      const onEnd = (): void => reject(new CaptureStartError('failure', `agent ${s.agent.node}: stream ended before its interface block`));
      res.on('data', onData);
      res.on('end', onEnd);
      res.on('error', (e) => reject(new CaptureStartError('failure', `agent ${s.agent.node}: ${e.message}`)));
    });
    s.active = true;
    this.resOf.set(s, res);
  }

  private resOf = new Map<Stream, http.IncomingMessage>();

  private wire(s: Stream, index: number): void {
    const merger = this.merger!;
    const parser = new CaptureParser((rec) => {
      s.packets++;
      s.bytes += rec.caplen;
      merger.push(index, rec);
    });
    s.parser = parser;
    for (const c of this.queued.get(s) ?? []) parser.push(c);
    this.queued.delete(s);
    const res = this.resOf.get(s)!;
    res.on('data', (c: Buffer) => {
      parser.push(c);
      this.releaseHeld();
    });
    const done = (why: string | null): void => {
      if (!s.active) return;
      s.active = false;
      parser.end();
      if (parser.error && !this.stopping) this.emit('warning', `${s.name}: stream damaged: ${parser.error.message}`);
      if (why !== null && !this.stopping) this.emit('warning', `${s.name}: ${why}`);
      merger.close(index);
      this.releaseHeld();
      if (this.streams.every((x) => !x.active)) this.finish();
    };
    res.on('end', () => done(null));
    res.on('error', (e) => done(`stream failed: ${e.message}`));
    res.on('close', () => done(null));
    res.resume();
  }

  private releaseHeld(): void {
    if (this.merger === null) return;
    const wm = Date.now() - this.windowMs;
    this.merger.release(Math.floor(wm / 1000), (wm % 1000) * 1e6);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    this.merger?.release(Infinity, 0);
    this.emit('end');
  }

  private abortAll(): void {
    for (const s of this.streams) s.req?.destroy();
  }

  /** Closes every stream early (Ctrl-C); what arrived is delivered. */
  async stop(): Promise<void> {
    if (this.ended) return;
    this.stopping = true;
    const ended = new Promise<void>((r) => this.once('end', () => r()));
    this.abortAll();
    if (this.streams.every((s) => !s.active)) this.finish();
    await ended;
  }

  interfaces(): CapturedInterface[] {
    return this.streams.map((s) => ({ name: s.name, linktype: s.linktype, snaplen: s.snaplen }));
  }

  stats(): TargetStats[] {
    return this.streams.map((s) => ({ target: s.name, packets: s.packets, bytes: s.bytes, truncated: 0, agentDropped: 0, active: s.active }));
  }

  get lateRecords(): number {
    return this.merger?.late ?? 0;
  }
}
