/**
 * The parser must give the same answer whatever the chunking, deliver every complete record before damage,
 * and never throw or hang on any input.
 */
import { CaptureParser } from '../../src/pcap/reader';
import { craftPcap, pngBlock, pngInterface, pngPacket, pngSection, pngSimplePacket } from '../../src/pcap/craft';
import type { PacketRecord, ReadError } from '../../src/pcap/record';
import { seededRandom } from '../helpers/prng';

const rng = seededRandom;

interface Outcome {
  /** One line per record: every field plus a digest of the bytes. */
  records: string[];
  error: ReadError | null;
  offset: number;
}

function line(r: PacketRecord): string {
  return `${r.ifIndex}/${r.linktype}/${r.iface}/${r.tsSec}.${r.tsNsec}/${r.caplen}/${r.len}/${r.buf.toString('hex', r.offset, r.offset + r.caplen)}`;
}

function run(file: Buffer, sizes: (i: number) => number): Outcome {
  const records: string[] = [];
  const p = new CaptureParser((r) => records.push(line(r)));
  let pos = 0;
  let i = 0;
  while (pos < file.length) {
    const n = Math.max(1, sizes(i++));
    // Copy each chunk so a record wrongly kept pointing into an old chunk would show up as garbage.
    const chunk = Buffer.from(file.subarray(pos, pos + n));
    const ok = p.push(chunk);
    chunk.fill(0xee);
    pos += n;
    if (!ok) break;
  }
  const error = p.end();
  return { records, error, offset: p.offset };
}

const whole = (f: Buffer): Outcome => run(f, () => f.length);

/** A file as its units, each marked with how many records it carries. */
type Parts = Array<[Buffer, number]>;

function pcapParts(le: boolean, nanos: boolean): Parts {
  const file = craftPcap({ le, nanos, linktype: 113 }, [
    { data: Buffer.alloc(60, 1), tsSec: 1, tsFrac: 2 },
    { data: Buffer.alloc(0), tsSec: 3, tsFrac: 4 },
    { data: Buffer.alloc(77, 3), tsSec: 5, tsFrac: 6, len: 1500 },
    { data: Buffer.alloc(5, 4), tsSec: 7, tsFrac: 8 },
  ]);
  return [
    [file.subarray(0, 24), 0],
    [file.subarray(24, 100), 1],
    [file.subarray(100, 116), 1],
    [file.subarray(116, 209), 1],
    [file.subarray(209), 1],
  ];
}

function pcapngParts(): Parts {
  return [
    [pngSection(true), 0],
    [pngInterface(true, { linktype: 1, name: 'veth0', tsresol: 9 }), 0],
    [pngPacket(true, 0, 1700000000123456789n, Buffer.alloc(61, 1), { len: 99 }), 1],
    [pngBlock(true, 0x80000001, Buffer.alloc(7, 2)), 0],
    [pngSimplePacket(true, Buffer.alloc(9, 3)), 1],
    [pngSection(false), 0],
    [pngInterface(false, { linktype: 276, name: 'eth1', tsresol: 0x80 | 20, tsoffset: 100n }), 0],
    [pngInterface(false, { linktype: 101 }), 0],
    [pngPacket(false, 1, 12345n, Buffer.alloc(3, 4)), 1],
    [pngPacket(false, 0, (1n << 20n) * 7n + 3n, Buffer.alloc(1, 5)), 1],
  ];
}

const fixtures: Array<[string, Parts]> = [
  ['pcap LE µs', pcapParts(true, false)],
  ['pcap BE ns', pcapParts(false, true)],
  ['pcapng multi-section', pcapngParts()],
];

describe.each(fixtures)('%s', (_name, parts) => {
  const file = Buffer.concat(parts.map((p) => p[0]));
  const reference = whole(file);

  it('parses cleanly as a whole', () => {
    expect(reference.error).toBeNull();
    expect(reference.records).toHaveLength(parts.reduce((n, p) => n + p[1], 0));
    expect(reference.offset).toBe(file.length);
  });

  it('gives the same records fed one byte at a time', () => {
    expect(run(file, () => 1)).toEqual(reference);
  });

  it('gives the same records for 300 random chunkings', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const max = 1 + Math.floor(r() * 120);
      expect(run(file, () => 1 + Math.floor(r() * max))).toEqual(reference);
    }
  });

  it('truncated at every byte: complete records delivered, then one error unless at a boundary', () => {
    const boundaries = new Map<number, number>(); // end offset → records complete there
    let end = 0;
    let recs = 0;
    for (const [b, n] of parts) {
      end += b.length;
      recs += n;
      boundaries.set(end, recs);
    }
    for (let cut = 0; cut < file.length; cut++) {
      const got = run(file.subarray(0, cut), (i) => (i % 2 ? 3 : 7));
      let complete = 0;
      for (const [e, n] of boundaries) if (e <= cut) complete = n;
      expect(got.records).toEqual(reference.records.slice(0, complete));
      if (boundaries.has(cut)) {
        expect(got.error).toBeNull();
      } else {
        expect(got.error).not.toBeNull();
        expect(got.error?.message).toMatch(/^(truncated|empty input)/);
        // The error names where the incomplete unit starts: the last boundary before the cut.
        const start = Math.max(0, ...[...boundaries.keys()].filter((e) => e <= cut));
        expect(got.error?.offset).toBe(start);
      }
    }
  });
});

describe('fuzz: random corruption and truncation', () => {
  const bases: Buffer[] = fixtures.map(([, parts]) => Buffer.concat(parts.map((p) => p[0])));
  // A bigger base with many records so corruption lands in varied places.
  const many = craftPcap(
    { nanos: true },
    Array.from({ length: 200 }, (_, i) => ({ data: Buffer.alloc(i % 97, i), tsSec: i, tsFrac: i * 7 })),
  );
  bases.push(many);

  function mutate(src: Buffer, r: () => number): Buffer {
    let b: Buffer = Buffer.from(src);
    const kind = Math.floor(r() * 5);
    const at = (): number => Math.floor(r() * b.length);
    if (kind === 0) {
      for (let i = 0, n = 1 + Math.floor(r() * 8); i < n; i++) b[at()] = Math.floor(r() * 256);
    } else if (kind === 1) {
      const extremes = [0, 1, 11, 12, 13, 0xffffffff, 0x7fffffff, 262144, 262145, 0x01000000];
      const p = at() & ~3;
      if (p + 4 <= b.length) b.writeUInt32LE(extremes[Math.floor(r() * extremes.length)] >>> 0, p);
    } else if (kind === 2) {
      b = b.subarray(0, at());
    } else if (kind === 3) {
      const s = at();
      b = Buffer.concat([b.subarray(0, s), b.subarray(Math.floor(r() * b.length))]);
    } else {
      b[at()] ^= 1 << Math.floor(r() * 8);
      b = b.subarray(0, b.length - Math.floor(r() * 8));
    }
    return b;
  }

  it('4000 seeded cases: never throws, finishes fast, same outcome whole and chunked', () => {
    let slowest = 0;
    let errors = 0;
    for (let seed = 1; seed <= 4000; seed++) {
      const r = rng(seed * 7919);
      const file = mutate(bases[seed % bases.length], r);
      // CPU time, not wall time: a loaded CI machine may deschedule the process; a parse loop gone wrong
      // (huge allocation, quadratic rescans) burns CPU.
      const t0 = process.cpuUsage();
      let a: Outcome;
      let b: Outcome;
      try {
        a = whole(file);
        b = run(file, () => 1 + Math.floor(r() * 64));
      } catch (e) {
        throw new Error(`seed ${seed}: threw ${String(e)}`);
      }
      const used = process.cpuUsage(t0);
      const ms = (used.user + used.system) / 1000;
      if (ms > slowest) slowest = ms;
      if (a.error) errors++;
      expect({ seed, ...b }).toEqual({ seed, ...a });
      if (a.error) expect(a.error.offset).toBeLessThanOrEqual(file.length);
    }
    expect(slowest).toBeLessThan(500);
    // Sanity: the mutations do produce damage most of the time.
    expect(errors).toBeGreaterThan(1000);
  });

  it('push and end never throw on random garbage', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const r = rng(seed);
      const junk = Buffer.alloc(Math.floor(r() * 200));
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(r() * 256);
      // Half of the cases start with a valid magic so the parser gets past detection.
      if (seed % 2 === 0 && junk.length >= 4) junk.writeUInt32BE(seed % 4 === 0 ? 0x0a0d0d0a : 0xd4c3b2a1, 0);
      const p = new CaptureParser(() => undefined);
      expect(() => {
        p.push(junk);
        p.push(junk);
        p.end();
        p.push(junk);
        p.end();
      }).not.toThrow();
    }
  });
});
