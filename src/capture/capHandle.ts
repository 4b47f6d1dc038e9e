/**
 * The one place that touches the `cap` binding (libpcap). Facts about cap 0.2.1 this module is built around
 * (read in its binding.cc and measured here):
 * - open() keeps only a raw pointer to the Buffer it is given and memcpy()s every packet into it. If JS drops
 *   the Buffer, V8 frees it and cap writes into freed memory (heap-use-after-free, aborts under load). The
 *   buffer is therefore a readonly field of CapHandle, and every open CapHandle is held in a module-level
 *   set until close(): the buffer lives exactly as long as cap may write into it.
 * - Per packet it emits ('packet', nbytes, truncated) synchronously from pcap_dispatch: no timestamp, no
 *   original length, no drop counters. The caller stamps on arrival and copies the bytes out before returning.
 * - snaplen is fixed at 65535, promiscuous mode always on, immediate mode on. setMinBytes exists on Windows only.
 * - A failed open() leaves a half-initialised native object whose destructor calls Unref() without a Ref():
 *   garbage-collecting it trips an assertion and aborts. Failed handles are kept in `retainedAfterFailure`.
 * - When the interface goes down or is deleted, libuv reports POLLERR and cap's poll callback asserts
 *   `status == 0`: the process aborts. That is why netscope opens cap only inside agent processes
 *   (see agent.ts) unless a caller explicitly asks for in-process capture.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const capModule = require('cap') as { Cap: new () => NativeCap };

interface NativeCap {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): boolean;
  send(buffer: Buffer, length?: number): void;
  setMinBytes?: (n: number) => void;
  on(event: 'packet', fn: (nbytes: number, truncated: boolean) => void): void;
  removeAllListeners(event?: string): void;
}

/** Largest frame cap can deliver is its snaplen (65535); GSO super-frames reach it. One spare page. */
export const CAP_SNAPLEN = 65535;
const PACKET_BUFFER_BYTES = 65536 + 4096;

/**
 * Kernel ring size asked of libpcap (pcap_set_buffer_size). cap opens in immediate mode, where libpcap uses
 * TPACKET_V2 with one slot per frame sized for snaplen 65535: measured 16 slots per MiB (32 MiB held 512
 * frames, 128 MiB 2046), however small the frames. 128 MiB rides out ~20 ms stalls at 100k frames/s.
 */
export const DEFAULT_RING_BYTES = 128 * 1024 * 1024;
/** Frames the kernel ring can hold for a given size (see DEFAULT_RING_BYTES). */
export function ringSlots(ringBytes: number): number {
  return Math.floor(ringBytes / 65536);
}

const retainedAfterFailure: NativeCap[] = [];
/**
 * Every open handle, so its packetBuffer stays reachable even when the caller keeps no reference of its
 * own (a handle held only in a local variable is otherwise collectable while cap still writes into it).
 */
const openHandles = new Set<CapHandle>();

export type CapErrorKind = 'iface' | 'permission' | 'filter' | 'other';

export class CapOpenError extends Error {
  constructor(
    readonly kind: CapErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'CapOpenError';
  }
}

/** LINKTYPE_* for cap's link-type names (cap maps a few DLTs to strings, else "Unknown linktype N"). */
export function linktypeFromCap(name: string): number {
  switch (name) {
    case 'ETHERNET':
      return 1;
    case 'NULL':
      return 0;
    case 'RAW':
      return 101;
    case 'LINKTYPE_LINUX_SLL':
      return 113;
    case 'IEEE802_11_RADIO':
      return 127;
    default: {
      const m = /Unknown linktype (\d+)/.exec(name);
      return m ? Number(m[1]) : 1;
    }
  }
}

function classify(message: string): CapErrorKind {
  if (/permission|not permitted|EPERM/i.test(message)) return 'permission';
  if (/No such device|doesn't exist|no such interface/i.test(message)) return 'iface';
  return 'other';
}

export class CapHandle {
  /** The buffer cap writes every packet into: must stay referenced while the handle is open. */
  readonly packetBuffer: Buffer = Buffer.alloc(PACKET_BUFFER_BYTES);
  linktype = 1;
  private cap: NativeCap | null = null;

  /**
   * Opens `iface` with `filter` (compiled by libpcap into kernel BPF). Throws CapOpenError: kind "filter"
   * carries libpcap's message about the expression. onPacket(nbytes, truncated) reads `packetBuffer`.
   */
  open(iface: string, filter: string, ringBytes: number, onPacket: (nbytes: number, truncated: boolean) => void): void {
    const cap = new capModule.Cap();
    let linkName: string;
    try {
      linkName = cap.open(iface, filter, ringBytes, this.packetBuffer);
    } catch (e) {
      retainedAfterFailure.push(cap);
      const message = e instanceof Error ? e.message : String(e);
      let kind = classify(message);
      if (kind === 'other' && filter !== '') kind = CapHandle.filterIsTheProblem(iface, ringBytes) ? 'filter' : 'other';
      throw new CapOpenError(kind, message);
    }
    if (typeof cap.setMinBytes === 'function') cap.setMinBytes(0);
    this.linktype = linktypeFromCap(linkName);
    cap.on('packet', onPacket);
    this.cap = cap;
    openHandles.add(this);
  }

  /** Whether the same interface opens without a filter (then the expression was what libpcap rejected). */
  private static filterIsTheProblem(iface: string, ringBytes: number): boolean {
    const probe = new CapHandle();
    try {
      probe.open(iface, '', Math.min(ringBytes, 1 << 20), () => undefined);
      probe.close();
      return true;
    } catch {
      return false;
    }
  }

  /** Sends one frame (pcap_sendpacket); throws libpcap's message on failure. */
  send(frame: Buffer, length: number): void {
    if (this.cap === null) throw new Error('capture handle is not open');
    this.cap.send(frame, length);
  }

  get isOpen(): boolean {
    return this.cap !== null;
  }

  close(): void {
    if (this.cap === null) return;
    this.cap.close();
    this.cap.removeAllListeners('packet');
    // After close() cap's dispatch loop stops before the next memcpy, so the buffer is no longer written.
    this.cap = null;
    openHandles.delete(this);
  }
}
