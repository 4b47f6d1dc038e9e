/**
 * The agent's pure parts: label-set budget, /capture query validation, bearer check and the loopback rule,
 * --listen and --netns parsing, and the FlowTable event counters the metrics export.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { BearerAuth, isLoopbackHost, readTokenFile, TokenFileError } from '../../src/agent/auth';
import { BadCaptureRequest, parseCaptureQuery } from '../../src/agent/captureRequest';
import { captureInterfaces, isValidNetnsPattern, netnsMatcher } from '../../src/agent/follow';
import { SeriesBudget, labelValue } from '../../src/agent/series';
import { FlowTable } from '../../src/analysis/flows';
import { parseListen } from '../../src/cli/commands/agent';
import { ether, icmpError, ipv4, tcp } from '../../src/decode/craft';
import { decodeRecord } from '../../src/decode/decode';
import { PacketView } from '../../src/decode/view';
import type { Topology } from '../../src/topology/discover';

describe('SeriesBudget', () => {
  test('admits up to max label sets, refuses (and counts once) the rest, frees on release', () => {
    const b = new SeriesBudget('m', 2);
    expect(b.admit('a')).toBe(true);
    expect(b.admit('b')).toBe(true);
    expect(b.admit('a')).toBe(true);
    expect(b.admit('c')).toBe(false);
    expect(b.admit('c')).toBe(false);
    expect(b.refused).toBe(1);
    b.release('a');
    expect(b.admit('c')).toBe(true);
    expect(b.size).toBe(2);
    expect(b.refused).toBe(1);
  });

  test('label values: control characters replaced, long values cut', () => {
    expect(labelValue('a\nb')).toBe('a b');
    expect(labelValue('x'.repeat(300), 10)).toBe(`${'x'.repeat(9)}…`);
  });
});

describe('/capture query', () => {
  const limits = { maxDurationSec: 600, defaultDurationSec: 60, maxInterfaces: 4 };
  const q = (s: string) => parseCaptureQuery(new URLSearchParams(s), limits);
  const status = (s: string): number => {
    try {
      q(s);
      return 200;
    } catch (e) {
      return e instanceof BadCaptureRequest ? e.status : -1;
    }
  };

  test('valid requests', () => {
    expect(q('iface=eth0')).toEqual({ targets: [{ iface: 'eth0' }], filter: '', durationSec: 60, count: 0 });
    expect(q('iface=eth0@host&iface=cni0@node1&filter=tcp+port+80&duration=5&count=10')).toEqual({
      targets: [{ iface: 'eth0' }, { iface: 'cni0', netns: 'node1' }],
      filter: 'tcp port 80',
      durationSec: 5,
      count: 10,
    });
    expect(q('iface=eth0@pid:42').targets).toEqual([{ iface: 'eth0', netns: 'pid:42' }]);
  });

  test('refused: missing or bad names, control characters, unknown parameters, out-of-range numbers', () => {
    expect(status('')).toBe(400);
    expect(status('iface=../x')).toBe(400);
    expect(status('iface=a234567890123456')).toBe(400);
    expect(status('iface=eth0@../../etc')).toBe(400);
    expect(status(`iface=eth0&filter=${encodeURIComponent('tcp\n')}`)).toBe(400);
    expect(status(`iface=eth0&filter=${'x'.repeat(1025)}`)).toBe(400);
    expect(status('iface=eth0&dur=5')).toBe(400);
    expect(status('iface=eth0&duration=0')).toBe(400);
    expect(status('iface=eth0&duration=601')).toBe(400);
    expect(status('iface=eth0&duration=-1')).toBe(400);
    expect(status('iface=eth0&count=1.5')).toBe(400);
    expect(status('iface=a&iface=b&iface=c&iface=d&iface=e')).toBe(400);
  });
});

describe('auth', () => {
  test('loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.244.0.1', 'node1', '[fd00::1]']) expect(isLoopbackHost(h)).toBe(false);
  });

  test('bearer check', () => {
    const a = new BearerAuth('0123456789abcdef0123');
    expect(a.check('Bearer 0123456789abcdef0123')).toBeNull();
    expect(a.check('bearer 0123456789abcdef0123')).toBeNull();
    expect(a.check(undefined)).toBe('no Authorization header');
    expect(a.check('Basic abc')).toBe('Authorization is not "Bearer TOKEN"');
    expect(a.check('Bearer 0123456789abcdef012')).toBe('wrong bearer token');
  });

  test('token file: mode 600 and a long enough token', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nst-token-'));
    try {
      const f = path.join(dir, 't');
      fs.writeFileSync(f, 'a-long-enough-token-123\n', { mode: 0o600 });
      expect(readTokenFile(f)).toBe('a-long-enough-token-123');
      fs.chmodSync(f, 0o644);
      expect(() => readTokenFile(f)).toThrow(/readable by group or others.*chmod 600/);
      fs.writeFileSync(f, 'short\n');
      fs.chmodSync(f, 0o600);
      expect(() => readTokenFile(f)).toThrow(TokenFileError);
      expect(() => readTokenFile(path.join(dir, 'missing'))).toThrow(/--token-file/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('agent options', () => {
  test('--listen', () => {
    expect(parseListen('127.0.0.1:9465')).toEqual({ host: '127.0.0.1', port: 9465 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen('0.0.0.0:65535')).toEqual({ host: '0.0.0.0', port: 65535 });
    expect(parseListen('127.0.0.1')).toBeNull();
    expect(parseListen('127.0.0.1:70000')).toBeNull();
    expect(parseListen('::1:80')).toBeNull();
  });

  test('--netns patterns', () => {
    const m = netnsMatcher(['node1', 'pod-*', 'host']);
    expect(['node1', 'pod-a', 'pod-', 'host'].every(m)).toBe(true);
    expect(['node10', 'xpod-a', 'pid:1'].some(m)).toBe(false);
    expect(netnsMatcher(['a.b'])('axb')).toBe(false); // "." is literal
    expect(netnsMatcher(undefined)('anything')).toBe(true);
    expect(isValidNetnsPattern('pid:*')).toBe(true);
    expect(isValidNetnsPattern('a(b')).toBe(false);
  });

  test('captured interfaces: up, not loopback, not bridge ports (unless a regex says)', () => {
    const ns = { id: 'n', name: 'n', label: 'n', inode: 1 };
    const mk = (name: string, kind: string, up: boolean, master?: string) => ({ netns: 'n', ifindex: 1, name, kind, state: up ? 'UP' : 'DOWN', up, mac: '', mtu: 1500, addrs: [], master });
    const topo: Topology = {
      namespaces: [ns, { id: 'other', name: 'other', label: 'other', inode: 2 }],
      interfaces: [mk('lo', 'loopback', true), mk('br0', 'bridge', true), mk('veth1', 'veth', true, 'br0'), mk('eth0', 'veth', true), mk('eth1', 'veth', false), { ...mk('x', 'veth', true), netns: 'other' }],
      routes: [],
      neighbours: [],
    };
    expect(captureInterfaces(topo, [ns], { netns: () => true }).map((i) => i.name)).toEqual(['br0', 'eth0']);
    expect(captureInterfaces(topo, [ns], { netns: () => true, iface: /^veth/ }).map((i) => i.name)).toEqual(['veth1']);
  });
});

describe('FlowTable event counters (exported as netscope_tcp_*_total, netscope_icmp_unreachables_total)', () => {
  const A = '10.244.0.1';
  const B = '10.244.0.2';
  const mac1 = '02:00:00:00:00:01';
  const mac2 = '02:00:00:00:00:02';
  let t: FlowTable;
  let sec = 1000;
  const v = new PacketView();
  const add = (frame: Buffer): void => {
    sec++;
    t.add(decodeRecord(v, { buf: frame, offset: 0, caplen: frame.length, len: frame.length, tsSec: sec, tsNsec: 0, linktype: 1, ifIndex: 0, iface: 'i' }), {
      buf: frame,
      offset: 0,
      caplen: frame.length,
      len: frame.length,
      tsSec: sec,
      tsNsec: 0,
      linktype: 1,
      ifIndex: 0,
      iface: 'i',
    });
  };
  const seg = (src: string, dst: string, sport: number, dport: number, flags: string) => ether(mac2, mac1, 0x0800, ipv4({ src, dst, proto: 6 }, tcp({ sport, dport, flags })));

  beforeEach(() => {
    t = new FlowTable({ idleTimeoutSec: 10 });
  });

  test('refused connect (RST answers SYN) is a failed connect, once, not a reset', () => {
    add(seg(A, B, 40000, 80, 'S'));
    add(seg(B, A, 80, 40000, 'RA'));
    add(seg(B, A, 80, 40000, 'RA')); // the same RST seen on a second interface
    expect(t.counters()).toMatchObject({ tcpFailedConnects: 1, tcpResets: 0 });
  });

  test('a reset after the handshake is a reset', () => {
    add(seg(A, B, 40001, 80, 'S'));
    add(seg(B, A, 80, 40001, 'SA'));
    add(seg(A, B, 40001, 80, 'A'));
    add(seg(A, B, 40001, 80, 'R'));
    expect(t.counters()).toMatchObject({ tcpFailedConnects: 0, tcpResets: 1 });
  });

  test('unanswered SYNs count as a failed connect when the flow expires', () => {
    add(seg(A, B, 40002, 81, 'S'));
    add(seg(A, B, 40002, 81, 'S'));
    expect(t.counters().tcpFailedConnects).toBe(0);
    t.expire(sec + 60);
    expect(t.counters()).toMatchObject({ tcpFailedConnects: 1, flows: 0 });
  });

  test('ICMP destination unreachable is counted; time exceeded is not', () => {
    const quoted = ipv4({ src: A, dst: B, proto: 17 }, Buffer.from([0x9c, 0x40, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00]));
    add(ether(mac2, mac1, 0x0800, ipv4({ src: B, dst: A, proto: 1 }, icmpError(3, 3, quoted))));
    add(ether(mac2, mac1, 0x0800, ipv4({ src: B, dst: A, proto: 1 }, icmpError(11, 0, quoted))));
    expect(t.counters().icmpUnreachables).toBe(1);
  });
});

describe('AgentMetrics cardinality cap', () => {
  test('label sets beyond --max-series are refused and counted; a vanished one frees its place', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { NodeEngine } = require('../../src/agent/engine') as typeof import('../../src/agent/engine');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { AgentMetrics } = require('../../src/agent/metrics') as typeof import('../../src/agent/metrics');
    const engine = new NodeEngine({ policy: { netns: () => true } });
    const streams = { active: 0, served: 0, refusedLimit: 0, unauthorized: 0, badRequest: 0, droppedPackets: 0, packets: 0 };
    const m = new AgentMetrics(engine, streams, { node: 'n', version: '1', maxSeries: 3, podLabels: false });
    for (let i = 0; i < 5; i++) {
      engine.sources.set(`k${i}`, {
        key: `k${i}`, netns: `ns${i}`, iface: 'eth0', pod: '', target: { iface: 'eth0' }, capture: null, state: 'running',
        packets: i, bytes: 100 * i, kernelDrops: 0, ifaceDrops: 0, agentDrops: 0, lastError: '', retryAt: 0,
      });
    }
    let text = await m.metrics();
    const series = (t: string) => t.split('\n').filter((l) => l.startsWith('netscope_capture_packets_total{'));
    expect(series(text)).toEqual([
      'netscope_capture_packets_total{netns="ns0",iface="eth0"} 0',
      'netscope_capture_packets_total{netns="ns1",iface="eth0"} 1',
      'netscope_capture_packets_total{netns="ns2",iface="eth0"} 2',
    ]);
    expect(text).toMatch(/^netscope_metric_label_sets_refused_total\{metric="netscope_capture_packets_total"\} 2$/m);
    engine.sources.delete('k0');
    await m.metrics(); // releases ns0's place …
    text = await m.metrics(); // … which ns3 takes
    expect(series(text)).toContain('netscope_capture_packets_total{netns="ns3",iface="eth0"} 3');
    expect(series(text)).toHaveLength(3);
  });
});
