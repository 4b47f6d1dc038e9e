import { TimestampMerger } from '../../src/capture/merge';
import type { PacketRecord } from '../../src/pcap/record';

function rec(sec: number, nsec: number, payload: string): PacketRecord {
  const buf = Buffer.from(`..${payload}`);
  return { buf, offset: 2, caplen: payload.length, len: payload.length + 10, tsSec: sec, tsNsec: nsec, linktype: 1, ifIndex: 0, iface: undefined };
}

interface Out {
  iface: string | undefined;
  ifIndex: number;
  text: string;
  sec: number;
  nsec: number;
  len: number;
}

function collect(names: string[]): { m: TimestampMerger; out: Out[] } {
  const out: Out[] = [];
  const m = new TimestampMerger(names, (r) =>
    out.push({ iface: r.iface, ifIndex: r.ifIndex, text: r.buf.toString('latin1', r.offset, r.offset + r.caplen), sec: r.tsSec, nsec: r.tsNsec, len: r.len }),
  );
  return { m, out };
}

describe('TimestampMerger', () => {
  it('releases in timestamp order once every open source has something queued', () => {
    const { m, out } = collect(['a', 'ns/b']);
    m.push(0, rec(10, 5, 'a1'));
    m.push(0, rec(10, 30, 'a2'));
    m.release(0, 0);
    expect(out).toHaveLength(0); // b may still send something earlier
    m.push(1, rec(10, 10, 'b1'));
    m.release(0, 0);
    expect(out.map((o) => o.text)).toEqual(['a1', 'b1']);
    expect(out[1]).toEqual({ iface: 'ns/b', ifIndex: 1, text: 'b1', sec: 10, nsec: 10, len: 12 });
    m.release(Infinity, 0);
    expect(out.map((o) => o.text)).toEqual(['a1', 'b1', 'a2']);
  });

  it('releases records older than the watermark even when a source is silent', () => {
    const { m, out } = collect(['a', 'b']);
    m.push(0, rec(10, 0, 'a1'));
    m.push(0, rec(12, 0, 'a2'));
    m.release(11, 0);
    expect(out.map((o) => o.text)).toEqual(['a1']);
    expect(m.held).toBe(1);
  });

  it('does not wait for a closed source', () => {
    const { m, out } = collect(['a', 'b']);
    m.push(0, rec(10, 0, 'a1'));
    m.close(1);
    m.release(0, 0);
    expect(out.map((o) => o.text)).toEqual(['a1']);
  });

  it('counts a record that arrives behind the window as late and still delivers it', () => {
    const { m, out } = collect(['a', 'b']);
    m.push(0, rec(10, 0, 'a1'));
    m.release(20, 0);
    m.push(1, rec(9, 0, 'b-late'));
    m.release(20, 0);
    expect(out.map((o) => o.text)).toEqual(['a1', 'b-late']);
    expect(m.late).toBe(1);
  });

  it('keeps bytes and order intact across arena growth and compaction', () => {
    const { m, out } = collect(['a', 'b', 'c']);
    const expected: string[] = [];
    let t = 0;
    // Large records (up to 64 KiB, like GSO frames) and many of them, interleaved, released in waves.
    for (let wave = 0; wave < 20; wave++) {
      for (let i = 0; i < 150; i++) {
        const src = (i * 7 + wave) % 3;
        const size = (i * 997 + wave * 31) % 65536;
        const body = `${wave}:${i}:` + String.fromCharCode(65 + (i % 26)).repeat(size);
        t += 1000;
        m.push(src, rec(100 + Math.floor(t / 1e9), t % 1e9, body));
        expected.push(body);
      }
      // Release half of the wave, so queues keep live entries while new ones arrive.
      m.release(100, t - 75_000);
    }
    m.release(Infinity, 0);
    expect(out.length).toBe(expected.length);
    expect(out.every((o, i) => o.text === expected[i])).toBe(true);
    expect(m.late).toBe(0);
  });
});
