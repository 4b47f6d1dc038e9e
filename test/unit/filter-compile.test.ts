import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { decodePacket } from '../../src/decode/decode';
import * as c from '../../src/decode/craft';
import { sampleFrames } from '../../src/decode/samples';
import { PacketView } from '../../src/decode/view';
import { bpfPrefilter, compileFilter, FilterSyntaxError } from '../../src/filter/filter';
import { LinkType } from '../../src/pcap/record';
import { tryRun } from '../helpers/netns';

const ethSamples = sampleFrames().filter((s) => s.linktype === LinkType.EN10MB);
// A few extra frames that tell filters apart: tagged ARP, padded ARP, tagged VXLAN, IPv6 TCP port 80.
const extra = [
  { name: 'vlan-arp', frame: c.ether('ff:ff:ff:ff:ff:ff', '02:00:00:00:00:01', 0x0806, c.arp(1, '02:00:00:00:00:01', '10.42.0.1', '00:00:00:00:00:00', '10.42.0.9'), [{ id: 7 }]) },
  {
    name: 'ipv6-tcp-80',
    frame: c.ether('02:00:00:00:00:02', '02:00:00:00:00:01', 0x86dd, c.ipv6({ src: 'fd00::1', dst: 'fd00:1::2', next: 6 }, c.tcp({ sport: 33000, dport: 80, flags: 'S' }))),
  },
  {
    name: 'udp-53-vlan',
    frame: c.ether('02:00:00:00:00:02', '02:00:00:00:00:01', 0x0800, c.ipv4({ src: '10.42.1.1', dst: '10.42.1.2', proto: 17 }, c.udp(53, 5353, Buffer.alloc(4))), [{ id: 200 }]),
  },
];
const frames = [...ethSamples.map((s) => ({ name: s.name, frame: s.frame })), ...extra];
const views = frames.map((f) => decodePacket(new PacketView(), f.frame, 0, f.frame.length, f.frame.length, LinkType.EN10MB));

function matching(expr: string): string[] {
  const f = compileFilter(expr);
  return frames.filter((_, i) => f(views[i])).map((x) => x.name);
}

describe('filter semantics', () => {
  it('empty expression matches everything', () => {
    expect(matching('')).toHaveLength(frames.length);
    expect(matching('   ')).toHaveLength(frames.length);
  });

  it('protocol primitives', () => {
    expect(matching('arp')).toEqual(['arp-request', 'arp-reply']);
    expect(matching('icmp6')).toEqual(['ipv6-ns', 'ipv6-na', 'ipv6-echo']);
    expect(matching('tcp')).toEqual(['tcp-syn', 'tcp-data', 'ipv6-ext-tcp', 'ipv6-tcp-80']);
    // Non-first fragments match "udp" (protocol field) but never "port".
    expect(matching('udp')).toContain('ipv4-later-fragment');
    expect(matching('udp')).toContain('ipv6-later-fragment');
    expect(matching('port 6000')).toEqual(['ipv4-first-fragment']);
    expect(matching('ip6')).toEqual(['ipv6-ns', 'ipv6-na', 'ipv6-echo', 'ipv6-ext-tcp', 'ipv6-first-fragment', 'ipv6-later-fragment', 'ipv6-tcp-80']);
  });

  it('vlan shifts the following primitives one tag inwards, like libpcap', () => {
    expect(matching('vlan')).toEqual(['vlan-icmp', 'qinq-tcp', 'vlan-arp', 'udp-53-vlan']);
    expect(matching('vlan and icmp')).toEqual(['vlan-icmp']);
    expect(matching('icmp')).not.toContain('vlan-icmp');
    expect(matching('vlan 100')).toEqual(['vlan-icmp']);
    expect(matching('vlan 10 and vlan 100 and tcp port 80')).toEqual(['qinq-tcp']);
    expect(matching('vlan and arp')).toEqual(['vlan-arp']);
    expect(matching('vlan and host 10.42.0.9')).toEqual(['vlan-arp']);
    expect(matching('vlan 200 and udp src port 53')).toEqual(['udp-53-vlan']);
  });

  it('vxlan matches valid VXLAN and moves the rest into the inner frame', () => {
    expect(matching('vxlan')).toEqual(['vxlan-icmp']);
    expect(matching('vxlan 42')).toEqual(['vxlan-icmp']);
    expect(matching('vxlan 43')).toEqual([]);
    expect(matching('vxlan and icmp and host 10.244.1.3')).toEqual(['vxlan-icmp']);
    expect(matching('vxlan and host 10.42.0.1')).toEqual([]);
    expect(matching('host 10.42.0.1 and vxlan and ether host 6a:fc:26:3f:99:48')).toEqual(['vxlan-icmp']);
  });

  it('host, net, port and ether host with directions', () => {
    expect(matching('src host 10.244.1.3')).toEqual(['arp-reply', 'tcp-data', 'icmp-port-unreachable']);
    expect(matching('dst host 10.244.1.3 and arp')).toEqual(['arp-request']);
    expect(matching('ip host 10.244.1.3 and not ip6')).not.toContain('arp-request');
    expect(matching('host fe80::2')).toEqual(['ipv6-na']);
    expect(matching('dst net ff02::/16')).toEqual(['ipv6-ns']);
    expect(matching('net fd00::/16 and tcp')).toEqual(['ipv6-ext-tcp', 'ipv6-tcp-80']);
    // Tagged frames are not matched without "vlan" first (libpcap reads the TPID as the ethertype).
    expect(matching('net 10.42.0.0/16')).toEqual(['vxlan-icmp']);
    expect(matching('net 10.42')).toEqual(['vxlan-icmp']);
    expect(matching('src net 10.244.0.0/24')).toEqual(['icmp-time-exceeded', 'icmp-redirect']);
    expect(matching('tcp dst port 80')).toEqual(['tcp-syn', 'ipv6-tcp-80']);
    expect(matching('src or dst port 4789')).toEqual(['vxlan-icmp']);
    expect(matching('udp port 80')).toEqual([]);
    expect(matching('ether src 6a:fc:26:3f:99:48 and arp')).toEqual(['arp-request']);
    expect(matching('ether dst host ff:ff:ff:ff:ff:ff')).toEqual(['arp-request', 'vlan-arp']);
    expect(matching('ether host 6A-FC-26-3F-99-48 and ip6')).toEqual(['ipv6-ns', 'ipv6-na', 'ipv6-echo', 'ipv6-ext-tcp', 'ipv6-first-fragment', 'ipv6-later-fragment']);
  });

  it('and/or have equal precedence and associate left; not binds tightest', () => {
    // pcap-filter: "arp or icmp and host 10.244.0.1" = "(arp or icmp) and host 10.244.0.1".
    expect(matching('arp or icmp and host 10.244.0.1')).toEqual(['icmp-time-exceeded', 'icmp-redirect']);
    expect(matching('arp or (icmp and host 10.244.0.1)')).toEqual(['arp-request', 'arp-reply', 'icmp-time-exceeded', 'icmp-redirect']);
    expect(matching('icmp and host 10.244.0.1 or arp')).toEqual(['arp-request', 'arp-reply', 'icmp-time-exceeded', 'icmp-redirect']);
    expect(matching('not arp and not ip and not ip6')).toEqual(['vlan-icmp', 'qinq-tcp', 'vlan-arp', 'udp-53-vlan']);
    expect(matching('! tcp && ! udp && ip')).toEqual(matching('ip and not (tcp or udp)'));
    expect(matching('!(tcp||udp)&&ip')).toEqual(matching('ip and not (tcp or udp)'));
    expect(matching('not not arp')).toEqual(matching('arp'));
  });

  it('portrange, proto, less and greater', () => {
    expect(matching('udp portrange 5000-6000')).toEqual(['udp', 'ipv4-first-fragment']);
    expect(matching('portrange 6000-5000')).toEqual(matching('portrange 5000-6000'));
    expect(matching('ip6 proto 58')).toEqual(matching('icmp6'));
    expect(matching('ip proto 1')).toEqual(matching('icmp'));
    expect(matching('proto 6')).toEqual(matching('tcp'));
    expect(matching('less 60')).toEqual(['arp-request', 'arp-reply', 'udp', 'ipv4-options-udp', 'vlan-arp', 'udp-53-vlan']);
    expect(matching('greater 1000')).toEqual(['ipv4-first-fragment']);
  });

  it('a bare identifier reuses the previous qualifiers', () => {
    expect(matching('port 80 or 5353')).toEqual(matching('port 80 or port 5353'));
    expect(matching('tcp dst port 80 or 443')).toEqual(matching('tcp dst port 80 or tcp dst port 443'));
    expect(matching('not host 10.244.1.2 and 10.244.1.3')).toEqual(matching('not host 10.244.1.2 and host 10.244.1.3'));
  });

  it('evaluation allocates nothing measurable', () => {
    const f = compileFilter('vlan and (tcp port 80 or udp) or vxlan and icmp and host 10.244.1.3 or ether host 6a:fc:26:3f:99:48 or net fd00::/16');
    for (let i = 0; i < 20000; i++) f(views[i % views.length]);
    const gc = (global as { gc?: () => void }).gc;
    if (gc) gc();
    const before = process.memoryUsage().heapUsed;
    let n = 0;
    for (let i = 0; i < 300000; i++) if (f(views[i % views.length])) n++;
    const grown = process.memoryUsage().heapUsed - before;
    expect(n).toBeGreaterThan(0);
    // 300k evaluations allocating even one small object each would add several MB.
    expect(grown).toBeLessThan(2_000_000);
  });
});

describe('filter syntax errors quote the offending token', () => {
  it.each([
    ['tcp port', /ends after "port"/],
    ['foo', /"foo"/],
    ['host 10.0.0.300', /"10.0.0.300"/],
    ['port 70000', /"70000"/],
    ['tcp and', /ends after "and"/],
    ['(tcp or udp', /missing "\)"/],
    ['tcp)', /"\)"/],
    ['()', /"\)"/],
    ['host aa:bb:cc:dd:ee:ff', /"aa:bb:cc:dd:ee:ff".*ether/],
    ['ether host 10.0.0.1', /"10.0.0.1"/],
    ['net 10.244.1.0/16', /"10.244.1.0\/16".*non-network/],
    ['ip host fe80::1', /"fe80::1"/],
    ['icmp host 10.0.0.1', /"icmp"/],
    ['tcp udp', /"udp"/],
    ['vlan 5000', /"5000"/],
    ['tcp & udp', /"&"/],
    ['vxlan and vxlan', /"vxlan".*nested/],
    ['and tcp', /"and"/],
    ['icmp[0] = 8', /"icmp\[0\]".*not supported/],
    ['broadcast', /"broadcast".*not supported/],
    ['portrange 10', /"10"/],
    ['ip proto tcp', /"tcp"/],
    ['less', /"less"/],
  ])('%s', (expr, re) => {
    let err: unknown;
    try {
      compileFilter(expr);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FilterSyntaxError);
    expect((err as Error).message).toMatch(re);
  });
});

describe('hostile expressions', () => {
  it('deep nesting and huge expressions fail cleanly instead of overflowing the stack', () => {
    expect(() => compileFilter('('.repeat(5000) + 'tcp' + ')'.repeat(5000))).toThrow(FilterSyntaxError);
    expect(() => compileFilter('not '.repeat(5000) + 'tcp')).toThrow(/too long/);
    expect(() => compileFilter(Array(3000).fill('tcp').join(' or '))).toThrow(/too long/);
    const ok = compileFilter(Array(600).fill('port 80').join(' or ') + ' or arp');
    expect(ok(views[frames.findIndex((f) => f.name === 'arp-request')])).toBe(true);
    const deep = compileFilter('('.repeat(600) + 'arp' + ')'.repeat(600));
    expect(deep(views[frames.findIndex((f) => f.name === 'arp-request')])).toBe(true);
  });
});

describe('bpfPrefilter (what libpcap 1.10 gets for live capture)', () => {
  it('passes plain expressions through and widens vxlan', () => {
    expect(bpfPrefilter('')).toBe('');
    expect(bpfPrefilter('tcp port 80 or 443')).toBe('(tcp port 80) or (tcp port 443)');
    expect(bpfPrefilter('vxlan 42 and icmp')).toBe('udp dst port 4789');
    expect(bpfPrefilter('arp or vxlan and icmp')).toBe('(arp) or (udp dst port 4789)');
    expect(bpfPrefilter('not (vxlan and icmp)')).toBe('');
  });
});

/** libpcap itself (through tcpdump) as the oracle on the same bytes. */
const haveTcpdump = tryRun('tcpdump', ['--version']);

(haveTcpdump ? describe : describe.skip)('agrees with libpcap on the crafted frames', () => {
  let dir = '';
  let file = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-filter-'));
    file = path.join(dir, 'frames.pcap');
    fs.writeFileSync(file, c.pcapFile(LinkType.EN10MB, frames.map((f, i) => ({ frame: f.frame, tsSec: 1795848999, tsUsec: i }))));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const exprs = [
    'arp',
    'ip',
    'ip6',
    'tcp',
    'udp',
    'icmp',
    'icmp6',
    'vlan',
    'vlan and icmp',
    'vlan 100',
    'vlan 10 and vlan 100 and tcp',
    'vlan and arp',
    'host 10.244.1.3',
    'src host 10.244.1.3',
    'dst host 10.244.1.2 or arp',
    'host fe80::2',
    'net 10.244.0.0/16',
    'net 10.42',
    'src net 10.244.0.0/24',
    'dst net ff02::/16',
    'port 80',
    'tcp dst port 80 or 443',
    'src or dst port 4789',
    'udp port 5353',
    'ether host 6a:fc:26:3f:99:48',
    'ether dst ff:ff:ff:ff:ff:ff',
    'arp or icmp and host 10.244.0.1',
    'not arp and not ip and not ip6',
    '!(tcp||udp)&&ip',
    'port 80 or 5353',
    'not host 10.244.1.2 and 10.244.1.3',
    'vlan and udp src port 53',
    'portrange 5000-6000',
    'tcp dst portrange 1-1024',
    'src portrange 40000-54321',
    'ip proto 17',
    'ip6 proto 58',
    'proto 6',
    'less 60',
    'greater 100 and not ip6',
    'vlan and proto 1',
  ];
  it('bpfPrefilter output compiles in libpcap', () => {
    for (const e of ['vxlan 42 and icmp', 'arp or vxlan and icmp', 'vlan and tcp port 80 or 443', 'not host 10.0.0.1 and src or dst port 53']) {
      const bpf = bpfPrefilter(e);
      expect(() => execFileSync('tcpdump', ['-d', '-y', 'EN10MB', bpf], { stdio: 'ignore' })).not.toThrow();
    }
  });

  // One deliberate difference: libpcap looks for TCP/UDP only right after the IPv6 header (or one fragment
  // header); netscope follows the whole extension chain, so HBH+DSTOPT+AH+TCP still counts as tcp.
  const chainFrame = 'ipv6-ext-tcp';
  it('follows the IPv6 extension chain where libpcap does not', () => {
    expect(matching('tcp')).toContain(chainFrame);
    expect(matching('tcp dst port 443')).toEqual([chainFrame]);
  });
  it.each(exprs)('%s', (expr) => {
    const out = execFileSync('tcpdump', ['-nn', '-tt', '-r', file, expr], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    const theirs = out
      .split('\n')
      .filter((l) => /^\d+\.\d{6} /.test(l))
      .map((l) => frames[Number(l.slice(11, 17))].name);
    expect(matching(expr).filter((n) => n !== chainFrame)).toEqual(theirs.filter((n) => n !== chainFrame));
  });
});
