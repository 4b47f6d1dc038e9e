/**
 * The one place that loads netscope's libpcap binding (native/pcap_binding.cc, built by node-gyp into
 * build/Release/netscope_pcap.node). Why not the npm `cap` package: docs/capture.md.
 *
 * The binding owns its buffers: each wake-up of the capture socket drains the kernel ring into a C batch and
 * hands JavaScript one copy per batch (`onBatch(batch, count)`), laid out as classic pcap records in
 * little-endian order with nanosecond fractions — the bytes can follow a nanosecond pcap header as they are.
 * Errors of the socket (interface deleted or down) arrive as `onError(message)`; nothing aborts.
 */
import path from 'path';

export interface NativeOpenOptions {
  device: string;
  snaplen?: number;
  promisc?: boolean;
  immediate?: boolean;
  /** Kernel ring size in bytes (pcap_set_buffer_size); 0 = libpcap's default. */
  bufferSize?: number;
  /** Packet buffer timeout (TPACKET_V3 block retire timeout), ms. */
  timeoutMs?: number;
  nano?: boolean;
  filter?: string;
  /** Omitted: the handle only injects (no poll on the socket). */
  onBatch?: (batch: Buffer, count: number) => void;
  onError?: (message: string) => void;
}

export interface NativeOpenResult {
  linktype: number;
  snaplen: number;
  /** Timestamps are nanosecond precision from the kernel (false: microseconds ×1000). */
  nano: boolean;
  warning?: string;
}

/** pcap_stats: received by filter, dropped by kernel (ring full), dropped by the interface. */
export interface PcapStats {
  received: number;
  dropped: number;
  ifDropped: number;
}

interface NativeHandle {
  open(o: NativeOpenOptions): NativeOpenResult;
  close(): void;
  stats(): PcapStats;
  inject(frame: Buffer, length?: number): number;
  setFilter(expr: string): void;
  drain(): void;
}

interface NativeModule {
  PcapHandle: new () => NativeHandle;
  compile(linktype: number, snaplen: number, expr: string, optimize?: boolean): Buffer;
  libVersion: string;
}

let loaded: NativeModule | null = null;

/** The binding, loaded on first use; a missing build is one line saying how to build it. */
export function nativePcap(): NativeModule {
  if (loaded !== null) return loaded;
  const file = path.resolve(__dirname, '..', '..', 'build', 'Release', 'netscope_pcap.node');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(file) as NativeModule;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new Error(`netscope's libpcap binding is not built (${why}): install libpcap-dev and a C++ toolchain, then run "npm run build:native"`);
  }
  return loaded;
}

/** tcpdump's default snapshot length. */
export const DEFAULT_SNAPLEN = 262144;
/** Kernel ring per interface unless -B says otherwise (TPACKET_V3 packs small frames: ~500k 60-byte frames). */
export const DEFAULT_RING_BYTES = 32 * 1024 * 1024;
/** Block retire timeout: the longest a captured packet waits in a partly filled ring block. */
export const DEFAULT_TIMEOUT_MS = 20;

export type PcapErrorKind = 'iface' | 'permission' | 'down' | 'filter' | 'other';

export class PcapOpenError extends Error {
  constructor(
    readonly kind: PcapErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'PcapOpenError';
  }
}

function asOpenError(e: unknown): PcapOpenError {
  // Not `instanceof Error`: the binding's errors come from the main realm, which a test sandbox does not share.
  const fields = e !== null && typeof e === 'object' ? (e as { kind?: unknown; message?: unknown }) : {};
  const message = typeof fields.message === 'string' ? fields.message : String(e);
  const raw = fields.kind;
  const kind: PcapErrorKind = raw === 'iface' || raw === 'permission' || raw === 'down' || raw === 'filter' ? raw : 'other';
  return new PcapOpenError(kind, message);
}

export interface PcapCaptureOptions {
  iface: string;
  filter?: string;
  snaplen?: number;
  promisc?: boolean;
  immediate?: boolean;
  ringBytes?: number;
  timeoutMs?: number;
}

/** A libpcap handle on one interface of this process's network namespace. */
export class PcapHandle {
  linktype = 1;
  snaplen = DEFAULT_SNAPLEN;
  nano = true;
  /** libpcap's activation warning, if any (e.g. no nanosecond timestamps). */
  warning: string | undefined;
  private handle: NativeHandle | null = null;

  /** Opens for capture; batches and socket errors arrive through the callbacks. Throws PcapOpenError. */
  openCapture(o: PcapCaptureOptions, onBatch: (batch: Buffer, count: number) => void, onError: (message: string) => void): void {
    this.open({
      device: o.iface,
      filter: o.filter ?? '',
      snaplen: o.snaplen ?? DEFAULT_SNAPLEN,
      promisc: o.promisc ?? true,
      immediate: o.immediate ?? false,
      bufferSize: o.ringBytes ?? DEFAULT_RING_BYTES,
      timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      nano: true,
      onBatch,
      onError,
    });
  }

  /** Opens only to inject frames (no capture socket polling). Throws PcapOpenError. */
  openInject(iface: string): void {
    // A filter that matches nothing keeps received traffic in the kernel.
    this.open({ device: iface, filter: 'less 1', snaplen: 128, promisc: false, bufferSize: 1 << 20 });
  }

  private open(o: NativeOpenOptions): void {
    const h = new (nativePcap().PcapHandle)();
    let r: NativeOpenResult;
    try {
      r = h.open(o);
    } catch (e) {
      throw asOpenError(e);
    }
    // The file formats speak LINKTYPE_, libpcap's handle DLT_.
    this.linktype = dltToLinktype(r.linktype);
    this.snaplen = r.snaplen;
    this.nano = r.nano;
    this.warning = r.warning;
    this.handle = h;
  }

  /** Sends one frame (pcap_inject); throws libpcap's message on failure. */
  inject(frame: Buffer, length: number): void {
    if (this.handle === null) throw new Error('capture handle is not open');
    this.handle.inject(frame, length);
  }

  /** Delivers what the kernel ring holds now, synchronously through onBatch. */
  drain(): void {
    this.handle?.drain();
  }

  /** libpcap's counters since open; null once closed. */
  stats(): PcapStats | null {
    if (this.handle === null) return null;
    try {
      return this.handle.stats();
    } catch {
      return null;
    }
  }

  get isOpen(): boolean {
    return this.handle !== null;
  }

  /** Idempotent; safe inside onBatch/onError. */
  close(): void {
    if (this.handle === null) return;
    this.handle.close();
    this.handle = null;
  }
}

/**
 * LINKTYPE_ values (pcap files, pcap-linktype(7)) and DLT_ values (libpcap's handles) differ for a few link
 * types; on Linux these are the ones a capture meets (raw IP: tun devices, some VPNs).
 */
const LINKTYPE_TO_DLT: ReadonlyMap<number, number> = new Map([
  [101, 12], // RAW
  [100, 11], // ATM_RFC1483
  [106, 19], // ATM_CLIP
]);
const DLT_TO_LINKTYPE: ReadonlyMap<number, number> = new Map([...LINKTYPE_TO_DLT].map(([l, d]) => [d, l]));

export function linktypeToDlt(linktype: number): number {
  return LINKTYPE_TO_DLT.get(linktype) ?? linktype;
}

export function dltToLinktype(dlt: number): number {
  return DLT_TO_LINKTYPE.get(dlt) ?? dlt;
}

/**
 * Compiles a pcap-filter expression for a link type with libpcap (on a dead handle, as `tcpdump -r` does) into
 * classic BPF instructions (8 bytes each: code u16, jt u8, jf u8, k u32, little-endian). Throws PcapOpenError
 * kind "filter" with libpcap's message.
 */
export function compileBpf(linktype: number, snaplen: number, expr: string): Buffer {
  try {
    return nativePcap().compile(linktypeToDlt(linktype), snaplen, expr, true);
  } catch (e) {
    throw asOpenError(e);
  }
}
