/**
 * Per-packet output shared by `netscope read` and `netscope capture`, so a file and a live capture print
 * identically: tcpdump-like text lines (`-e` adds link headers), JSON lines, `-c` counting, and the
 * `--summary` counters. Output is batched into large writes; a reader that goes away (`| head`) ends
 * the output quietly instead of crashing on EPIPE.
 */
import { linkHeaderLength, writeHex } from '../decode/hexDump';
import { toJson } from '../decode/json';
import { LineBuffer } from '../decode/lineBuffer';
import { LineClock, type LineOptions, writeLine } from '../decode/text';
import { TcpSeqTable } from '../decode/tcpSeq';
import { L, LAYER_NAMES, PacketView } from '../decode/view';
import { formatTs, PacketRecord } from '../pcap/record';

/** Pending output is handed to the stream once it reaches this many bytes (one syscall per ~64 KiB). */
const CHUNK_BYTES = 64 * 1024;

/** Text longer than this is handed to the stream as it is rather than copied into the byte area. */
const LARGE_TEXT = 256 * 1024;

/**
 * Batches output into big writes to a stream and tracks whether the stream still accepts output.
 * Output is collected as bytes in a LineBuffer (PacketPrinter writes text lines into it directly, without
 * making strings) and handed over when 64 KiB are pending, or at the latest when the event loop turns
 * (setImmediate): a file read in a tight loop gets big writes, a live capture gets its lines without delay.
 * EPIPE (the reader closed the pipe) closes the writer silently; any other write error is kept in `error`.
 */
export class BufferedWriter {
  /** Pending output; append to it and call commit() (or use write()). */
  readonly lines = new LineBuffer();
  private inFlight = 0;
  private drainWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  private congested = false;
  private closedFlag = false;
  private err: Error | null = null;
  private scheduled = false;

  constructor(private readonly out: NodeJS.WritableStream) {
    out.on('error', this.onError);
    out.on('drain', this.onDrain);
  }

  /** False once the stream is gone (EPIPE or another write error): stop producing output. */
  get open(): boolean {
    return !this.closedFlag;
  }

  /** A write error other than EPIPE, if one happened. */
  get error(): Error | null {
    return this.err;
  }

  write(text: string | Buffer): void {
    if (this.closedFlag) return;
    if (text.length > LARGE_TEXT) {
      this.send();
      this.hand(text);
      return;
    }
    if (typeof text === 'string') this.lines.utf8(text);
    else this.lines.bytes(text);
    this.commit();
  }

  /** Call after appending to `lines`: sends a full batch, or schedules sending what is pending. */
  commit(): void {
    if (this.closedFlag) {
      this.lines.discard();
      return;
    }
    if (this.lines.pending >= CHUNK_BYTES) this.send();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.sendScheduled);
    }
  }

  /**
   * A promise to wait on while the stream's buffer is full (so a slow reader slows the producer instead
   * of growing memory), or undefined when writing may continue right away.
   */
  waitForDrain(): Promise<void> | undefined {
    if (!this.congested || this.closedFlag) return undefined;
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Writes what is pending and resolves once the stream has accepted everything written so far. */
  flush(): Promise<void> {
    this.send();
    if (this.inFlight === 0 || this.closedFlag) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops listening on the stream (after the final flush), so a long-lived stdout keeps no listeners. */
  detach(): void {
    this.out.removeListener('error', this.onError);
    this.out.removeListener('drain', this.onDrain);
  }

  private send(): void {
    if (this.closedFlag) return this.lines.discard();
    if (this.lines.pending === 0) return;
    // The bytes taken are never written again, so the stream may keep them until its write completes.
    this.hand(this.lines.take());
  }

  private hand(chunk: Buffer | string): void {
    this.inFlight++;
    const accepted = this.out.write(chunk, this.onWritten);
    if (!accepted) this.congested = true;
  }

  private readonly sendScheduled = (): void => {
    this.scheduled = false;
    this.send();
  };

  private readonly onWritten = (e?: Error | null): void => {
    this.inFlight--;
    if (e) this.onError(e);
    if (this.inFlight === 0) {
      // The stream holds none of the taken bytes any more: the area can be written again.
      this.lines.recycle();
      this.wakeIdle();
    }
  };

  private readonly onDrain = (): void => {
    this.congested = false;
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  };

  private readonly onError = (e: Error): void => {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.lines.discard();
    if ((e as NodeJS.ErrnoException).code !== 'EPIPE') this.err = e;
    this.onDrain();
    this.wakeIdle();
  };

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}

export interface PacketPrinterOptions {
  /** One JSON object per line (docs/json-schema.md) instead of text. */
  json?: boolean;
  /** Text lines start with the link-layer header (MACs, ethertype), like tcpdump -e. */
  ether?: boolean;
  /** Stop after this many printed packets (undefined or 0: no limit). */
  count?: number;
  /** Text lines start with the record's interface ("NETNS/IFACE"), as when capturing on several at once. */
  iface?: boolean;
  /** Absolute TCP sequence numbers (tcpdump -S); relative ones by default, as tcpdump prints them. */
  absoluteSeq?: boolean;
  /** tcpdump -q: less protocol detail. */
  quiet?: boolean;
  /** Time stamp format, tcpdump's -t count: 0 default, 1 none, 2 epoch, 3 delta, 4 date, 5 since first. */
  time?: number;
  /** Hex dump after each line, as tcpdump: 1 = -x (without the link header), 2 = -xx (whole frame). */
  hex?: number;
  /** With hex: the ASCII column (tcpdump -X / -XX). */
  hexAscii?: boolean;
}

/** Prints packets as text or JSON lines through a BufferedWriter. */
export class PacketPrinter {
  readonly writer: BufferedWriter;
  private readonly json: boolean;
  private readonly ether: boolean;
  private readonly limit: number;
  private readonly iface: boolean;
  private readonly line: LineOptions;
  private readonly hex: number;
  private readonly hexAscii: boolean;
  private printedCount = 0;

  constructor(out: NodeJS.WritableStream, opts: PacketPrinterOptions = {}) {
    this.writer = new BufferedWriter(out);
    this.json = opts.json === true;
    this.ether = opts.ether === true;
    this.iface = opts.iface === true;
    this.line = {
      ether: this.ether,
      seq: opts.absoluteSeq === true || this.json ? null : new TcpSeqTable(),
      quiet: opts.quiet === true,
      time: opts.time ?? 0,
      clock: new LineClock(),
    };
    this.hex = opts.hex ?? 0;
    this.hexAscii = opts.hexAscii === true;
    this.limit = opts.count !== undefined && opts.count > 0 ? opts.count : Infinity;
  }

  /** Packets printed so far. */
  get printed(): number {
    return this.printedCount;
  }

  /** True while more packets are wanted: the count is not reached and the output is still open. */
  get wantsMore(): boolean {
    return this.printedCount < this.limit && this.writer.open;
  }

  /**
   * Prints one decoded packet; n is its 1-based frame number in the source (all frames, not only matching).
   * Returns false when no more packets should be printed (-c reached, or the output was closed).
   */
  print(view: PacketView, rec: PacketRecord, n: number): boolean {
    if (!this.wantsMore) return false;
    if (this.json) this.writer.write(toJson(view, rec, n) + '\n');
    else {
      // formatLine's text, written as bytes straight into the output batch.
      if (this.iface && rec.iface !== undefined) {
        this.writer.lines.utf8(rec.iface);
        this.writer.lines.byte(0x20);
      }
      writeLine(this.writer.lines, view, rec, this.line);
      if (this.hex > 0) {
        const skip = this.hex > 1 ? 0 : linkHeaderLength(view);
        if (view.caplen > skip) writeHex(this.writer.lines, view.buf, view.base + skip, view.caplen - skip, this.hexAscii);
      }
      this.writer.commit();
    }
    this.printedCount++;
    return this.wantsMore;
  }

  /** See BufferedWriter.waitForDrain: pass to the reader as its throttle. */
  waitForDrain(): Promise<void> | undefined {
    return this.writer.waitForDrain();
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }
}

/** Protocol labels in the order the summary lists them (protocolName's vocabulary). */
const PROTOCOLS = ['arp', 'icmp', 'icmp6', 'tcp', 'udp', 'vxlan', 'geneve', 'gre', 'erspan', 'ipip', 'ipv4', 'ipv6', 'other'] as const;
type Protocol = (typeof PROTOCOLS)[number];

/** Index in PROTOCOLS of protocolName(view), tested on the layer bits in the same order (no string). */
function protocolIndex(view: PacketView): number {
  const l = view.layers;
  if (l & L.ARP) return 0;
  if (l & L.ICMP) return 1;
  if (l & L.ICMPV6) return 2;
  if (l & L.TCP) return 3;
  if (l & L.VXLAN) return 5;
  if (l & L.GENEVE) return 6;
  if (l & L.ERSPAN) return 8;
  if (l & L.GRE) return 7;
  if (l & L.IPIP) return 9;
  if (l & L.UDP) return 4;
  if (l & L.IPV4) return 10;
  if (l & L.IPV6) return 11;
  return 12;
}

/** Bit position of a single-bit layer value (0 for bit 0). */
function bitIndex(layerBit: number): number {
  return 31 - Math.clz32(layerBit);
}

export interface SummaryJson {
  packets: number;
  /** Bytes on the wire (sum of original lengths). */
  bytes: number;
  /** Bytes present in the capture (sum of captured lengths). */
  capturedBytes: number;
  /** First and last timestamps ("SEC.NNNNNNNNN"), absent without packets. */
  first?: string;
  last?: string;
  /** Seconds from the earliest to the latest packet. */
  durationSec: number;
  protocols: Record<string, { packets: number; bytes: number }>;
  /** Packets cut short / with a malformed header, by the layer where decoding stopped. */
  truncated: Record<string, number>;
  malformed: Record<string, number>;
  /** Packets per interface, when the source has more than one or names them. */
  interfaces?: Array<{ index: number; name?: string; packets: number; bytes: number }>;
}

/**
 * The `--summary` counters: packets, bytes, time span, per-protocol counts (innermost protocol label),
 * truncated/malformed packets by layer, and packets per interface. Numbers only on the per-packet path.
 */
export class ProtocolSummary {
  private packets = 0;
  private bytes = 0;
  private capturedBytes = 0;
  private firstSec = 0;
  private firstNsec = 0;
  private lastSec = 0;
  private lastNsec = 0;
  private readonly protoPackets = new Float64Array(PROTOCOLS.length);
  private readonly protoBytes = new Float64Array(PROTOCOLS.length);
  private readonly truncatedByLayer = new Float64Array(32);
  private readonly malformedByLayer = new Float64Array(32);
  private truncatedTotal = 0;
  private malformedTotal = 0;
  private readonly ifPackets: number[] = [];
  private readonly ifBytes: number[] = [];
  private readonly ifNames: Array<string | undefined> = [];

  add(view: PacketView, rec: PacketRecord): void {
    const s = rec.tsSec;
    const ns = rec.tsNsec;
    if (this.packets === 0) {
      this.firstSec = this.lastSec = s;
      this.firstNsec = this.lastNsec = ns;
    } else {
      // Earliest and latest, not first and last in file order: merged captures may be slightly out of order.
      if (s < this.firstSec || (s === this.firstSec && ns < this.firstNsec)) {
        this.firstSec = s;
        this.firstNsec = ns;
      }
      if (s > this.lastSec || (s === this.lastSec && ns > this.lastNsec)) {
        this.lastSec = s;
        this.lastNsec = ns;
      }
    }
    this.packets++;
    this.bytes += rec.len;
    this.capturedBytes += rec.caplen;
    const p = protocolIndex(view);
    this.protoPackets[p]++;
    this.protoBytes[p] += rec.len;
    if (view.truncated !== 0) {
      this.truncatedTotal++;
      this.truncatedByLayer[bitIndex(view.truncated)]++;
    } else if (view.malformed !== 0) {
      this.malformedTotal++;
      this.malformedByLayer[bitIndex(view.malformed)]++;
    }
    const i = rec.ifIndex;
    if (i >= 0 && i < 4096) {
      while (this.ifPackets.length <= i) {
        this.ifPackets.push(0);
        this.ifBytes.push(0);
        this.ifNames.push(undefined);
      }
      this.ifPackets[i]++;
      this.ifBytes[i] += rec.len;
      if (this.ifNames[i] === undefined && rec.iface !== undefined) this.ifNames[i] = rec.iface;
    }
  }

  get packetCount(): number {
    return this.packets;
  }

  toJSON(): SummaryJson {
    const protocols: SummaryJson['protocols'] = {};
    PROTOCOLS.forEach((name: Protocol, i) => {
      if (this.protoPackets[i] > 0) protocols[name] = { packets: this.protoPackets[i], bytes: this.protoBytes[i] };
    });
    const byLayer = (counts: Float64Array): Record<string, number> => {
      const r: Record<string, number> = {};
      counts.forEach((c, bit) => {
        if (c > 0) {
          const name = LAYER_NAMES[bit] ?? `layer${bit}`;
          r[name] = (r[name] ?? 0) + c;
        }
      });
      return r;
    };
    const out: SummaryJson = {
      packets: this.packets,
      bytes: this.bytes,
      capturedBytes: this.capturedBytes,
      durationSec: this.durationSec(),
      protocols,
      truncated: byLayer(this.truncatedByLayer),
      malformed: byLayer(this.malformedByLayer),
    };
    if (this.packets > 0) {
      out.first = formatTs(this.firstSec, this.firstNsec);
      out.last = formatTs(this.lastSec, this.lastNsec);
    }
    if (this.showInterfaces()) {
      out.interfaces = [];
      this.ifPackets.forEach((packets, index) => {
        if (packets === 0) return;
        const e: { index: number; name?: string; packets: number; bytes: number } = { index, packets, bytes: this.ifBytes[index] };
        const name = this.ifNames[index];
        if (name !== undefined) e.name = name;
        out.interfaces?.push(e);
      });
    }
    return out;
  }

  /** The summary as aligned text lines (ends with a newline). */
  render(): string {
    const j = this.toJSON();
    const lines: string[] = [];
    const row = (label: string, value: string): void => {
      lines.push(`${label.padEnd(10)} ${value}`);
    };
    row('packets', String(j.packets));
    row('bytes', j.bytes === j.capturedBytes ? `${j.bytes}` : `${j.bytes} on the wire, ${j.capturedBytes} captured`);
    if (j.first !== undefined && j.last !== undefined) {
      row('first', `${localTime(this.firstSec, this.firstNsec)} (${j.first})`);
      row('last', `${localTime(this.lastSec, this.lastNsec)} (${j.last})`);
    }
    row('duration', `${j.durationSec.toFixed(6)} s`);
    if (j.packets > 0) {
      lines.push('');
      const names = Object.keys(j.protocols);
      const w = Math.max(9, ...names.map((n) => n.length));
      lines.push(`${'protocol'.padEnd(w)} ${'packets'.padStart(10)} ${'bytes'.padStart(14)}`);
      for (const n of names) {
        const c = j.protocols[n];
        lines.push(`${n.padEnd(w)} ${String(c.packets).padStart(10)} ${String(c.bytes).padStart(14)}`);
      }
    }
    lines.push('');
    row('truncated', problemText(this.truncatedTotal, j.truncated));
    row('malformed', problemText(this.malformedTotal, j.malformed));
    if (j.interfaces !== undefined) {
      lines.push('');
      lines.push(`${'interface'.padEnd(16)} ${'packets'.padStart(10)} ${'bytes'.padStart(14)}`);
      for (const i of j.interfaces) {
        lines.push(`${(i.name ?? `#${i.index}`).padEnd(16)} ${String(i.packets).padStart(10)} ${String(i.bytes).padStart(14)}`);
      }
    }
    return lines.join('\n') + '\n';
  }

  /** One JSON line: {"summary":{…}}. */
  renderJson(): string {
    return JSON.stringify({ summary: this.toJSON() }) + '\n';
  }

  private durationSec(): number {
    if (this.packets === 0) return 0;
    return this.lastSec - this.firstSec + (this.lastNsec - this.firstNsec) / 1e9;
  }

  private showInterfaces(): boolean {
    let used = 0;
    for (const p of this.ifPackets) if (p > 0) used++;
    return used > 1 || this.ifNames.some((n) => n !== undefined);
  }
}

function problemText(total: number, byLayer: Record<string, number>): string {
  const parts = Object.entries(byLayer).map(([layer, c]) => `${layer} ${c}`);
  return parts.length > 0 ? `${total} (${parts.join(', ')})` : String(total);
}

/** "2026-11-28 07:33:56.615560" in the local time zone (tcpdump prints local time too). */
function localTime(sec: number, nsec: number): string {
  const d = new Date(sec * 1000);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ` +
    `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${String(Math.floor(nsec / 1000)).padStart(6, '0')}`
  );
}

