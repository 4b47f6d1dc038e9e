/**
 * `npm run bench -- soak [--minutes N | --seconds N]` (default 30 minutes; not part of a plain `npm run bench`):
 * memory of the flow engine in a long run, the way `watch` and the per-node agent use it. Packets generated
 * in this process go through the real decoder into one FlowTable (idle timeout 120 s, default cap) at
 * 100k packets/s, paced by the time actually elapsed (the capture clock is that elapsed time); as the
 * dashboard does, expire() and a top-50 snapshot run once per second and the problem digest every 10 s.
 *
 * Traffic: flows churn (new client ports all the time, so old flows go idle and expire): TCP 50% (30% of
 * connects unanswered), UDP 25%, ICMP echo 17% (random ids, half unanswered), ARP 8% (a fixed set of 4096
 * absent hosts); 256 pod MACs and a gateway. Prints RSS, heap and table size at the start, every minute, and
 * at the end, and whether RSS stayed flat (end within 10% of the first minute's, once warm).
 */
import os from 'os';
import { FlowTable } from '../analysis/flows';
import { decodeRecord } from '../decode/decode';
import { PacketView } from '../decode/view';
import type { PacketRecord } from '../pcap/record';

const RATE = 100_000;
/** Flows open at once; each packet belongs to one of them, picked at random. */
const ACTIVE = 20_000;

function durationSec(argv: string[]): number {
  const i = argv.indexOf('--minutes');
  if (i >= 0 && Number(argv[i + 1]) > 0) return Number(argv[i + 1]) * 60;
  const j = argv.indexOf('--seconds');
  if (j >= 0 && Number(argv[j + 1]) > 0) return Number(argv[j + 1]);
  return 30 * 60;
}

/** Writes one generated frame of flow `f` (packet `k` of it) into `b`; returns its length. */
function frame(b: Buffer, f: number, k: number, rnd: number): number {
  const kind = f % 100;
  const client = (0x0af40000 | (f & 0xffff)) >>> 0;
  const server = (0x0a2a0000 | ((f >>> 4) & 0xfff)) >>> 0;
  // Unanswered connects and pings only ever go one way.
  const unanswered = kind < 15 || (kind >= 75 && kind < 84);
  const toServer = unanswered || k === 0 || (rnd & 1) === 0;
  b.fill(0, 0, 98);
  // Pod MACs 02:00:00:00:00:NN, the gateway 02:00:00:00:ff:01.
  b[0] = 2;
  b[6] = 2;
  if (toServer) {
    b[4] = 0xff;
    b[5] = 1;
    b[11] = client & 0xff;
  } else {
    b[5] = client & 0xff;
    b[10] = 0xff;
    b[11] = 1;
  }
  if (kind >= 92) {
    // ARP for one of 4096 absent hosts.
    b[0] = b[1] = b[2] = b[3] = b[4] = b[5] = 0xff;
    b[12] = 0x08;
    b[13] = 0x06;
    b.writeUInt16BE(1, 14);
    b.writeUInt16BE(0x0800, 16);
    b[18] = 6;
    b[19] = 4;
    b.writeUInt16BE(1, 20);
    b[22] = 2;
    b[27] = client & 0xff;
    b.writeUInt32BE(client, 28);
    b.writeUInt32BE((0x0af5f000 + (f % 4096)) >>> 0, 38);
    return 60;
  }
  b[12] = 0x08;
  const len = kind < 50 ? 66 : kind < 75 ? 90 : 98;
  b[14] = 0x45;
  b.writeUInt16BE(len - 14, 16);
  b[22] = 64;
  b[23] = kind < 50 ? 6 : kind < 75 ? 17 : 1;
  b.writeUInt32BE(toServer ? client : server, 26);
  b.writeUInt32BE(toServer ? server : client, 30);
  const cport = 32768 + ((f >>> 16) % 28000);
  if (kind < 50) {
    b.writeUInt16BE(toServer ? cport : 443, 34);
    b.writeUInt16BE(toServer ? 443 : cport, 36);
    b[46] = 0x50;
    b[47] = k === 0 || unanswered ? 0x02 : k === 1 && !toServer ? 0x12 : 0x10;
  } else if (kind < 75) {
    b.writeUInt16BE(toServer ? cport : 53, 34);
    b.writeUInt16BE(toServer ? 53 : cport, 36);
    b.writeUInt16BE(len - 34, 38);
  } else {
    b[34] = toServer ? 8 : 0;
    b.writeUInt16BE((f >>> 3) & 0xffff, 38);
    b.writeUInt16BE(k >>> 1, 40);
  }
  return len;
}

const mib = (x: number): string => `${(x / 1048576).toFixed(1)} MiB`;
const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');

export async function run(): Promise<void> {
  const total = durationSec(process.argv);
  console.log(`soak: ${RATE} packets/s through decoder + FlowTable for ${(total / 60).toFixed(1)} min; load average ${load()} on ${os.cpus().length} CPUs`);
  const table = new FlowTable({ idleTimeoutSec: 120 });
  const view = new PacketView();
  const buf = Buffer.alloc(128);
  const rec: PacketRecord = { buf, offset: 0, caplen: 0, len: 0, tsSec: 0, tsNsec: 0, linktype: 1, ifIndex: 0, iface: 'soak0' };
  const flowId = new Uint32Array(ACTIVE);
  const sent = new Uint16Array(ACTIVE);
  let nextFlow = 0;
  for (let j = 0; j < ACTIVE; j++) flowId[j] = nextFlow++;
  let seed = 0x2545f491;
  const baseSec = 1_800_000_000;
  const t0 = process.hrtime.bigint();
  let packets = 0;
  let lastSecond = -1;
  let lastMinute = 0;
  let warmRss = 0;
  const report = (label: string, elapsed: number): void => {
    const m = process.memoryUsage();
    const c = table.counters();
    console.log(
      `  ${label.padEnd(8)} t=${elapsed.toFixed(0).padStart(5)} s  packets ${packets}  rate ${(packets / Math.max(elapsed, 1e-9) / 1000).toFixed(1)}k/s  ` +
        `RSS ${mib(m.rss)}  heap ${mib(m.heapUsed)}  arrays ${mib(m.arrayBuffers)}  flows ${c.flows}  expired ${c.expired}  MACs ${c.macs}  load ${load()}`,
    );
  };
  report('start', 0);
  const startRss = process.memoryUsage().rss;
  for (;;) {
    const elapsedNs = Number(process.hrtime.bigint() - t0);
    const elapsed = elapsedNs / 1e9;
    if (elapsed >= total) break;
    // Packets due by now at RATE, in batches (the event loop gets a turn between them, as in a live capture).
    const due = Math.min(Math.floor(elapsed * RATE) - packets, 20_000);
    rec.tsSec = baseSec + Math.floor(elapsedNs / 1e9);
    rec.tsNsec = elapsedNs % 1e9;
    for (let i = 0; i < due; i++) {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      const j = (seed >>> 0) % ACTIVE;
      const len = frame(buf, flowId[j], sent[j]++, seed >>> 16);
      // A flow ends after 2..17 packets and a new one (a new client port) takes its place.
      if (sent[j] > 2 + (flowId[j] % 16)) {
        flowId[j] = nextFlow++;
        sent[j] = 0;
      }
      rec.caplen = rec.len = len;
      decodeRecord(view, rec);
      table.add(view, rec);
    }
    packets += Math.max(0, due);
    const sec = Math.floor(elapsed);
    if (sec !== lastSecond) {
      lastSecond = sec;
      table.expire(rec.tsSec + rec.tsNsec / 1e9);
      table.snapshot({ sort: 'rate', top: 50 });
      if (sec % 10 === 0) table.problemDigest();
    }
    if (elapsed >= (lastMinute + 1) * 60) {
      lastMinute++;
      report(`min ${lastMinute}`, elapsed);
      if (lastMinute === 1) warmRss = process.memoryUsage().rss;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  report('end', elapsed);
  const endRss = process.memoryUsage().rss;
  const ref = warmRss > 0 ? warmRss : startRss;
  console.log(
    `  RSS start ${mib(startRss)}, ${warmRss > 0 ? `after 1 min ${mib(warmRss)}, ` : ''}end ${mib(endRss)}: ` +
      `${endRss <= ref * 1.1 ? 'flat' : 'GREW'} (end within 10% of ${warmRss > 0 ? 'the first minute' : 'the start'}: ${((endRss / ref - 1) * 100).toFixed(1)}%); ` +
      `achieved ${(packets / elapsed / 1000).toFixed(1)}k packets/s of ${RATE / 1000}k`,
  );
}
