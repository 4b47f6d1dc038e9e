import { parseTarget, targetLabel, targetSpec, TargetError, checkNetnsExists } from '../../src/capture/target';
import { parseProcNetDev } from '../../src/capture/ifaceCounters';

describe('parseTarget', () => {
  it('reads an interface in the own namespace', () => {
    expect(parseTarget('veth1')).toEqual({ iface: 'veth1' });
    expect(targetLabel(parseTarget('veth1'))).toBe('veth1');
  });
  it('reads a named namespace and a process namespace', () => {
    expect(parseTarget('cni0@node1')).toEqual({ iface: 'cni0', netns: 'node1' });
    expect(parseTarget('eth0@pid:1234')).toEqual({ iface: 'eth0', netns: 'pid:1234' });
    expect(targetLabel(parseTarget('cni0@node1'))).toBe('node1/cni0');
    expect(targetSpec(parseTarget('eth0@pid:1234'))).toBe('eth0@pid:1234');
  });
  it('reads pod references: IFACE@POD forms and NS/POD alone (its eth0)', () => {
    expect(parseTarget('eth0@default/web-0')).toEqual({ iface: 'eth0', ref: 'default/web-0' });
    expect(parseTarget('eth0@pod:default/web-0')).toEqual({ iface: 'eth0', ref: 'pod:default/web-0' });
    expect(parseTarget('default/web-0')).toEqual({ iface: 'eth0', ref: 'default/web-0' });
    expect(parseTarget('pod:kube-system/coredns-1')).toEqual({ iface: 'eth0', ref: 'pod:kube-system/coredns-1' });
    // A plain name is a namespace name until resolveTargets finds no such namespace in /run/netns.
    expect(parseTarget('eth0@web-0')).toEqual({ iface: 'eth0', netns: 'web-0' });
    const pod = { iface: 'eth0', netns: 'cni-1234', pod: 'default/web-0' };
    expect(targetLabel(pod)).toBe('default/web-0/eth0');
    expect(targetSpec(pod)).toBe('eth0@default/web-0');
  });
  it.each(['', '@ns', 'a/b/c', 'Default/web', 'eth0@a/', 'pod:', 'x'.repeat(16), 'eth0@', 'eth0@../etc', 'eth0@a b', '..', 'eth0@pid:'])(
    'rejects %j with a message naming the accepted forms',
    (spec) => {
      expect(() => parseTarget(spec)).toThrow(TargetError);
      try {
        parseTarget(spec);
      } catch (e) {
        expect((e as Error).message).toMatch(/IFACE|ip netns list|pid:PID|NAMESPACE\/POD/);
      }
    },
  );
  it('reports a missing namespace with the ones that exist', () => {
    expect(() => checkNetnsExists({ iface: 'x', netns: 'nst-no-such-namespace' })).toThrow(/no network namespace "nst-no-such-namespace"/);
    expect(() => checkNetnsExists({ iface: 'x', netns: 'pid:999999999' })).toThrow(/no process 999999999/);
    expect(() => checkNetnsExists({ iface: 'x' })).not.toThrow();
  });
});

describe('parseProcNetDev', () => {
  const text = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0',
    'veth-a: 5000 50 1 7 0 0 0 0 6000 60 0 3 0 0 0 0',
    'garbage line',
    'bad: 1 2 3',
  ].join('\n');
  it('parses receive/transmit counters per interface and skips junk', () => {
    const m = parseProcNetDev(text);
    expect([...m.keys()]).toEqual(['lo', 'veth-a']);
    expect(m.get('veth-a')).toEqual({ rxBytes: 5000, rxPackets: 50, rxErrors: 1, rxDropped: 7, txPackets: 60, txDropped: 3 });
  });
});
