/**
 * The frames of a capture file held in memory for replay: pacing needs to look at one frame at a time at
 * its own moment, which a push parser cannot give, so the file is read once up front.
 */
import fs from 'fs';
import { CaptureParser } from '../pcap/reader';
import type { PacketRecord } from '../pcap/record';

export interface FrameSet {
  frames: Buffer[];
  /** Capture time of each frame relative to the first, in milliseconds (file timing for --speed). */
  relMs: Float64Array;
  linktypes: Set<number>;
  bytes: number;
}

/** Reads a pcap or pcapng file; throws with the reader's message when the file is damaged before any frame. */
export function loadFrameSet(file: string): FrameSet {
  const frames: Buffer[] = [];
  const secs: number[] = [];
  const nsecs: number[] = [];
  const linktypes = new Set<number>();
  let bytes = 0;
  const parser = new CaptureParser((rec: PacketRecord) => {
    frames.push(Buffer.from(rec.buf.subarray(rec.offset, rec.offset + rec.caplen)));
    secs.push(rec.tsSec);
    nsecs.push(rec.tsNsec);
    linktypes.add(rec.linktype);
    bytes += rec.caplen;
  });
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      parser.push(chunk.subarray(0, n));
      if (parser.error) break;
    }
    parser.end();
  } finally {
    fs.closeSync(fd);
  }
  if (parser.error && frames.length === 0) throw new Error(`${file}: ${parser.error.message}`);
  const relMs = new Float64Array(frames.length);
  for (let i = 1; i < frames.length; i++) {
    relMs[i] = (secs[i] - secs[0]) * 1000 + (nsecs[i] - nsecs[0]) / 1e6;
  }
  return { frames, relMs, linktypes, bytes };
}
