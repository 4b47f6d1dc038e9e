import {
  craftPcap,
  pngBlock,
  pngInterface,
  pngObsoletePacket,
  pngPacket,
  pngSection,
  pngSimplePacket,
} from '../../src/pcap/craft';
import { parseCapture as parse } from '../helpers/pcap';

const pkt = (n: number, fill = 0xab): Buffer => Buffer.alloc(n, fill);

describe('classic pcap', () => {
  it.each([
    ['little-endian µs', true, false],
    ['big-endian µs', false, false],
    ['little-endian ns', true, true],
    ['big-endian ns', false, true],
  ])('reads %s', (_n, le, nanos) => {
    const file = craftPcap({ le, nanos, linktype: 1 }, [
      { data: pkt(60, 1), tsSec: 1700000000, tsFrac: nanos ? 123456789 : 123456 },
      { data: pkt(1514, 2), tsSec: 1700000001, tsFrac: 0, len: 9000 },
      { data: Buffer.alloc(0), tsSec: 4294967295, tsFrac: nanos ? 999999999 : 999999 },
    ]);
    const { recs, error, p } = parse(file);
    expect(error).toBeNull();
    expect(p.format).toBe('pcap');
    expect(p.records).toBe(3);
    expect(p.offset).toBe(file.length);
    expect(p.interfaces).toEqual([{ linktype: 1, snaplen: 262144, name: undefined }]);
    expect(recs[0]).toEqual({
      data: pkt(60, 1).toString('hex'),
      caplen: 60,
      len: 60,
      tsSec: 1700000000,
      tsNsec: nanos ? 123456789 : 123456000,
      linktype: 1,
      ifIndex: 0,
      iface: undefined,
    });
    expect(recs[1]).toMatchObject({ caplen: 1514, len: 9000, tsSec: 1700000001, tsNsec: 0 });
    expect(recs[2]).toMatchObject({ caplen: 0, tsSec: 4294967295, tsNsec: 999999999 - (nanos ? 0 : 999) });
  });

  it('reads the Kuznetzov patched format (24-byte record headers)', () => {
    const file = craftPcap({ kuznetzov: true }, [{ data: pkt(42, 7), tsSec: 5, tsFrac: 6 }]);
    const { recs, error } = parse(file);
    expect(error).toBeNull();
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ data: pkt(42, 7).toString('hex'), tsSec: 5, tsNsec: 6000 });
  });

  it('masks the link type to 16 bits (FCS flags ignored) and passes unknown types through', () => {
    const fcs = 0x04000000 | (4 << 28) | 1;
    expect(parse(craftPcap({ linktype: fcs }, [{ data: pkt(20) }])).recs[0].linktype).toBe(1);
    for (const lt of [0, 101, 108, 113, 228, 229, 276, 65000]) {
      const { recs, p } = parse(craftPcap({ linktype: lt }, [{ data: pkt(20) }]));
      expect(recs[0].linktype).toBe(lt);
      expect(p.interfaces[0].linktype).toBe(lt);
    }
  });

  it('normalises an out-of-range fraction into the seconds', () => {
    const { recs } = parse(craftPcap({}, [{ data: pkt(1), tsSec: 10, tsFrac: 2500000 }]));
    expect(recs[0]).toMatchObject({ tsSec: 12, tsNsec: 500000000 });
    const ns = parse(craftPcap({ nanos: true }, [{ data: pkt(1), tsSec: 10, tsFrac: 3999999999 }]));
    expect(ns.recs[0]).toMatchObject({ tsSec: 13, tsNsec: 999999999 });
  });

  it('accepts a header-only file as empty', () => {
    const { recs, error, p } = parse(craftPcap({}, []));
    expect(error).toBeNull();
    expect(recs).toHaveLength(0);
    expect(p.interfaces).toHaveLength(1);
  });

  it('accepts any 2.x version and rejects others', () => {
    expect(parse(craftPcap({ minor: 2 }, [{ data: pkt(4) }])).recs).toHaveLength(1);
    const bad = parse(craftPcap({ major: 3 }, [{ data: pkt(4) }]));
    expect(bad.recs).toHaveLength(0);
    expect(bad.error).toEqual({ offset: 0, message: 'unsupported pcap version 3.4 (only 2.x is defined)' });
  });

  it('truncates caplen > snaplen to the snaplen, like libpcap (the rest of the record is skipped)', () => {
    const file = craftPcap({ snaplen: 64 }, [
      { data: pkt(100, 3), len: 100 },
      { data: pkt(10, 4) },
    ]);
    const { recs, error } = parse(file);
    expect(error).toBeNull();
    expect(recs[0]).toMatchObject({ caplen: 64, len: 100, data: pkt(64, 3).toString('hex') });
    expect(recs[1]).toMatchObject({ caplen: 10, data: pkt(10, 4).toString('hex') });
  });

  it('treats snaplen 0 as the maximum', () => {
    const { recs, error } = parse(craftPcap({ snaplen: 0 }, [{ data: pkt(70000) }]));
    expect(error).toBeNull();
    expect(recs[0].caplen).toBe(70000);
  });

  it('rejects caplen above the hard maximum after delivering what came before', () => {
    const file = craftPcap({}, [{ data: pkt(10) }, { data: pkt(10), caplen: 262145 }]);
    const { recs, error } = parse(file);
    expect(recs).toHaveLength(1);
    expect(error).toEqual({
      offset: 24 + 26,
      message: 'record at byte 50: captured length 262145 exceeds the maximum 262144 (corrupt file?)',
    });
    // A smaller configured maximum applies too.
    const small = parse(craftPcap({}, [{ data: pkt(2000) }]), { maxCaplen: 1500 });
    expect(small.recs).toHaveLength(0);
    expect(small.error?.message).toMatch(/captured length 2000 exceeds the maximum 1500/);
  });

  it('names the byte offset and the shortfall of a truncated record', () => {
    const file = craftPcap({}, [{ data: pkt(60) }, { data: pkt(82) }]);
    const cut = file.subarray(0, file.length - 58);
    const { recs, error } = parse(cut);
    expect(recs).toHaveLength(1);
    expect(error).toEqual({
      offset: 100,
      message: 'truncated record at byte 100: header says 98 bytes (16-byte header + 82 captured), 40 present',
    });
    const hdr = parse(file.subarray(0, 105));
    expect(hdr.error?.message).toBe('truncated record header at byte 100: 16 bytes needed, 5 present');
    expect(parse(file.subarray(0, 10)).error?.message).toBe('truncated pcap file header at byte 0: 24 bytes needed, 10 present');
  });

  it('reports empty input and unknown magic', () => {
    expect(parse(Buffer.alloc(0)).error).toEqual({ offset: 0, message: 'empty input: no pcap or pcapng file header' });
    expect(parse(Buffer.from('GET / HTTP/1.1\r\n')).error?.message).toBe(
      'not a pcap or pcapng file: unknown magic number 0x47455420 at byte 0',
    );
    expect(parse(Buffer.from([0xa1, 0xb2])).error?.message).toBe('truncated file at byte 0: a 4-byte magic number is needed, 2 present');
  });
});

describe('pcapng', () => {
  const T = 1700000000n;

  it.each([
    ['little-endian', true],
    ['big-endian', false],
  ])('reads a %s section with EPB, SPB, OPB and skips unknown blocks', (_n, le) => {
    const file = Buffer.concat([
      pngSection(le),
      pngInterface(le, { linktype: 1, snaplen: 0, name: 'eth0' }),
      pngBlock(le, 0x0bad, Buffer.alloc(13, 9)), // unknown: skipped
      pngPacket(le, 0, T * 1000000n + 123456n, pkt(61, 1), { len: 100 }),
      pngBlock(le, 5, Buffer.alloc(16)), // interface statistics: skipped
      pngSimplePacket(le, pkt(30, 2)),
      pngObsoletePacket(le, 0, T * 1000000n + 5n, pkt(3, 3)),
    ]);
    const { recs, error, p } = parse(file);
    expect(error).toBeNull();
    expect(p.format).toBe('pcapng');
    expect(p.interfaces).toEqual([{ linktype: 1, snaplen: 0, name: 'eth0' }]);
    expect(recs).toEqual([
      { data: pkt(61, 1).toString('hex'), caplen: 61, len: 100, tsSec: 1700000000, tsNsec: 123456000, linktype: 1, ifIndex: 0, iface: 'eth0' },
      { data: pkt(30, 2).toString('hex'), caplen: 30, len: 30, tsSec: 0, tsNsec: 0, linktype: 1, ifIndex: 0, iface: 'eth0' },
      { data: pkt(3, 3).toString('hex'), caplen: 3, len: 3, tsSec: 1700000000, tsNsec: 5000, linktype: 1, ifIndex: 0, iface: 'eth0' },
    ]);
  });

  it('keeps interfaces per section with indexes unique across sections, in mixed byte orders', () => {
    const file = Buffer.concat([
      pngSection(true),
      pngInterface(true, { linktype: 1, name: 'a' }),
      pngInterface(true, { linktype: 113, name: 'b' }),
      pngPacket(true, 1, 1n, pkt(4)),
      pngSection(false),
      pngInterface(false, { linktype: 276, name: 'c', tsresol: 9 }),
      pngPacket(false, 0, 2n, pkt(5)),
      pngSection(true),
      pngInterface(true, { linktype: 101 }),
      pngInterface(true, { linktype: 228, name: 'e' }),
      pngPacket(true, 1, 3n, pkt(6)),
      pngPacket(true, 0, 4n, pkt(7)),
    ]);
    const { recs, error, p } = parse(file);
    expect(error).toBeNull();
    expect(p.interfaces.map((i) => [i.linktype, i.name])).toEqual([
      [1, 'a'],
      [113, 'b'],
      [276, 'c'],
      [101, undefined],
      [228, 'e'],
    ]);
    expect(recs.map((r) => [r.ifIndex, r.linktype, r.iface, r.caplen, r.tsNsec])).toEqual([
      [1, 113, 'b', 4, 1000],
      [2, 276, 'c', 5, 2],
      [4, 228, 'e', 6, 3000],
      [3, 101, undefined, 7, 4000],
    ]);
  });

  it.each([
    ['10^-6 (default)', undefined, 1700000000123456n, 1700000000, 123456000],
    ['10^-9', 9, 1795848999566651234n, 1795848999, 566651234],
    ['10^-3', 3, 1700000000999n, 1700000000, 999000000],
    ['10^0', 0, 1700000000n, 1700000000, 0],
    ['10^-12 (sub-ns truncated)', 12, 1700000000123456789999n & 0xffffffffffffffffn, -1, -1],
    ['2^-10', 0x80 | 10, (1700000000n << 10n) | 512n, 1700000000, 500000000],
    ['2^-30', 0x80 | 30, (1700000000n << 30n) | 1n, 1700000000, 0],
    ['2^-20', 0x80 | 20, (1234n << 20n) | 0xfffffn, 1234, 999999046],
    ['2^-40', 0x80 | 40, (3n << 40n) | (1n << 39n), 3, 500000000],
    ['2^-63', 0x80 | 63, (1n << 63n) | ((1n << 63n) - 1n), 1, 999999999],
    ['2^0', 0x80, 42n, 42, 0],
  ])('converts timestamps with if_tsresol %s exactly', (_n, tsresol, ts, sec, nsec) => {
    const file = Buffer.concat([pngSection(true), pngInterface(true, { tsresol }), pngPacket(true, 0, ts, pkt(1))]);
    const { recs, error } = parse(file);
    expect(error).toBeNull();
    // Reference: exact BigInt arithmetic.
    const res = tsresol ?? 6;
    const unitsPerSec = res & 0x80 ? 1n << BigInt(res & 0x7f) : 10n ** BigInt(res);
    const refSec = ts / unitsPerSec;
    const refNsec = ((ts % unitsPerSec) * 1000000000n) / unitsPerSec;
    expect(recs[0].tsSec).toBe(Number(refSec));
    expect(recs[0].tsNsec).toBe(Number(refNsec));
    if (sec >= 0) expect([recs[0].tsSec, recs[0].tsNsec]).toEqual([sec, nsec]);
  });

  it('adds if_tsoffset (signed seconds)', () => {
    const file = Buffer.concat([
      pngSection(false),
      pngInterface(false, { tsresol: 9, tsoffset: 1000000000n }),
      pngInterface(false, { tsoffset: -5n }),
      pngPacket(false, 0, 700000000123456789n, pkt(1)),
      pngPacket(false, 1, 10000001n, pkt(1)),
    ]);
    const { recs, error } = parse(file);
    expect(error).toBeNull();
    expect(recs[0]).toMatchObject({ tsSec: 1700000000, tsNsec: 123456789 });
    expect(recs[1]).toMatchObject({ tsSec: 5, tsNsec: 1000 });
  });

  it('limits SPB and EPB data to the interface snaplen, SPB to its original length', () => {
    const file = Buffer.concat([
      pngSection(true),
      pngInterface(true, { snaplen: 16 }),
      pngSimplePacket(true, pkt(40, 5), 100),
      pngSimplePacket(true, pkt(8, 6), 5), // 3 bytes of padding beyond the original length
      pngPacket(true, 0, 0n, pkt(20, 7)),
    ]);
    const { recs, error } = parse(file);
    expect(error).toBeNull();
    expect(recs.map((r) => [r.caplen, r.len, r.data])).toEqual([
      [16, 100, pkt(16, 5).toString('hex')],
      [5, 5, pkt(5, 6).toString('hex')],
      [16, 20, pkt(16, 7).toString('hex')],
    ]);
  });

  it('errors on an EPB naming an unknown interface, after earlier records', () => {
    const shb = pngSection(true);
    const idb = pngInterface(true, {});
    const ok = pngPacket(true, 0, 0n, pkt(4));
    const file = Buffer.concat([shb, idb, ok, pngPacket(true, 1, 0n, pkt(4))]);
    const { recs, error } = parse(file);
    expect(recs).toHaveLength(1);
    const at = shb.length + idb.length + ok.length;
    expect(error).toEqual({
      offset: at,
      message: `bad enhanced packet block at byte ${at}: interface id 1 is unknown (the section has 1 interface description block so far)`,
    });
    // Interfaces of an earlier section don't count in a new one.
    const second = parse(Buffer.concat([shb, idb, shb, pngSimplePacket(true, pkt(3))]));
    expect(second.error?.message).toMatch(/simple packet block at byte \d+: interface id 0 is unknown \(the section has 0 interface description blocks/);
  });

  it('checks every block length', () => {
    const shb = pngSection(true);
    const idb = pngInterface(true, {});
    const base = Buffer.concat([shb, idb]);
    const at = base.length;
    const cases: Array<[Buffer, string]> = [
      [pngBlock(true, 6, Buffer.alloc(20), { len: 8 }), `bad enhanced packet block at byte ${at}: block length 8 is less than the minimum 12`],
      [pngBlock(true, 6, Buffer.alloc(20), { len: 34 }), `bad enhanced packet block at byte ${at}: block length 34 is not a multiple of 4`],
      [pngBlock(true, 99, Buffer.alloc(4), { len: 0x7ffffffc }), `bad block (type 0x63) at byte ${at}: block length 2147483644 exceeds the maximum 16777216`],
      [pngBlock(true, 99, Buffer.alloc(4), { trailer: 20 }), `bad block (type 0x63) at byte ${at}: trailing length 20 differs from leading length 16`],
      [pngPacket(true, 0, 0n, pkt(8), { caplen: 9 }), `bad enhanced packet block at byte ${at}: captured length 9 does not fit in a block of 40 bytes`],
      [pngPacket(true, 0, 0n, pkt(8), { caplen: 300000 }), `bad enhanced packet block at byte ${at}: captured length 300000 exceeds the maximum 262144 (corrupt file?)`],
      [pngBlock(true, 6, Buffer.alloc(4)), `bad enhanced packet block at byte ${at}: block length 16 is less than 32`],
    ];
    for (const [block, message] of cases) {
      const after = pngPacket(true, 0, 0n, pkt(4));
      const { recs, error } = parse(Buffer.concat([base, block, after]));
      expect(recs).toHaveLength(0);
      expect(error).toEqual({ offset: at, message });
    }
    const badShb = pngBlock(true, 0x0a0d0d0a, Buffer.alloc(4));
    expect(parse(badShb).error?.message).toBe('bad section header block at byte 0: byte-order magic 0x0 is neither 0x1a2b3c4d nor its swap');
    expect(parse(pngSection(true, { major: 2 })).error?.message).toBe('unsupported pcapng version 2.0 in section header at byte 0');
  });

  it('rejects an IDB option running past the block, and an unusable if_tsresol', () => {
    const idb = pngInterface(true, { name: 'eth0' });
    idb.writeUInt16LE(200, 16 + 2); // if_name length far beyond the block
    const r = parse(Buffer.concat([pngSection(true), idb]));
    expect(r.error?.message).toBe('bad interface description block at byte 28: option 2 at byte 44 has length 200, past the end of the block');
    const r2 = parse(Buffer.concat([pngSection(true), pngInterface(true, { tsresol: 20 })]));
    expect(r2.error?.message).toBe('bad interface description block at byte 28: unsupported if_tsresol 0x14');
  });

  it('describes truncated blocks', () => {
    const file = Buffer.concat([pngSection(true), pngInterface(true, {}), pngPacket(true, 0, 0n, pkt(100))]);
    const at = file.length - 132;
    expect(parse(file.subarray(0, file.length - 10)).error).toEqual({
      offset: at,
      message: `truncated enhanced packet block at byte ${at}: header says 132 bytes, 122 present`,
    });
    expect(parse(file.subarray(0, at + 5)).error?.message).toBe(`truncated block header at byte ${at}: 8 bytes needed, 5 present`);
    expect(parse(pngSection(false).subarray(0, 10)).error?.message).toBe('truncated block header at byte 0: 12 bytes needed, 10 present');
  });
});
