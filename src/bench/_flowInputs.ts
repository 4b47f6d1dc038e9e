/**
 * Generated capture files for the flow benchmarks (and tests that need many flows): classic pcap, Ethernet,
 * deterministic (seeded), written in 64k-packet chunks. No large binary lives in git.
 */
import fs from 'fs';

/** Creates `file` with a classic pcap header (µs, Ethernet, `snaplen`); returns its fd for the records. */
function createPcap(file: string, snaplen: number): number {
  const fd = fs.openSync(file, 'w');
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(snaplen, 16);
  hdr.writeUInt32LE(1, 20);
  fs.writeSync(fd, hdr);
  return fd;
}

/**
 * Writes a classic pcap of `packets` Ethernet/IPv4 frames over `flows` flows (6 in 10 TCP, 3 UDP, 1 ICMP echo).
 * distinct: packet i is flow i. Otherwise flows are picked uniformly at random, one packet at a time
 * (burst = 1: the worst case for any cache), or in runs of 1..2×burst-1 packets (trains, as TCP sends them).
 */
export function generate(file: string, packets: number, flows: number, distinct: boolean, burst = 1): void {
  const fd = createPcap(file, 65535);
  const chunkPkts = 65536;
  const maxFrame = 14 + 20 + 20 + 64;
  const chunk = Buffer.alloc(chunkPkts * (16 + maxFrame));
  let seed = 0x2545f491;
  let t = 1_700_000_000 * 1e6;
  let run = 0;
  let runs = 0;
  let cur = 0;
  for (let done = 0; done < packets; ) {
    let o = 0;
    const n = Math.min(chunkPkts, packets - done);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      if (run === 0) {
        // Runs visit flows in a scrambled order that still reaches every flow.
        cur = burst <= 1 ? seed % flows : (Math.imul(runs++, 40503) >>> 0) % flows;
        run = burst <= 1 ? 1 : 1 + ((seed >>> 7) % (2 * burst - 1));
      }
      run--;
      const f = distinct ? done + i : cur;
      const kind = f % 10; // 6 TCP, 3 UDP, 1 ICMP echo
      const reverse = (seed >>> 20) & 1;
      const payload = (seed >>> 8) & 63;
      const l4 = kind < 6 ? 20 : 8;
      const frame = 14 + 20 + l4 + payload;
      t += 1;
      chunk.writeUInt32LE(Math.floor(t / 1e6), o);
      chunk.writeUInt32LE(t % 1e6, o + 4);
      chunk.writeUInt32LE(frame, o + 8);
      chunk.writeUInt32LE(frame, o + 12);
      const e = o + 16;
      chunk.fill(0, e, e + frame);
      chunk[e] = 2;
      chunk[e + 5] = 1 + reverse;
      chunk[e + 6] = 2;
      chunk[e + 11] = 2 - reverse;
      chunk[e + 12] = 0x08;
      const ip = e + 14;
      chunk[ip] = 0x45;
      chunk.writeUInt16BE(frame - 14, ip + 2);
      chunk[ip + 8] = 64;
      chunk[ip + 9] = kind < 6 ? 6 : kind < 9 ? 17 : 1;
      // Client 10.244.x.y (flow id low 16 bits), server 10.42.x.y (next bits): distinct flows up to 2^32.
      const client = (0x0af40000 | (f & 0xffff)) >>> 0;
      const server = (0x0a2a0000 | ((f >>> 16) & 0xffff)) >>> 0;
      chunk.writeUInt32BE(reverse ? server : client, ip + 12);
      chunk.writeUInt32BE(reverse ? client : server, ip + 16);
      const l = ip + 20;
      const cport = 10000 + (f % 50000);
      const sport = kind < 6 ? 443 : 53;
      if (kind === 9) {
        chunk[l] = reverse ? 0 : 8;
        chunk.writeUInt16BE(f & 0xffff, l + 4);
        chunk.writeUInt16BE(seed & 0xffff, l + 6);
      } else {
        chunk.writeUInt16BE(reverse ? sport : cport, l);
        chunk.writeUInt16BE(reverse ? cport : sport, l + 2);
        if (kind < 6) {
          chunk[l + 12] = 0x50;
          chunk[l + 13] = 0x10;
        } else {
          chunk.writeUInt16BE(8 + payload, l + 4);
        }
      }
      o += 16 + frame;
    }
    fs.writeSync(fd, chunk, 0, o);
    done += n;
  }
  fs.closeSync(fd);
}

/**
 * Writes a classic pcap of `packets` packets over `flows` flows shaped like real traffic, cut to `snaplen`
 * (wire lengths stay real). Flows are visited in trains of 1..15 packets, in a
 * scrambled order that reaches every flow; within a flow the packets follow its protocol:
 *  - TCP (6 in 10): SYN, SYN-ACK, ACK, then two full-size segments from the server and an ACK back, repeated;
 *    1 in 50 connects get no answer (SYN retransmissions), 1 in 40 connections close (FIN, FIN, ACK) and
 *    their 4-tuple is reused by a new connection;
 *  - UDP (3 in 10): DNS-like query and response to one resolver;
 *  - ICMP echo (1 in 10): request and reply with increasing sequence numbers; 1 in 97 pings unanswered.
 * Clients are 10.244.0.0/16 pods behind 32 MACs, servers 50 addresses behind one gateway MAC; 10 µs apart.
 */
export function generateRealistic(file: string, packets: number, flows: number, snaplen = 65535): void {
  const fd = createPcap(file, snaplen);
  const chunkPkts = 65536;
  const chunk = Buffer.alloc(chunkPkts * (16 + Math.min(snaplen, 1514)));
  const sent = new Uint32Array(flows);
  let seed = 0x1234567;
  let t = 1_700_000_000 * 1e6;
  let run = 0;
  let runs = 0;
  let f = 0;
  for (let done = 0; done < packets; ) {
    let o = 0;
    const n = Math.min(chunkPkts, packets - done);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      if (run === 0) {
        f = (Math.imul(runs++, 40503) >>> 0) % flows;
        run = 1 + ((seed >>> 7) % 15);
        // A train holds whole exchanges: the handshake, query and response, request and reply.
        if (f % 10 < 6 && sent[f] === 0) run = Math.max(run, 3);
        else if (f % 10 >= 6) run += run % 2;
      }
      run--;
      const k = sent[f]++;
      const kind = f % 10;
      const client = (0x0af40000 | (f & 0xffff)) >>> 0;
      const cport = 32768 + ((f * 7919) % 28000);
      let server = (0x0a2a0000 | (1 + (f % 50))) >>> 0;
      let toServer = true;
      let proto = 6;
      let len = 66;
      let flags = 0x10;
      let sport = 443;
      let icmpType = 8;
      if (kind < 6) {
        const phase = k < 3 ? k : 3 + ((k - 3) % 3);
        const closes = f % 40 === 1 && k >= 12 && k < 15;
        if (f % 50 === 0) {
          flags = 0x02; // a connect nobody answers: SYN retransmissions
          len = 74;
        } else if (closes) {
          toServer = k !== 12;
          flags = k === 14 ? 0x10 : 0x11;
        } else if (k >= 15 && f % 40 === 1) {
          flags = k === 15 ? 0x02 : 0x10; // the 4-tuple is reused for a new connection after the close
          len = k === 15 ? 74 : 66;
        } else if (phase === 0) {
          flags = 0x02;
          len = 74;
        } else if (phase === 1) {
          toServer = false;
          flags = 0x12;
          len = 74;
        } else if (phase === 2 || phase === 5) {
          flags = 0x10;
        } else {
          toServer = false;
          flags = 0x18;
          len = (seed >>> 9) % 4 === 0 ? 200 + ((seed >>> 12) % 1300) : 1514;
        }
      } else if (kind < 9) {
        proto = 17;
        server = 0x0a2a000a;
        sport = 53;
        toServer = k % 2 === 0;
        len = toServer ? 70 + ((f >>> 3) % 40) : 120 + ((f >>> 2) % 300);
      } else {
        proto = 1;
        toServer = k % 2 === 0 || f % 97 === 0;
        icmpType = toServer ? 8 : 0;
        len = 98;
      }
      const caplen = Math.min(len, snaplen);
      t += 10;
      chunk.writeUInt32LE(Math.floor(t / 1e6), o);
      chunk.writeUInt32LE(t % 1e6, o + 4);
      chunk.writeUInt32LE(caplen, o + 8);
      chunk.writeUInt32LE(len, o + 12);
      const e = o + 16;
      chunk.fill(0, e, e + caplen);
      // Client MACs 02:00:00:00:00:NN (32 pods), the gateway 02:00:00:00:ff:01.
      const cmac = 1 + (f % 32);
      chunk[e] = 2;
      chunk[e + 4] = toServer ? 0xff : 0;
      chunk[e + 5] = toServer ? 1 : cmac;
      chunk[e + 6] = 2;
      chunk[e + 10] = toServer ? 0 : 0xff;
      chunk[e + 11] = toServer ? cmac : 1;
      chunk[e + 12] = 0x08;
      const ip = e + 14;
      chunk[ip] = 0x45;
      chunk.writeUInt16BE(len - 14, ip + 2);
      chunk[ip + 8] = 64;
      chunk[ip + 9] = proto;
      chunk.writeUInt32BE(toServer ? client : server, ip + 12);
      chunk.writeUInt32BE(toServer ? server : client, ip + 16);
      const l = ip + 20;
      if (proto === 1) {
        chunk[l] = icmpType;
        chunk.writeUInt16BE(f & 0xffff, l + 4);
        chunk.writeUInt16BE((f % 97 === 0 ? k : k >>> 1) & 0xffff, l + 6);
      } else {
        chunk.writeUInt16BE(toServer ? cport : sport, l);
        chunk.writeUInt16BE(toServer ? sport : cport, l + 2);
        if (proto === 6) {
          chunk[l + 12] = 0x50;
          chunk[l + 13] = flags;
        } else {
          chunk.writeUInt16BE(len - 34, l + 4);
        }
      }
      o += 16 + caplen;
    }
    fs.writeSync(fd, chunk, 0, o);
    done += n;
  }
  fs.closeSync(fd);
}

/** What generateManyFlows wrote, by kind (the problems a reader of the file should report). */
export interface ManyFlowsStats {
  packets: number;
  flows: number;
  tcp: number;
  /** TCP connects without a completed handshake (SYNs only, some refused by RST). */
  tcpIncomplete: number;
  udp: number;
  icmp: number;
  /** Echo flows whose requests got no reply at all. */
  icmpUnanswered: number;
  arp: number;
  /** ARP flows asking for a host that never answers. */
  arpAbsent: number;
}

const K_TCP = 0;
const K_UDP = 1;
const K_ICMP = 2;
const K_ARP = 3;
const FL_INCOMPLETE = 1;
const FL_REFUSED = 2;
const FL_RESET = 4;
const FL_UNANSWERED = 8;

/**
 * Many short flows, as a busy node sees them: `active` flows are open at once and every packet is the next
 * packet of a random one of them (so consecutive packets rarely share a flow); a finished flow is replaced
 * by a new one. Mix: TCP 50% (30% of handshakes never complete: 1-3 SYNs, a quarter of those refused by RST;
 * 3% of connections reset), UDP 25% (query, usually a response), ICMP echo 17% (random ids, 1-3 requests,
 * 55% of echo flows unanswered), ARP 8% (half for one of 4096 absent hosts: 1-3 requests, no reply).
 * Directions are random: the initiator is on the pod side (10.244/16) or the remote side (10.42/16) by a coin
 * flip; pod MACs are 02:00:00:00:00:NN (256), the remote side is behind a gateway MAC. Whole packets, 10 µs apart.
 */
export function generateManyFlows(file: string, packets: number, active = 8192): ManyFlowsStats {
  const fd = createPcap(file, 65535);
  const chunkPkts = 65536;
  const chunk = Buffer.alloc(chunkPkts * (16 + 1514));
  const st: ManyFlowsStats = { packets, flows: 0, tcp: 0, tcpIncomplete: 0, udp: 0, icmp: 0, icmpUnanswered: 0, arp: 0, arpAbsent: 0 };
  const kind = new Uint8Array(active);
  const flags = new Uint8Array(active);
  const step = new Uint8Array(active);
  const steps = new Uint8Array(active);
  const client = new Uint32Array(active);
  const server = new Uint32Array(active);
  const cport = new Uint16Array(active);
  const sport = new Uint16Array(active);
  let seed = 0x9e3779b9;
  const rnd = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const newFlow = (j: number): void => {
    st.flows++;
    const pod = (0x0af40000 | (rnd() & 0xffff)) >>> 0;
    const remote = (0x0a2a0000 | (rnd() & 0xffff)) >>> 0;
    const podFirst = (rnd() & 1) === 0;
    client[j] = podFirst ? pod : remote;
    server[j] = podFirst ? remote : pod;
    cport[j] = 32768 + (rnd() % 28000);
    step[j] = 0;
    flags[j] = 0;
    const k = rnd() % 100;
    if (k < 50) {
      st.tcp++;
      kind[j] = K_TCP;
      sport[j] = [443, 80, 8080, 6443, 5432][rnd() % 5];
      if (rnd() % 100 < 30) {
        st.tcpIncomplete++;
        flags[j] = FL_INCOMPLETE | (rnd() % 4 === 0 ? FL_REFUSED : 0);
        steps[j] = 1 + (rnd() % 3) + ((flags[j] & FL_REFUSED) !== 0 ? 1 : 0);
      } else {
        flags[j] = rnd() % 100 < 3 ? FL_RESET : 0;
        steps[j] = 3 + (rnd() % 6);
      }
    } else if (k < 75) {
      st.udp++;
      kind[j] = K_UDP;
      sport[j] = rnd() % 2 === 0 ? 53 : 1024 + (rnd() % 3000);
      steps[j] = rnd() % 10 === 0 ? 1 : 2;
    } else if (k < 92) {
      st.icmp++;
      kind[j] = K_ICMP;
      cport[j] = rnd() & 0xffff; // the echo id
      const n = 1 + (rnd() % 3);
      if (rnd() % 100 < 55) {
        st.icmpUnanswered++;
        flags[j] = FL_UNANSWERED;
        steps[j] = n;
      } else {
        steps[j] = 2 * n;
      }
    } else {
      st.arp++;
      kind[j] = K_ARP;
      client[j] = pod;
      if (rnd() % 2 === 0) {
        st.arpAbsent++;
        flags[j] = FL_UNANSWERED;
        server[j] = (0x0af5f000 + (rnd() % 4096)) >>> 0; // 10.245.240.0/20: nobody home
        steps[j] = 1 + (rnd() % 3);
      } else {
        server[j] = (0x0af40000 | (rnd() & 0xffff)) >>> 0;
        steps[j] = 2;
      }
    }
  };
  for (let j = 0; j < active; j++) newFlow(j);
  let t = 1_700_000_000 * 1e6;
  for (let done = 0; done < packets; ) {
    let o = 0;
    const n = Math.min(chunkPkts, packets - done);
    for (let i = 0; i < n; i++) {
      const j = rnd() % active;
      const s = step[j];
      const fl = flags[j];
      const last = s + 1 === steps[j];
      let toServer = true;
      let len = 66;
      let ethType = 0x0800;
      let proto = 6;
      let tcpFlags = 0x10;
      let icmpType = 8;
      let arpOp = 1;
      switch (kind[j]) {
        case K_TCP:
          if ((fl & FL_INCOMPLETE) !== 0) {
            if ((fl & FL_REFUSED) !== 0 && last) {
              toServer = false;
              tcpFlags = 0x14; // RST-ACK: refused
              len = 60;
            } else {
              tcpFlags = 0x02;
              len = 74;
            }
          } else if (s === 0) {
            tcpFlags = 0x02;
            len = 74;
          } else if (s === 1) {
            toServer = false;
            tcpFlags = 0x12;
            len = 74;
          } else if ((fl & FL_RESET) !== 0 && last) {
            toServer = (rnd() & 1) === 0;
            tcpFlags = 0x04;
            len = 60;
          } else if (s > 2 && (s & 1) === 1) {
            toServer = false;
            tcpFlags = 0x18;
            len = 66 + (rnd() % 1449);
          }
          break;
        case K_UDP:
          proto = 17;
          toServer = s === 0;
          len = toServer ? 70 + (rnd() % 40) : 100 + (rnd() % 400);
          break;
        case K_ICMP:
          proto = 1;
          toServer = (fl & FL_UNANSWERED) !== 0 || (s & 1) === 0;
          icmpType = toServer ? 8 : 0;
          len = 98;
          break;
        default:
          ethType = 0x0806;
          toServer = s === 0 || (fl & FL_UNANSWERED) !== 0;
          arpOp = toServer ? 1 : 2;
          len = 60;
      }
      step[j] = s + 1;
      t += 10;
      chunk.writeUInt32LE(Math.floor(t / 1e6), o);
      chunk.writeUInt32LE(t % 1e6, o + 4);
      chunk.writeUInt32LE(len, o + 8);
      chunk.writeUInt32LE(len, o + 12);
      const e = o + 16;
      chunk.fill(0, e, e + len);
      const src = toServer ? client[j] : server[j];
      const dst = toServer ? server[j] : client[j];
      // Pod side (10.244/16): 256 pod MACs; everything else behind the gateway 02:00:00:00:ff:01.
      const macOf = (ip: number, at: number): void => {
        chunk[at] = 2;
        if (ip >>> 16 === 0x0af4) chunk[at + 5] = ip & 0xff;
        else {
          chunk[at + 4] = 0xff;
          chunk[at + 5] = 1;
        }
      };
      if (ethType === 0x0806 && arpOp === 1) chunk.fill(0xff, e, e + 6);
      else macOf(dst, e);
      macOf(src, e + 6);
      chunk.writeUInt16BE(ethType, e + 12);
      if (ethType === 0x0806) {
        const a = e + 14;
        chunk.writeUInt16BE(1, a);
        chunk.writeUInt16BE(0x0800, a + 2);
        chunk[a + 4] = 6;
        chunk[a + 5] = 4;
        chunk.writeUInt16BE(arpOp, a + 6);
        macOf(src, a + 8);
        chunk.writeUInt32BE(src, a + 14);
        if (arpOp === 2) macOf(dst, a + 18);
        chunk.writeUInt32BE(dst, a + 24);
      } else {
        const ip = e + 14;
        chunk[ip] = 0x45;
        chunk.writeUInt16BE(len - 14, ip + 2);
        chunk.writeUInt16BE(rnd() & 0xffff, ip + 4);
        chunk[ip + 8] = 64;
        chunk[ip + 9] = proto;
        chunk.writeUInt32BE(src, ip + 12);
        chunk.writeUInt32BE(dst, ip + 16);
        const l = ip + 20;
        if (proto === 1) {
          chunk[l] = icmpType;
          chunk.writeUInt16BE(cport[j], l + 4);
          chunk.writeUInt16BE((fl & FL_UNANSWERED) !== 0 ? s : s >>> 1, l + 6);
        } else {
          chunk.writeUInt16BE(toServer ? cport[j] : sport[j], l);
          chunk.writeUInt16BE(toServer ? sport[j] : cport[j], l + 2);
          if (proto === 6) {
            chunk[l + 12] = 0x50;
            chunk[l + 13] = tcpFlags;
          } else {
            chunk.writeUInt16BE(len - 34, l + 4);
          }
        }
      }
      o += 16 + len;
      if (last) newFlow(j);
    }
    fs.writeSync(fd, chunk, 0, o);
    done += n;
  }
  fs.closeSync(fd);
  return st;
}
