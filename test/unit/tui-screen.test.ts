import { headlessTerminal, type HeadlessTerminal } from '../../src/tui/headless';
import { DashboardModel } from '../../src/tui/model';
import type { FlowInfo } from '../../src/tui/rows';
import { DashboardView } from '../../src/tui/screen';

type FakeTerminal = HeadlessTerminal;
const fakeTerminal = headlessTerminal;

function flow(over: Partial<FlowInfo> & { key: string }): FlowInfo {
  return {
    proto: 'tcp',
    a: '10.244.1.2:40000',
    b: '10.244.1.3:5001',
    packetsAB: 10,
    packetsBA: 8,
    bytesAB: 15000,
    bytesBA: 600,
    bytesPerSec: 4000,
    firstSec: 1000,
    lastSec: 1001,
    state: 'established',
    badges: [],
    ifaces: ['node/cni0'],
    notes: [],
    ...over,
  };
}

function populated(): DashboardModel {
  const m = new DashboardModel({ bridge: 'cni0', netns: 'node' });
  m.setFlows(
    [
      flow({ key: 'tcp1' }),
      flow({ key: 'syn', a: '10.244.1.4:41000', b: '10.244.1.3:8080', bytesAB: 300, packetsAB: 5, packetsBA: 0, bytesBA: 0, state: 'syn-sent', badges: [{ text: 'FAIL', severity: 'bad' }] }),
      flow({ key: 'arp', proto: 'arp', a: '10.244.1.2', b: '10.244.1.99', bytesAB: 252, bytesBA: 0, state: 'who-has', badges: [{ text: 'ARP?', severity: 'bad' }] }),
    ],
    1002,
  );
  m.setFdb([{ mac: '02:00:00:00:00:0a', port: 'veth-a', flags: [], ageSec: 2, pod: 'pod-a', ips: ['10.244.1.2'] }], [], 1002);
  m.setRules(
    [{ key: 'r1', backend: 'iptables-nft', table: 'filter', chain: 'FORWARD', position: 1, text: '-s 10.244.1.4/32 -p tcp --dport 8080 -j DROP', target: 'DROP', packets: 5, bytes: 300, dPackets: 2, dBytes: 120, pps: 1, hitDrop: true }],
    1002,
  );
  m.setTopology([{ text: 'node' }, { text: '└── cni0 bridge UP 10.244.1.1/24' }]);
  m.sample(1001, 0, 0);
  m.sample(1002, 1234, 100_000);
  m.setSources([{ target: 'node/cni0', packets: 1234, bytes: 100_000, ifDrops: 0, agentDrops: 0 }]);
  return m;
}

describe('DashboardView (headless)', () => {
  let views: DashboardView[] = [];
  afterEach(() => {
    for (const v of views) v.destroy();
    views = [];
  });

  function open(m: DashboardModel, cols: number, rows: number, actions = { quit: jest.fn() }): { view: DashboardView; term: FakeTerminal } {
    const term = fakeTerminal(cols, rows);
    const view = new DashboardView(m, actions, { output: term.output, input: term.input, terminal: 'xterm' });
    views.push(view);
    view.draw(true);
    return { view, term };
  }

  async function press(term: FakeTerminal, keys: string): Promise<void> {
    term.input.write(keys);
    await new Promise((r) => setImmediate(r));
  }

  it.each([
    [120, 40],
    [200, 50],
  ])('draws every pane at %ix%i', (cols, rows) => {
    const { view } = open(populated(), cols, rows);
    const text = view.text();
    const lines = text.split('\n');
    expect(lines).toHaveLength(rows);
    for (const l of lines) expect(l.length).toBe(cols);
    expect(text).toMatch(/flows 3 · sort bytes ▼/);
    expect(text).toMatch(/bytes▼/);
    expect(text).toMatch(/tcp\s+10\.244\.1\.2:40000 ⇄ 10\.244\.1\.3:5001\s+18\s+15\.6kB/);
    expect(text).toMatch(/syn-sent FAIL/);
    expect(text).toMatch(/ARP\?/);
    expect(text).toMatch(/02:00:00:00:00:0a veth-a .* 10\.244\.1\.2 pod-a/);
    expect(text).toMatch(/DROP\s+\+2\s+(1\/s\s+5 )?filter\/FORWARD #1/);
    expect(text).toContain('cni0 bridge UP 10.244.1.1/24');
    expect(text).toMatch(/packets\/s 1\.2k/);
    expect(text).toMatch(/● live │ 1\.2k\/s 800kb\/s/);
  });

  it('keys: sort, pause, focus, filter, detail, help and quit', async () => {
    const quit = jest.fn();
    const detailOpened = jest.fn();
    const m = populated();
    const { view, term } = open(m, 120, 40, Object.assign({ quit }, { detailOpened }) as { quit: jest.Mock });
    await press(term, 's');
    view.draw(false);
    expect(view.text()).toMatch(/pkts▼/);
    await press(term, ' ');
    view.draw(false);
    expect(view.text()).toContain('PAUSED');
    await press(term, ' ');
    await press(term, '\t');
    view.draw(false);
    expect(m.focus).toBe('problems');
    await press(term, '/arp');
    view.draw(false);
    expect(view.text()).toContain('filter flows: arp█');
    expect(view.text()).toMatch(/flows 1 of 3 filter "arp"/);
    await press(term, '\r');
    view.draw(false);
    expect(view.text()).not.toContain('filter flows:');
    expect(m.flowFilter).toBe('arp');
    await press(term, '/x');
    expect(m.flowFilter).toBe('arpx'); // live while typing
    await press(term, '\x1b');
    // A lone escape is recognised after blessed's escape timeout: wait for its effect, not a fixed time.
    const until = Date.now() + 10_000;
    while (m.flowFilter !== 'arp' && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    view.draw(false);
    expect(m.flowFilter).toBe('arp');
    expect(view.text()).not.toContain('filter flows:');
    await press(term, '\r');
    view.draw(false);
    expect(detailOpened).toHaveBeenCalledWith(expect.objectContaining({ key: 'arp' }));
    expect(m.detailKey).toBe('arp'); // one \r (reported as "enter" and "return") opens it once
    expect(view.text()).toContain('last packets:');
    m.setDetailPackets(['07:00:00.000001 ARP, Request who-has 10.244.1.99 tell 10.244.1.2, length 28']);
    view.draw(false);
    expect(view.text()).toContain('Request who-has 10.244.1.99 tell 10.244.1.2');
    await press(term, '\r');
    await press(term, '?');
    view.draw(false);
    expect(view.text()).toContain('space       pause/resume');
    await press(term, 'q');
    expect(quit).toHaveBeenCalledTimes(1);
    await press(term, '\x03');
    expect(quit).toHaveBeenCalledTimes(2);
  });

  it('says the terminal is too small instead of drawing panes', () => {
    const { view } = open(populated(), 70, 20);
    expect(view.text()).toContain('terminal is 70x20; the dashboard needs at least 80x24');
  });

  it('redraws only when the model changed', () => {
    const m = populated();
    const { view } = open(m, 120, 40);
    expect(view.draw(false)).toBe(false);
    m.sample(1003, 2000, 200_000);
    expect(view.draw(false)).toBe(true);
    expect(view.draw(false)).toBe(false);
  });
});
