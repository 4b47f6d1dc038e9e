/**
 * `read`'s filter has libpcap's meaning: for every fixture and every expression below (taken from the
 * pcap-filter manual's families: protocols, hosts/nets/masks, ports and ranges, `len`/`greater`/`less`,
 * packet-data accessors with named offsets and flags, ether/ip/ip6 broadcast and multicast, vlan, geneve,
 * proto with escapes), netscope keeps exactly the packets `tcpdump -r FILE EXPR` keeps (same frame numbers),
 * or both refuse the expression for the file's link type. Plus the compiler's own edge cases.
 */
import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { decodeRecord } from '../../src/decode/decode';
import { PacketView } from '../../src/decode/view';
import { bpfToFunction, decodeInsns } from '../../src/filter/bpf';
import { describeFilterError, FilterError, RecordFilter } from '../../src/filter/filter';
import { compileBpf } from '../../src/libpcap/handle';
import { CaptureParser } from '../../src/pcap/reader';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURES = ['fixtures/pcap', 'fixtures/flows'].flatMap((dir) =>
  fs
    .readdirSync(path.join(ROOT, dir))
    .filter((f) => /\.pcap(ng)?$/.test(f))
    .map((f) => path.join(dir, f)),
);

const EXPRESSIONS = [
  'tcp',
  'udp',
  'icmp',
  'arp',
  'ip',
  'ip6',
  'icmp6',
  'arp or rarp',
  'ether broadcast',
  'ether multicast',
  'ip multicast',
  'ip6 multicast',
  'len > 50',
  'len <= 100',
  'greater 100',
  'less 80',
  'tcp[tcpflags] & tcp-syn != 0',
  'tcp[tcpflags] & (tcp-syn|tcp-fin) != 0',
  'tcp[tcpflags] == tcp-ack',
  'tcp[13] & 2 != 0',
  'icmp[icmptype] == icmp-echo',
  'icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply',
  'icmp6[icmp6type] == icmp6-echo',
  'ip[8] < 64',
  'ip[6:2] & 0x1fff != 0',
  'ip[6:2] & 0x2000 != 0',
  'ip[0] & 0xf != 5',
  'udp[0:2] > 1024',
  'ether[12:2] = 0x0800',
  'ether proto \\ip',
  'ip proto \\udp',
  'ip proto 17',
  'ip6 proto 58',
  'ip6[6] == 58',
  'vlan',
  'vlan and icmp',
  'vlan 100',
  'portrange 1-1024',
  'tcp portrange 8000-9000',
  'src port 8080',
  'dst portrange 30000-65535',
  'net 10.244.0.0/16',
  'net 10.244.1.0 mask 255.255.255.0',
  'src net 10.244.60.0/24',
  'not host 10.244.60.1',
  'host 10.244.60.2 and (tcp or icmp)',
  'ip6 net fe80::/10',
  'ip6 dst net ff02::/16',
  'ether dst ff:ff:ff:ff:ff:ff',
  'udp port 4789',
  'geneve',
  '(tcp or udp) and not port 53',
  'len >= 1000',
  'udp and udp[8:2] = 0x0800',
  'ip and not ip6 and not arp',
];

/** The frames tcpdump keeps (their bytes, in order), or 'refused' when it will not compile the expression. */
const tcpdumpCache = new Map<string, string[] | 'refused'>();
function tcpdumpKeeps(file: string, expr: string): string[] | 'refused' {
  const key = `${file}\n${expr}`;
  const hit = tcpdumpCache.get(key);
  if (hit !== undefined) return hit;
  const res = runTcpdump(file, expr);
  tcpdumpCache.set(key, res);
  return res;
}

function runTcpdump(file: string, expr: string): string[] | 'refused' {
  const r = spawnSync('tcpdump', ['-r', path.join(ROOT, file), '-w', '-', expr], { maxBuffer: 1 << 26 });
  if (r.status !== 0) return 'refused';
  const kept: string[] = [];
  const p = new CaptureParser((rec) => kept.push(rec.buf.toString('hex', rec.offset, rec.offset + rec.caplen)));
  p.push(r.stdout);
  p.end();
  return kept;
}

/** Files tcpdump itself reads (it refuses a pcapng whose interfaces have different snapshot lengths). */
const READABLE = FIXTURES.filter((f) => spawnSync('tcpdump', ['-r', path.join(ROOT, f), '-w', '/dev/null']).status === 0);

function netscopeKeeps(file: string, f: RecordFilter | undefined | 'refused'): string[] | 'refused' {
  if (f === 'refused') return 'refused';
  const kept: string[] = [];
  const view = new PacketView();
  let refused = false;
  const p = new CaptureParser((rec) => {
    if (refused) return;
    decodeRecord(view, rec);
    try {
      if (f === undefined || f.matches(view, rec)) kept.push(rec.buf.toString('hex', rec.offset, rec.offset + rec.caplen));
    } catch (e) {
      if (!(e instanceof FilterError)) throw e;
      refused = true;
    }
  });
  p.push(fs.readFileSync(path.join(ROOT, file)));
  p.end();
  return refused ? 'refused' : kept;
}

function compiled(expr: string): RecordFilter | undefined | 'refused' {
  try {
    return RecordFilter.compile(expr);
  } catch (e) {
    if (e instanceof FilterError) return 'refused';
    throw e;
  }
}

describe('read filters keep the packets tcpdump keeps', () => {
  it('has at least 40 expressions', () => expect(EXPRESSIONS.length).toBeGreaterThanOrEqual(40));
  // One filter per expression, compiled once and run over every fixture (as read does over a file).
  it.each(EXPRESSIONS)('%s', (expr) => {
    const f = compiled(expr);
    const diffs: string[] = [];
    for (const file of READABLE) {
      const want = tcpdumpKeeps(file, expr);
      const got = netscopeKeeps(file, f);
      if (JSON.stringify(want) !== JSON.stringify(got)) diffs.push(`${file}: tcpdump keeps ${want === 'refused' ? want : want.length} netscope ${got === 'refused' ? got : got.length}`);
    }
    expect(diffs).toEqual([]);
  });
  it('the list exercises the fixtures: most expressions keep some packets of some file', () => {
    expect(READABLE.length).toBeGreaterThan(FIXTURES.length - 3);
    const keeping = EXPRESSIONS.filter((e) => READABLE.some((file) => {
      const k = tcpdumpKeeps(file, e);
      return Array.isArray(k) && k.length > 0;
    }));
    expect(keeping.length).toBeGreaterThan(30);
  });
});

describe('libpcap errors', () => {
  it('names the expression and the part that parses', () => {
    expect(() => RecordFilter.compile('tcp port')).toThrow(FilterError);
    expect(() => RecordFilter.compile('tcp port')).toThrow('bad filter "tcp port": syntax error (libpcap); "tcp" parses, the problem is in "port" — see man 7 pcap-filter');
    expect(() => RecordFilter.compile('host 10.244.1.300')).toThrow(/bad filter "host 10.244.1.300": .*(illegal|invalid|bogus)/i);
    expect(describeFilterError('udp and ((', "can't parse filter expression: syntax error")).toMatch(/"udp" parses, the problem is in "and \(\("/);
  });
  it('an empty expression means everything; vxlan only as the leading form', () => {
    expect(RecordFilter.compile('   ')).toBeUndefined();
    expect(RecordFilter.compile('vxlan 42 and icmp')).toBeInstanceOf(RecordFilter);
    expect(() => RecordFilter.compile('icmp and vxlan')).toThrow(/"vxlan" must come first/);
    expect(() => RecordFilter.compile('vxlan 16777216')).toThrow(/more than 24 bits/);
  });
  it('refuses, as a value, an expression that cannot apply to a record\'s link type', () => {
    const f = RecordFilter.compile('ether broadcast')!;
    const buf = Buffer.alloc(40);
    buf[0] = 0x45;
    const rec = { buf, offset: 0, caplen: 40, len: 40, tsSec: 0, tsNsec: 0, linktype: 101, ifIndex: 0, iface: undefined };
    expect(() => f.matches(new PacketView(), rec)).toThrow(FilterError);
  });
});

describe('BPF in JavaScript', () => {
  const run = (expr: string, frame: Buffer, caplen = frame.length, len = frame.length): boolean =>
    bpfToFunction(decodeInsns(compileBpf(1, 262144, expr)))(frame, 0, caplen, len);
  const udp = Buffer.from('ffffffffffff0200000000010800450000210001000040117ba20af401010af40102138912b5000d0000616263646566', 'hex');

  it('rejects a load past the captured length instead of reading the bytes after it', () => {
    expect(run('udp src port 4789', udp)).toBe(false);
    expect(run('udp dst port 4789', udp)).toBe(true);
    // Cut before the UDP header: the port test cannot be made, the packet is rejected (not thrown).
    expect(run('udp dst port 4789', udp, 30)).toBe(false);
    expect(run('udp', udp, 30)).toBe(true);
  });
  it('uses the original length for len, not the captured length', () => {
    expect(run('len > 1000', udp, udp.length, 1500)).toBe(true);
    expect(run('len > 1000', udp)).toBe(false);
  });
  it('runs arithmetic, shifts, the IP header length (MSH) and indirect loads as libpcap does', () => {
    expect(run('udp[8:4] = 0x61626364', udp)).toBe(true);
    expect(run('(ip[2:2] - ((ip[0] & 0xf) << 2)) = 13', udp)).toBe(true);
    expect(run('ip[2:2] / 3 = 11 and ip[2:2] % 3 = 0', udp)).toBe(true);
    expect(run('ip[2:2] * 3 = 99 and (ip[2:2] ^ 1) = 32 and (ip[2:2] >> 1) = 16', udp)).toBe(true);
    expect(run('ip[2:2] / ip[1] = 0', udp)).toBe(false); // division by a zero byte at run time rejects
  });
  it('turns an unknown opcode into an error, not a wrong answer', () => {
    expect(() => bpfToFunction([{ code: 0xff, jt: 0, jf: 0, k: 0 }])).toThrow(/unsupported BPF instruction 0xff/);
    expect(bpfToFunction([])(udp, 0, udp.length, udp.length)).toBe(false);
  });
});

// tcpdump is the oracle: make sure it is the one the README names.
execFileSync('tcpdump', ['--version'], { stdio: 'ignore' });
