/**
 * Differential test: every real-traffic fixture in fixtures/pcap, read and decoded the way `netscope read --json`
 * does it, agrees field by field with tshark on the same file (addresses, ports, protocol numbers, TTLs, IP ids,
 * fragment fields, TCP flags, ICMP type/code/id/seq, ARP opcode, VNI, IPv6/ICMPv6, timestamps, lengths,
 * interface names). Encapsulated layers (VXLAN inner frames, the datagram quoted by an ICMP error) give tshark
 * several values per field, outermost first; our JSON nests them, and is flattened in the same order.
 */
import { execFile } from 'child_process';
import fs from 'fs';
import path from 'path';
import { decodeRecord } from '../../src/decode/decode';
import { toJson } from '../../src/decode/format';
import { PacketView } from '../../src/decode/view';
import { openCaptureInput, readCapture } from '../../src/pcap/reader';

const DIR = path.join(__dirname, '..', '..', 'fixtures', 'pcap');
const FIXTURES = fs.readdirSync(DIR).filter((f) => /\.(pcap|pcapng)$/.test(f)).sort();

const FIELDS = [
  'frame.number', 'frame.time_epoch', 'frame.len', 'frame.cap_len', 'frame.interface_name',
  'eth.src', 'eth.dst', 'arp.opcode',
  'ip.src', 'ip.dst', 'ip.proto', 'ip.ttl', 'ip.id', 'ip.flags.mf', 'ip.frag_offset',
  'ipv6.src', 'ipv6.dst', 'icmpv6.type', 'icmpv6.nd.ns.target_address', 'icmpv6.nd.na.target_address',
  'tcp.srcport', 'tcp.dstport', 'tcp.flags', 'udp.srcport', 'udp.dstport',
  'icmp.type', 'icmp.code', 'icmp.ident', 'icmp.seq', 'vxlan.vni',
];

/**
 * Fields of the quoted datagram inside an ICMP error that our JSON does not carry (its TTL, id, fragment
 * fields; the quoted ICMP header): for such packets ours must be a prefix of tshark's values.
 */
const PREFIX_IN_ICMP_ERRORS = new Set(['ip.ttl', 'ip.id', 'ip.flags.mf', 'ip.frag_offset', 'icmp.type', 'icmp.code', 'icmp.ident', 'icmp.seq']);

type Fields = Map<string, string[]>;

/* eslint-disable @typescript-eslint/no-explicit-any -- the parsed JSON lines are checked field by field */
type Json = any;

const TCP_FLAG_BITS: Record<string, number> = { F: 1, S: 2, R: 4, P: 8, A: 16, U: 32, E: 64, C: 128 };

function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

/** Our JSON object flattened to tshark's field names, outer layers first. */
function flatten(j: Json): Fields {
  const f: Fields = new Map();
  const add = (k: string, v: string | number): void => {
    const list = f.get(k);
    if (list) list.push(String(v));
    else f.set(k, [String(v)]);
  };
  add('frame.number', j.n);
  add('frame.time_epoch', j.ts);
  add('frame.len', j.len);
  add('frame.cap_len', j.caplen);
  if (j.iface !== undefined) add('frame.interface_name', j.iface);
  const layer = (x: Json): void => {
    if (x.eth) {
      add('eth.src', x.eth.src);
      add('eth.dst', x.eth.dst);
    }
    if (x.arp) add('arp.opcode', x.arp.op);
    if (x.ipv4) {
      add('ip.src', x.ipv4.src);
      add('ip.dst', x.ipv4.dst);
      add('ip.proto', x.ipv4.proto);
      add('ip.ttl', x.ipv4.ttl);
      add('ip.id', hex4(x.ipv4.id));
      add('ip.flags.mf', x.ipv4.mf ? 1 : 0);
      add('ip.frag_offset', x.ipv4.frag / 8); // ours in bytes, tshark 4.0 in 8-byte units
    }
    if (x.ipv6) {
      add('ipv6.src', x.ipv6.src);
      add('ipv6.dst', x.ipv6.dst);
    }
    if (x.icmpv6) {
      add('icmpv6.type', x.icmpv6.type);
      if (x.icmpv6.target !== undefined) {
        add(x.icmpv6.type === 135 ? 'icmpv6.nd.ns.target_address' : 'icmpv6.nd.na.target_address', x.icmpv6.target);
      }
    }
    if (x.tcp) {
      add('tcp.srcport', x.tcp.sport);
      add('tcp.dstport', x.tcp.dport);
      let bits = 0;
      for (const c of x.tcp.flags as string) bits |= TCP_FLAG_BITS[c];
      add('tcp.flags', hex4(bits));
    }
    if (x.udp) {
      add('udp.srcport', x.udp.sport);
      add('udp.dstport', x.udp.dport);
    }
    if (x.icmp) {
      add('icmp.type', x.icmp.type);
      add('icmp.code', x.icmp.code);
      if (x.icmp.id !== undefined) {
        add('icmp.ident', x.icmp.id);
        add('icmp.seq', x.icmp.seq);
      }
      const q = x.icmp.inner;
      if (q) {
        add('ip.src', q.src);
        add('ip.dst', q.dst);
        add('ip.proto', q.proto);
        if (q.sport !== undefined) {
          const p = q.proto === 6 ? 'tcp' : 'udp';
          add(`${p}.srcport`, q.sport);
          add(`${p}.dstport`, q.dport);
        }
      }
    }
    if (x.vxlan) {
      add('vxlan.vni', x.vxlan.vni);
      if (x.vxlan.inner) layer(x.vxlan.inner);
    }
  };
  layer(j);
  return f;
}

function tshark(file: string): Promise<Fields[]> {
  // tshark decodes VXLAN on 4789 only; netscope also on 8472, the kernel's (and flannel's) default.
  const args = ['-r', file, '-o', 'ip.defragment:FALSE', '-d', 'udp.port==8472,vxlan', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const e of FIELDS) args.push('-e', e);
  return new Promise((resolve, reject) => {
    execFile('tshark', args, { maxBuffer: 64 << 20 }, (err, stdout) => {
      if (err) return reject(new Error(`tshark -r ${file} failed: ${err.message}`));
      const rows = stdout.split('\n').filter((l) => l !== '');
      resolve(
        rows.map((line) => {
          const cols = line.split('\t');
          const m: Fields = new Map();
          FIELDS.forEach((name, i) => {
            const v = cols[i] ?? '';
            // tshark names an interface without if_name "unknown"; our records leave iface unset.
            if (v !== '' && !(name === 'frame.interface_name' && v === 'unknown')) m.set(name, v.split(','));
          });
          return m;
        }),
      );
    });
  });
}

/** What `netscope read --json` prints for the file, parsed (the same decode + toJson path as the command). */
async function ours(file: string): Promise<Json[]> {
  const view = new PacketView();
  const out: Json[] = [];
  let n = 0;
  const r = await readCapture(openCaptureInput(file), (rec) => {
    n++;
    decodeRecord(view, rec);
    out.push(JSON.parse(toJson(view, rec, n)));
  });
  if (r.error) throw new Error(`${file}: ${r.error.message}`);
  return out;
}

const results = new Map<string, { tshark: Fields[]; ours: Json[] }>();

beforeAll(async () => {
  await Promise.all(
    FIXTURES.map(async (f) => {
      const file = path.join(DIR, f);
      const [t, o] = await Promise.all([tshark(file), ours(file)]);
      results.set(f, { tshark: t, ours: o });
    }),
  );
}, 90_000);

describe('fixtures/pcap', () => {
  it('holds the captures the read tests rely on', () => {
    for (const f of ['arp.pcap', 'icmp.pcap', 'icmp-errors.pcap', 'frag.pcap', 'tcp.pcap', 'udp.pcap', 'vxlan.pcap', 'icmpv6.pcap',
      'gso.pcap', 'sll.pcap', 'sll2.pcap', 'raw.pcap', 'tcp.pcapng', 'icmp-nsec.pcap', 'icmp-be.pcap', 'multi.pcapng']) {
      expect(FIXTURES).toContain(f);
      expect(fs.statSync(path.join(DIR, f)).size).toBeLessThan(200 * 1024);
    }
  });

  it('contain what their names promise', () => {
    const all = (f: string): Json[] => results.get(f)?.ours ?? [];
    // ARP: a request answered, and requests for an absent host that nobody answers.
    const arp = all('arp.pcap').filter((j) => j.arp);
    expect(arp.filter((j) => j.arp.op === 2).length).toBeGreaterThanOrEqual(1);
    expect(arp.filter((j) => j.arp.op === 1 && j.arp.tpa === '10.244.1.99').length).toBeGreaterThanOrEqual(2);
    // ICMP errors: port unreachable quoting UDP ports, time exceeded, fragmentation needed.
    const err = all('icmp-errors.pcap').filter((j) => j.icmp?.inner);
    expect(err.map((j) => `${j.icmp.type}/${j.icmp.code}`).sort()).toEqual(['11/0', '3/3', '3/4']);
    expect(err.find((j) => j.icmp.code === 3).icmp.inner.dport).toBe(33434);
    // Fragments: first fragment with MF, later ones with byte offsets.
    expect(all('frag.pcap').some((j) => j.ipv4?.frag === 1480)).toBe(true);
    // TCP: SYN, SYN-ACK, FIN, and an RST for the closed port.
    const flags = all('tcp.pcap').map((j) => j.tcp.flags);
    expect(flags).toEqual(expect.arrayContaining(['S', 'SA', 'FA', 'RA']));
    // VXLAN: every frame is VNI 42 with a decoded inner frame.
    expect(all('vxlan.pcap').every((j) => j.vxlan?.vni === 42 && j.vxlan.inner?.eth)).toBe(true);
    // ICMPv6: neighbour solicitation/advertisement and echo.
    expect(new Set(all('icmpv6.pcap').map((j) => j.icmpv6.type))).toEqual(new Set([135, 136, 128, 129]));
    // GSO: frames far above the 1514-byte wire maximum.
    expect(Math.max(...all('gso.pcap').map((j) => j.caplen))).toBeGreaterThan(10000);
    // Link types and formats.
    expect(all('sll.pcap').every((j) => j.eth === undefined)).toBe(true);
    expect(all('raw.pcap').every((j) => j.eth === undefined && j.ipv4)).toBe(true);
    expect(new Set(all('multi.pcapng').map((j) => j.iface))).toEqual(new Set(['r1', 'r2']));
    // The converted variants carry the same packets as their sources.
    expect(all('icmp-be.pcap')).toEqual(all('icmp.pcap'));
    expect(all('icmp-nsec.pcap')).toEqual(all('icmp.pcap'));
    expect(all('tcp.pcapng')).toEqual(all('tcp.pcap'));
  });

  it.each(FIXTURES)('%s agrees with tshark field by field', (f) => {
    const r = results.get(f);
    if (!r) throw new Error(`${f} was not read`);
    expect(r.ours.length).toBeGreaterThan(0);
    expect(r.ours.length).toBe(r.tshark.length);
    const mismatches: string[] = [];
    r.ours.forEach((j, i) => {
      const mine = flatten(j);
      const theirs = r.tshark[i];
      const quoting = j.icmp?.inner !== undefined || j.vxlan?.inner?.icmp?.inner !== undefined; // also an ICMP error inside VXLAN
      for (const name of FIELDS) {
        const a = mine.get(name) ?? [];
        const b = theirs.get(name) ?? [];
        const same = quoting && PREFIX_IN_ICMP_ERRORS.has(name) ? b.slice(0, a.length).join(',') === a.join(',') : a.join(',') === b.join(',');
        if (!same) mismatches.push(`frame ${i + 1} ${name}: netscope ${a.join(',') || '(none)'} tshark ${b.join(',') || '(none)'}`);
      }
    });
    expect(mismatches).toEqual([]);
  });
});
