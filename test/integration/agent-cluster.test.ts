/**
 * Two "nodes" (namespaces joined by a VXLAN overlay, a bridge and a pod each) with a netscope agent per node,
 * scraped by a real Prometheus server started here; `netscope capture --agent A --agent B` merges both nodes'
 * streams into one pcapng, checked with tshark.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import fs from 'fs';
import http from 'http';
import net from 'net';
import os from 'os';
import path from 'path';
import { buildLab, Lab, RunningAgent, startAgent, waitFor } from '../helpers/agentLab';
import { cleanupPrefix, isRoot, nsExec, testPrefix } from '../helpers/netns';

const P = testPrefix('ac');
const BIN = path.join(__dirname, '..', '..', 'bin', 'netscope');
const haveProm = fs.existsSync('/usr/bin/prometheus') && fs.existsSync('/usr/bin/promtool');
const d = isRoot && haveProm ? describe : describe.skip;

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

d('netscope agent on two nodes, scraped by Prometheus', () => {
  let lab: Lab;
  let a: RunningAgent;
  let b: RunningAgent;
  let prom: ChildProcess | null = null;
  let promErr = '';
  let promUrl = '';
  let tmp = '';

  beforeAll(async () => {
    cleanupPrefix(P);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nst-agent-'));
    lab = buildLab(P, 61);
    // The probe the DROP rule counts: UDP to port 9999 of pod 2.
    nsExec(lab.p2, 'iptables', ['-A', 'INPUT', '-p', 'udp', '--dport', '9999', '-j', 'DROP']);
    nsExec(lab.p1, 'ping', ['-c', '1', '-W', '5', lab.ip2]); // ARP resolved and the overlay works
    [a, b] = await Promise.all([
      startAgent(['--listen', '127.0.0.1:0', '--netns', `${lab.n1},${lab.p1}`, '--node-name', 'node-a', '--poll', '2']),
      startAgent(['--listen', '127.0.0.1:0', '--netns', `${lab.n2},${lab.p2}`, '--node-name', 'node-b', '--poll', '2']),
    ]);
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const cfg = path.join(tmp, 'prometheus.yml');
    fs.writeFileSync(
      cfg,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        'scrape_configs:',
        '  - job_name: netscope',
        '    static_configs:',
        `      - targets: ['${new URL(a.url).host}', '${new URL(b.url).host}']`,
        '',
      ].join('\n'),
    );
    prom = spawn(
      'prometheus',
      [`--config.file=${cfg}`, `--storage.tsdb.path=${path.join(tmp, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prom.stderr!.on('data', (c: Buffer) => (promErr += c.toString()));
    await waitFor('prometheus ready', async () => ((await httpGet(`${promUrl}/-/ready`)).status === 200 ? true : undefined), 90_000);
  }, 180_000);

  afterAll(async () => {
    if (prom && prom.exitCode === null) {
      const gone = new Promise((r) => prom!.once('exit', r));
      prom.kill('SIGTERM');
      await gone;
    }
    const codes = await Promise.all([a?.stop(), b?.stop()]);
    cleanupPrefix(P);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    // Graceful stop on SIGTERM: exit code 0 and the "stopped" line.
    expect(codes).toEqual([0, 0]);
    expect(a.stderr()).toMatch(/stopped/);
  }, 60_000);

  const query = async (q: string): Promise<PromResult[]> => {
    const r = await httpGet(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const doc = JSON.parse(r.body) as { status: string; data?: { result: PromResult[] }; error?: string };
    if (doc.status !== 'success') throw new Error(`${q}: ${doc.error}`);
    return doc.data!.result;
  };

  test('promtool check metrics accepts /metrics of both agents', async () => {
    for (const agent of [a, b]) {
      const { status, body } = await httpGet(`${agent.url}/metrics`);
      expect(status).toBe(200);
      expect(body).toMatch(/^netscope_agent_info\{node="node-[ab]",version="[^"]+"\} 1$/m);
      // promtool exits non-zero on any lint problem (and prints it).
      const out = execFileSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
      expect(out.trim()).toBe('');
    }
  });

  test('the DROP rule counter rises in Prometheus by exactly the packets sent', async () => {
    const N = 25;
    const series = `netscope_rule_packets_total{netns="${lab.p2}",table="filter",chain="INPUT",verdict="DROP"}`;
    // Prometheus must hold a sample from before the traffic (the rule's counter at 0) …
    let seen: unknown = null;
    await waitFor('first scrape of the DROP rule', async () => {
      const r = await query(series);
      seen = { series: r, up: await query('up') };
      return r.length === 1 && r[0].value[1] === '0' && r[0].metric.job === 'netscope' ? r : undefined;
    }, 150_000).catch((e: Error) => {
      throw new Error(`${e.message}; last answer ${JSON.stringify(seen)}; scrape errors: ${promErr.slice(-500)}`);
    });
    nsExec(lab.p1, 'bash', ['-c', `for i in $(seq ${N}); do echo probe > /dev/udp/${lab.ip2}/9999; done`]);
    // … and then one with all N: the exact increase is the newest minus the oldest sample (no extrapolation).
    const q = `max_over_time(${series}[10m]) - min_over_time(${series}[10m])`;
    const r = await waitFor('the increase in Prometheus', async () => {
      const res = await query(q);
      return res.length === 1 && Number(res[0].value[1]) >= N ? res : undefined;
    }, 150_000);
    expect(Number(r[0].value[1])).toBe(N);
    expect(r[0].metric.instance).toBe(new URL(b.url).host);
    // The same packets were seen by node b's pod capture and flow engine.
    const captured = await query(`netscope_capture_packets_total{netns="${lab.p2}",iface="eth0"}`);
    expect(Number(captured[0].value[1])).toBeGreaterThanOrEqual(N);
    // Both agents were scraped (a single scrape may time out on a loaded machine: 1 s interval = 1 s timeout).
    const nodes = await waitFor('a scrape of each agent', async () => {
      const r = await query('max_over_time(netscope_agent_info[10m])');
      return r.length === 2 ? r.map((x) => x.metric.node).sort() : undefined;
    }, 120_000).catch(async (e: Error) => {
      throw new Error(`${e.message}; targets: ${(await httpGet(`${promUrl}/api/v1/targets`)).body.slice(0, 2000)}`);
    });
    expect(nodes).toEqual(['node-a', 'node-b']);
  }, 330_000);

  test('netscope capture --agent A --agent B writes one pcapng with the probe on both nodes, in time order', async () => {
    const out = path.join(tmp, 'all.pcapng');
    const pings = 5;
    const cap = spawn('node', [BIN, 'capture', '--agent', a.url, '--agent', b.url, '-i', `eth0@${lab.p1}`, '-i', `eth0@${lab.p2}`, '-w', out, '--duration', '30', '--window-ms', '5000', '-c', String(4 * pings), 'icmp'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    cap.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((r) => cap.on('exit', (code) => r(code)));
    await waitFor('capture streams open', () => (/capturing on/.test(err) ? true : undefined), 60_000);
    nsExec(lab.p1, 'ping', ['-c', String(pings), '-i', '0.2', '-W', '5', lab.ip2]);
    // -c: the capture ends by itself once both nodes' requests and replies (4 × pings records) are merged.
    expect(await exited).toBe(0);
    const lines = execFileSync('tshark', ['-r', out, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.interface_name', '-e', 'icmp.type', '-e', 'icmp.seq'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    const ifaces = new Set(lines.map((l) => l[1]));
    expect([...ifaces].sort()).toEqual([`node-a/${lab.p1}/eth0`, `node-b/${lab.p2}/eth0`]);
    // Every echo request and reply of the probe on both nodes.
    for (const iface of ifaces) {
      for (const type of ['8', '0']) {
        const seqs = lines.filter((l) => l[1] === iface && l[2] === type).map((l) => Number(l[3]));
        expect(seqs).toEqual(Array.from({ length: pings }, (_, i) => i + 1));
      }
    }
    // The merged file is in time order: 0 inversions.
    const ts = lines.map((l) => l[0]);
    let inversions = 0;
    for (let i = 1; i < ts.length; i++) if (cmpTs(ts[i], ts[i - 1]) < 0) inversions++;
    expect(inversions).toBe(0);
    expect(err).not.toMatch(/later than the/);
    // Kernel timestamps on one clock: each request is on node a (sender) before node b, each reply the other way.
    const at = (iface: string, type: string, seq: number): string => lines.find((l) => l[1] === iface && l[2] === type && Number(l[3]) === seq)![0];
    const [ia, ib] = [`node-a/${lab.p1}/eth0`, `node-b/${lab.p2}/eth0`];
    let probeInversions = 0;
    for (let seq = 1; seq <= pings; seq++) {
      if (cmpTs(at(ia, '8', seq), at(ib, '8', seq)) >= 0) probeInversions++;
      if (cmpTs(at(ib, '0', seq), at(ia, '0', seq)) >= 0) probeInversions++;
    }
    expect(probeInversions).toBe(0);
  }, 200_000);
});

/** Compares "SEC.NNNNNNNNN" timestamps exactly (doubles would lose the nanoseconds). */
function cmpTs(x: string, y: string): number {
  const [xs, xf = ''] = x.split('.');
  const [ys, yf = ''] = y.split('.');
  if (xs !== ys) return Number(xs) - Number(ys);
  const a = xf.padEnd(9, '0');
  const b = yf.padEnd(9, '0');
  return a < b ? -1 : a > b ? 1 : 0;
}
