/**
 * The agent's HTTP server (node:http): /metrics (Prometheus text), /healthz, and /capture — a pcapng stream of
 * live packets from interfaces the agent follows. Capture streams are limited in number (429 beyond), need a
 * bearer token when one is configured (401 and a log line without it), and cannot grow memory without bound:
 * each stream's writer sheds whole packets (counted) once more than `streamBufferBytes` wait for a slow client.
 * close() ends every stream on a block boundary, so each client holds a valid pcapng.
 */
import http from 'http';
import type { AddressInfo } from 'net';
import { CaptureStartError, LiveCapture } from '../capture/live';
import { targetSpec, type CaptureTarget } from '../capture/target';
import type { PacketRecord } from '../pcap/record';
import { PcapngWriter } from '../pcap/writer';
import type { BearerAuth } from './auth';
import { BadCaptureRequest, parseCaptureQuery, type CaptureRequestLimits } from './captureRequest';
import type { NodeEngine } from './engine';
import { netnsLabel } from './follow';
import type { AgentMetrics, StreamCounters } from './metrics';

export interface AgentServerOptions {
  host: string;
  port: number;
  node: string;
  version: string;
  /** Required on /capture when set. */
  auth?: BearerAuth;
  /** Capture streams served at once (default 4). */
  maxStreams?: number;
  /** Bytes a stream may hold for a slow client before it sheds packets (default 4 MiB). */
  streamBufferBytes?: number;
  limits?: Partial<CaptureRequestLimits>;
  log: (line: string) => void;
}

interface Stream {
  finish: (why: string) => Promise<void>;
}

export class AgentServer {
  readonly counters: StreamCounters = { active: 0, served: 0, refusedLimit: 0, unauthorized: 0, badRequest: 0, droppedPackets: 0, packets: 0 };
  private readonly server: http.Server;
  private readonly streams = new Set<Stream>();
  private readonly limits: CaptureRequestLimits;
  private metrics: AgentMetrics | null = null;
  private closing = false;

  constructor(
    private readonly engine: NodeEngine,
    private readonly opts: AgentServerOptions,
  ) {
    this.limits = { maxDurationSec: 3600, defaultDurationSec: 60, maxInterfaces: 16, ...opts.limits };
    this.server = http.createServer((req, res) => void this.route(req, res));
    // A stream can run for its whole duration: no request timeout; headers must still arrive promptly.
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 10_000;
  }

  attachMetrics(m: AgentMetrics): void {
    this.metrics = m;
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://agent');
    } catch {
      return this.plain(res, 400, 'bad request URL');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return this.plain(res, 405, 'only GET');
    }
    try {
      switch (url.pathname) {
        case '/metrics':
          return await this.serveMetrics(res);
        case '/healthz':
          return this.serveHealth(res);
        case '/capture':
          return await this.serveCapture(req, res, url);
        case '/':
          return this.plain(res, 200, `netscope agent on ${this.opts.node}: /metrics /healthz /capture?iface=IFACE[@NETNS]&filter=EXPR&duration=SEC`);
        default:
          return this.plain(res, 404, `no ${url.pathname} here: /metrics /healthz /capture`);
      }
    } catch (e) {
      this.opts.log(`${url.pathname}: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) this.plain(res, 500, 'internal error (see the agent log)');
      else res.destroy();
    }
  }

  private plain(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
    res.end(`${text}\n`);
  }

  private async serveMetrics(res: http.ServerResponse): Promise<void> {
    if (this.metrics === null) return this.plain(res, 503, 'metrics not ready');
    const text = await this.metrics.metrics();
    res.writeHead(200, { 'Content-Type': this.metrics.contentType, 'Cache-Control': 'no-store' });
    res.end(text);
  }

  private serveHealth(res: http.ServerResponse): void {
    const e = this.engine;
    let running = 0;
    let failed = 0;
    for (const s of e.sources.values()) {
      if (s.state === 'running') running++;
      else if (s.state === 'failed') failed++;
    }
    const ready = e.discoveries > 0 && !this.closing;
    const body = {
      status: ready ? 'ok' : this.closing ? 'stopping' : 'starting',
      node: this.opts.node,
      version: this.opts.version,
      namespaces: e.followed.map((n) => netnsLabel(n)),
      interfaces: { running, failed },
      captureStreams: this.counters.active,
    };
    res.writeHead(ready ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(`${JSON.stringify(body)}\n`);
  }

  /** Whether the target's namespace is one the agent follows (it captures nowhere else). */
  private followed(t: CaptureTarget): boolean {
    const id = t.netns ?? '';
    return this.engine.followed.some((n) => n.id === id);
  }

  private async serveCapture(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const who = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    if (this.opts.auth !== undefined) {
      const why = this.opts.auth.check(req.headers.authorization);
      if (why !== null) {
        this.counters.unauthorized++;
        this.opts.log(`401 /capture from ${who}: ${why}`);
        return this.plain(res, 401, 'a bearer token is required: Authorization: Bearer TOKEN', { 'WWW-Authenticate': 'Bearer realm="netscope"' });
      }
    }
    if (this.closing) return this.plain(res, 503, 'agent is stopping');
    const max = this.opts.maxStreams ?? 4;
    if (this.counters.active >= max) {
      this.counters.refusedLimit++;
      this.opts.log(`429 /capture from ${who}: ${max} streams already running`);
      return this.plain(res, 429, `${max} capture streams already running (--max-captures); try again later`, { 'Retry-After': '5' });
    }
    let request;
    try {
      request = parseCaptureQuery(url.searchParams, this.limits);
      for (const t of request.targets) {
        if (!this.followed(t)) throw new BadCaptureRequest(404, `${targetSpec(t)}: namespace not followed by this agent (see /healthz)`);
      }
    } catch (e) {
      if (!(e instanceof BadCaptureRequest)) throw e;
      this.counters.badRequest++;
      return this.plain(res, e.status, e.message);
    }
    this.counters.active++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.counters.active--;
    };
    const capture = new LiveCapture(request.targets, { filter: request.filter, reorderWindowMs: 100, ringBytes: 32 * 1024 * 1024 });
    const clientGone = (): boolean => res.destroyed || req.socket.destroyed;
    try {
      await capture.start();
    } catch (e) {
      release();
      if (!(e instanceof CaptureStartError)) throw e;
      this.counters.badRequest++;
      return this.plain(res, e.kind === 'target' ? 404 : e.kind === 'filter' ? 400 : 500, e.message);
    }
    if (clientGone() || this.closing) {
      release();
      await capture.stop();
      if (!clientGone()) this.plain(res, 503, 'agent is stopping');
      return;
    }
    this.counters.served++;
    const ifs = capture.interfaces();
    const names = request.targets.map((t) => `${this.opts.node}/${netnsLabel(t.netns ?? '')}/${t.iface}`);
    res.writeHead(200, {
      'Content-Type': 'application/vnd.tcpdump.pcapng',
      'Cache-Control': 'no-store',
      'X-Netscope-Node': this.opts.node,
      'X-Netscope-Interfaces': names.join(','),
    });
    const writer = new PcapngWriter(res, {
      application: `netscope ${this.opts.version} agent`,
      maxQueuedBytes: this.opts.streamBufferBytes ?? 4 * 1024 * 1024,
      flushIntervalMs: 100,
    });
    ifs.forEach((i, n) => writer.addInterface(names[n], i.linktype, i.snaplen));
    writer.flush();
    this.opts.log(`/capture from ${who}: ${names.join(', ')}${request.filter ? ` filter "${request.filter}"` : ''} for ${request.durationSec} s`);
    let written = 0;
    let finishing: Promise<void> | null = null;
    const stream: Stream = {
      finish: (why: string) => {
        if (finishing) return finishing;
        finishing = (async () => {
          clearTimeout(timer);
          await capture.stop();
          // end()'s callback never comes when the client has already gone: the socket's close ends the wait.
          const socketClosed = new Promise<void>((resolve) => (res.destroyed ? resolve() : res.once('close', () => resolve())));
          await Promise.race([writer.close().catch(() => undefined), socketClosed]);
          this.streams.delete(stream);
          release();
          this.opts.log(`/capture from ${who} ended (${why}): ${written} packets sent, ${writer.dropped} dropped for a slow reader`);
        })();
        return finishing;
      },
    };
    this.streams.add(stream);
    const timer = setTimeout(() => void stream.finish('duration reached'), request.durationSec * 1000);
    capture.on('record', (rec: PacketRecord) => {
      if (finishing !== null) return;
      const before = writer.records;
      writer.write(rec.ifIndex, rec);
      if (writer.records !== before) {
        written++;
        this.counters.packets++;
      } else {
        this.counters.droppedPackets++;
      }
      if (request.count > 0 && written >= request.count) void stream.finish('count reached');
    });
    capture.on('warning', (m) => this.opts.log(`/capture from ${who}: ${m}`));
    capture.on('end', () => void stream.finish('interfaces gone'));
    res.on('close', () => {
      if (!res.writableFinished) void stream.finish('client closed the connection');
    });
  }

  /** Stops accepting, ends every capture stream cleanly (whole pcapng blocks), then closes the server. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    // Streams end within their capture's stop; a client that does not take the last bytes is cut off.
    const ended = Promise.all([...this.streams].map((s) => s.finish('agent stopping')));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise<void>((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
    this.server.closeAllConnections();
    await closed;
  }
}
