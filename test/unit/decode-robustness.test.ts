import { decodePacket } from '../../src/decode/decode';
import { describeProblem, formatLine, protocolName, toJson } from '../../src/decode/format';
import { sampleFrames } from '../../src/decode/samples';
import { L, PacketView } from '../../src/decode/view';
import { FilterError, RecordFilter } from '../../src/filter/filter';
import { LinkType, type PacketRecord } from '../../src/pcap/record';
import { seededRandom } from '../helpers/prng';

process.env.TZ = 'UTC';

function rec(buf: Buffer, offset: number, caplen: number, len: number, linktype: number): PacketRecord {
  return { buf, offset, caplen, len, tsSec: 1795848999, tsNsec: 1000, linktype, ifIndex: 0, iface: undefined };
}

const prng = seededRandom;

const filters = ['tcp or udp', 'host 10.244.1.2 and not port 80', 'vlan and icmp', 'vxlan and icmp', 'ip6 and net fe80::/10', 'ether host 6a:fc:26:3f:99:48 or arp'].map((e) => RecordFilter.compile(e)!);

/** Everything a consumer might do with a view: none of it may throw. */
function exercise(v: PacketView, r: PacketRecord): string {
  let out = formatLine(v, r, { ether: true }) + formatLine(v, r) + toJson(v, r, 1) + protocolName(v) + (describeProblem(v) ?? '');
  for (const f of filters) {
    try {
      out += f.matches(v, r) ? '1' : '0';
    } catch (e) {
      // A link type the expression cannot apply to (ether on raw IP): refused as a value, never a crash.
      if (!(e instanceof FilterError)) throw e;
      out += '-';
    }
  }
  return out;
}

function bitCount(x: number): number {
  let n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

describe('every prefix of every crafted frame', () => {
  it.each(sampleFrames().map((s) => [s.name, s] as const))('%s', (_name, s) => {
    const full = decodePacket(new PacketView(), s.frame, 0, s.frame.length, s.frame.length, s.linktype);
    expect(full.truncated).toBe(0);
    expect(full.malformed).toBe(0);
    const v = new PacketView();
    let prevLayers = 0;
    for (let k = 0; k <= s.frame.length; k++) {
      // The bytes after the prefix stay in the buffer: the decoder must not look at them.
      expect(() => decodePacket(v, s.frame, 0, k, s.frame.length, s.linktype)).not.toThrow();
      expect(v.malformed).toBe(0);
      // Layers only grow with the prefix, and are always a subset of the full decode.
      expect(v.layers & ~full.layers).toBe(0);
      expect(bitCount(v.layers)).toBeGreaterThanOrEqual(bitCount(prevLayers));
      prevLayers = v.layers;
      if (v.layers !== full.layers) {
        // Something is missing: the cut must be reported at a layer the full frame has (or the link header).
        expect(v.truncated).not.toBe(0);
        expect((full.layers | L.LINK) & v.truncated).toBe(v.truncated);
        expect(v.layers & v.truncated).toBe(0);
        expect(describeProblem(v)).toMatch(/^truncated [a-z0-9]+$/);
      } else if (full.inner === null || !(full.layers & L.VXLAN)) {
        expect(v.truncated).toBe(0);
      }
      expect(() => exercise(v, rec(s.frame, 0, k, s.frame.length, s.linktype))).not.toThrow();
    }
    expect(v.layers).toBe(full.layers);
  });

  it('names the exact layer for each cut of a TCP SYN with options', () => {
    const s = sampleFrames().find((x) => x.name === 'tcp-syn');
    if (!s) throw new Error('sample missing');
    const v = new PacketView();
    const want = (k: number): number => (k < 14 ? L.ETH : k < 34 ? L.IPV4 : k < 74 ? L.TCP : 0);
    for (let k = 0; k <= s.frame.length; k++) {
      decodePacket(v, s.frame, 0, k, s.frame.length, s.linktype);
      expect([k, v.truncated]).toEqual([k, want(k)]);
    }
  });

  it('VXLAN: cuts inside the inner frame are reported on the inner view', () => {
    const s = sampleFrames().find((x) => x.name === 'vxlan-icmp');
    if (!s) throw new Error('sample missing');
    const v = new PacketView();
    const innerStart = 14 + 20 + 8 + 8;
    for (let k = innerStart; k < innerStart + 42; k++) {
      decodePacket(v, s.frame, 0, k, s.frame.length, s.linktype);
      expect(v.layers & L.VXLAN).toBeTruthy();
      const inner = v.inner as PacketView;
      const cut = k - innerStart;
      expect(inner.truncated).toBe(cut < 14 ? L.ETH : cut < 34 ? L.IPV4 : L.ICMP);
    }
  });
});

describe('garbage after caplen and offsets into larger buffers', () => {
  it('gives identical results whatever follows the captured bytes', () => {
    const rnd = prng(7);
    for (const s of sampleFrames()) {
      for (const k of [s.frame.length, Math.floor(s.frame.length / 2), 17]) {
        const caplen = Math.min(k, s.frame.length);
        const exact = Buffer.from(s.frame.subarray(0, caplen));
        const ref = new PacketView();
        decodePacket(ref, exact, 0, caplen, s.frame.length, s.linktype);
        const refOut = exercise(ref, rec(exact, 0, caplen, s.frame.length, s.linktype));
        for (let trial = 0; trial < 5; trial++) {
          const off = 1 + Math.floor(rnd() * 100);
          const big = Buffer.alloc(off + caplen + 2000);
          for (let i = 0; i < big.length; i++) big[i] = Math.floor(rnd() * 256);
          exact.copy(big, off);
          const v = new PacketView();
          decodePacket(v, big, off, caplen, s.frame.length, s.linktype);
          const out = exercise(v, rec(big, off, caplen, s.frame.length, s.linktype));
          expect(out).toBe(refOut);
        }
      }
    }
  });

  it('reuses one view across packets without leaking state between them', () => {
    const all = sampleFrames();
    const shared = new PacketView();
    for (let round = 0; round < 2; round++) {
      for (const s of all) {
        decodePacket(shared, s.frame, 0, s.frame.length, s.frame.length, s.linktype);
        const fresh = decodePacket(new PacketView(), s.frame, 0, s.frame.length, s.frame.length, s.linktype);
        const r = rec(s.frame, 0, s.frame.length, s.frame.length, s.linktype);
        expect(exercise(shared, r)).toBe(exercise(fresh, r));
      }
    }
  });

  it('a caplen past the end of the buffer is clamped, not read as undefined', () => {
    const s = sampleFrames()[0];
    const v = decodePacket(new PacketView(), s.frame, 0, s.frame.length + 500, s.frame.length + 500, s.linktype);
    expect(v.caplen).toBe(s.frame.length);
    expect(() => decodePacket(new PacketView(), s.frame, s.frame.length + 10, 40, 40, s.linktype)).not.toThrow();
  });
});

describe('seeded random corruption never throws', () => {
  it('flips bytes in every crafted frame (thousands of variants)', () => {
    const rnd = prng(20261128);
    const v = new PacketView();
    let variants = 0;
    for (const s of sampleFrames()) {
      const f = Buffer.alloc(s.frame.length);
      for (let iter = 0; iter < 400; iter++) {
        s.frame.copy(f);
        const flips = 1 + Math.floor(rnd() * 8);
        for (let j = 0; j < flips; j++) f[Math.floor(rnd() * f.length)] = Math.floor(rnd() * 256);
        const caplen = rnd() < 0.3 ? Math.floor(rnd() * f.length) : f.length;
        const len = rnd() < 0.1 ? Math.floor(rnd() * 70000) : f.length;
        decodePacket(v, f, 0, caplen, len, s.linktype);
        exercise(v, rec(f, 0, caplen, len, s.linktype));
        variants++;
      }
    }
    expect(variants).toBeGreaterThan(10000);
  });

  it('decodes pure noise on every link type', () => {
    const rnd = prng(42);
    const v = new PacketView();
    const types = [LinkType.EN10MB, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.RAW, LinkType.IPV4, LinkType.IPV6, LinkType.NULL, LinkType.LOOP, 147];
    const buf = Buffer.alloc(256);
    for (let iter = 0; iter < 3000; iter++) {
      for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(rnd() * 256);
      // Bias towards interesting values so the deeper layers get reached.
      if (rnd() < 0.5) buf.writeUInt16BE([0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8][iter % 5], 12);
      if (rnd() < 0.5) buf[14] = 0x45;
      const lt = types[iter % types.length];
      const caplen = Math.floor(rnd() * buf.length);
      decodePacket(v, buf, 0, caplen, caplen, lt);
      exercise(v, rec(buf, 0, caplen, caplen, lt));
    }
  });
});

describe('allocation', () => {
  it('decoding allocates nothing measurable per packet', () => {
    const all = sampleFrames();
    const v = new PacketView();
    const run = (n: number): number => {
      let x = 0;
      for (let i = 0; i < n; i++) {
        const s = all[i % all.length];
        x += decodePacket(v, s.frame, 0, s.frame.length, s.frame.length, s.linktype).layers;
      }
      return x;
    };
    run(50000);
    const before = process.memoryUsage().heapUsed;
    const x = run(500000);
    const grown = process.memoryUsage().heapUsed - before;
    expect(x).toBeGreaterThan(0);
    // 500k decodes allocating even one 16-byte object each would add ~8 MB.
    expect(grown).toBeLessThan(2_000_000);
  });
});
