/**
 * Namespace agent: a small process started inside a network namespace (`ip netns exec NS node agent.js JOB`
 * or `nsenter --net=/proc/PID/ns/net node agent.js JOB`, or plainly in netscope's own namespace). It opens
 * libpcap there (netscope's binding: kernel timestamps, original lengths, pcap_stats) and either streams the
 * captured packets to stdout as a nanosecond pcap stream, or injects the frames of a file. Status goes to
 * stderr as AgentMessage lines. It dies with its parent: EOF on stdin, or its parent pid changing. A libpcap
 * handle is bound to the namespace of the thread that opened it, hence one process per namespace.
 */
import net from 'net';
import { performance } from 'perf_hooks';
import { PcapHandle, PcapOpenError, PcapStats } from '../libpcap/handle';
import { AgentCounters, AgentJob, CaptureJob, SendJob, encodeAgentMessage, AgentMessage } from './agentProtocol';
import { loadFrameSet } from './frameSet';
import { readIfaceCounters } from './ifaceCounters';
import { pcapStreamHeader } from './pcapStream';

function say(m: AgentMessage): void {
  process.stderr.write(encodeAgentMessage(m));
}

/** Captured bytes allowed to wait for the parent before batches are dropped (and counted). */
const MAX_QUEUED_BYTES = 256 * 1024 * 1024;

/** Exit code of an agent that could not start (the parent reads the error message, not the code). */
const EXIT_SETUP = 3;

function failSetup(kind: PcapOpenError['kind'] | 'setup', message: string): void {
  say({ type: 'error', kind, message });
  process.exitCode = EXIT_SETUP;
}

function ifaceMissing(iface: string): boolean {
  const counters = readIfaceCounters();
  if (counters.has(iface)) return false;
  failSetup('iface', `no interface "${iface}"; existing: ${[...counters.keys()].sort().join(', ') || 'none'}`);
  return true;
}

/** Reads "go"/"stop" lines from the parent; EOF = stop. Also stops if the parent is gone. */
function listenToParent(onGo: () => void, onStop: () => void): void {
  const parentPid = process.ppid;
  let text = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d: string) => {
    text += d;
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl).trim();
      text = text.slice(nl + 1);
      if (line === 'go') onGo();
      else if (line === 'stop') onStop();
    }
  });
  process.stdin.on('end', onStop);
  process.stdin.on('error', onStop);
  const watch = setInterval(() => {
    if (process.ppid !== parentPid) onStop();
  }, 1000);
  watch.unref();
  // Ctrl-C reaches the whole process group: the parent decides when agents stop, so they flush first.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', onStop);
}

/** Per-record header of the binding's batches (classic pcap record header). */
const RECORD_HEADER = 16;
/** How often an agent tells its parent how far its stream is complete (see heartbeatRecord). */
const HEARTBEAT_MS = 50;

/**
 * An in-band promise for the parent's merge: a pcap record with caplen 0 and original length 0 (no real packet
 * has length 0) whose timestamp says "every packet captured before this time has been sent". In-band, because
 * a promise on stderr could overtake packets still in the stdout pipe.
 */
export function heartbeatRecord(nowMs: number, lagMs: number): Buffer {
  const t = nowMs - lagMs;
  const sec = Math.floor(t / 1000);
  const b = Buffer.alloc(RECORD_HEADER);
  b.writeUInt32LE(sec >>> 0, 0);
  b.writeUInt32LE(Math.round((t - sec * 1000) * 1e6) >>> 0, 4);
  return b;
}

function runCapture(job: CaptureJob): void {
  if (ifaceMissing(job.iface)) return;
  const startDropped = readIfaceCounters().get(job.iface)?.rxDropped ?? 0;
  const handle = new PcapHandle();
  const counters: AgentCounters = {
    packets: 0,
    bytes: 0,
    truncated: 0,
    ifaceRxDropped: 0,
    agentDropped: 0,
    kernelReceived: 0,
    kernelDropped: 0,
    kernelIfDropped: 0,
  };
  let streaming = false;
  let stopped = false;
  // pcap_stats at "go": packets captured before streaming began are not part of this capture.
  let base: PcapStats = { received: 0, dropped: 0, ifDropped: 0 };
  // Not process.stdout: on Linux its pipe writes block, so a parent that is slow to be scheduled would stall
  // this process and let the kernel ring overflow. A non-blocking socket queues in memory instead, bounded
  // by MAX_QUEUED_BYTES, beyond which batches are dropped and counted.
  const out = new net.Socket({ fd: 1, readable: false, writable: true });

  const onBatch = (batch: Buffer, count: number): void => {
    if (!streaming || stopped) return;
    if (out.writableLength > MAX_QUEUED_BYTES) {
      counters.agentDropped += count;
      return;
    }
    // Count captured bytes and cut-short records: a walk over the record headers only.
    let o = 0;
    for (let i = 0; i < count; i++) {
      const caplen = batch.readUInt32LE(o + 8);
      const len = batch.readUInt32LE(o + 12);
      counters.bytes += caplen;
      if (caplen < len) counters.truncated++;
      o += RECORD_HEADER + caplen;
    }
    counters.packets += count;
    out.write(batch);
  };
  const refreshStats = (): void => {
    const now = readIfaceCounters().get(job.iface);
    if (now) counters.ifaceRxDropped = now.rxDropped - startDropped;
    else if (!stopped) setImmediate(() => stop(`interface "${job.iface}" was deleted`));
    const st = handle.stats();
    if (st !== null) {
      counters.kernelReceived = st.received - base.received;
      counters.kernelDropped = st.dropped - base.dropped;
      counters.kernelIfDropped = st.ifDropped - base.ifDropped;
    }
  };
  let stopping = false;
  const stop = (lost?: string): void => {
    if (stopped || stopping) return;
    if (lost === undefined) {
      // A packet in a ring block that is not yet retired is invisible to libpcap: wait for the block timeout,
      // then hand over what the ring holds, so captured + dropped by kernel = received by filter.
      stopping = true;
      setTimeout(() => {
        stopping = false;
        handle.drain();
        finalStop();
      }, 2 * job.timeoutMs + 10);
      return;
    }
    finalStop(lost);
  };
  const finalStop = (lost?: string): void => {
    if (stopped) return;
    refreshStats();
    stopped = true;
    clearInterval(statsTimer);
    clearInterval(heartbeat);
    handle.close();
    if (lost !== undefined) say({ type: 'lost', message: lost });
    say({ type: 'done', ...counters });
    out.end();
    process.stdin.destroy();
  };

  try {
    handle.openCapture(
      {
        iface: job.iface,
        filter: job.filter,
        snaplen: job.snaplen,
        promisc: job.promisc,
        immediate: job.immediate,
        ringBytes: job.ringBytes,
        timeoutMs: job.timeoutMs,
      },
      onBatch,
      (message) => stop(message),
    );
  } catch (e) {
    const err = e instanceof PcapOpenError ? e : new PcapOpenError('other', String(e));
    failSetup(err.kind, err.message);
    return;
  }
  say({ type: 'ready', linktype: handle.linktype, snaplen: handle.snaplen, nano: handle.nano, ...(handle.warning ? { warning: handle.warning } : {}) });

  const statsTimer = setInterval(() => {
    refreshStats();
    say({ type: 'stats', ...counters });
  }, job.statsIntervalMs);
  // A packet can wait in a ring block until the block is retired (full or its timeout): promise only what is
  // older than that, after handing over everything the ring holds now.
  const lagMs = job.immediate ? 5 : 2 * job.timeoutMs + 10;
  let packetsAtLastBeat = 0;
  const heartbeat = setInterval(() => {
    if (!streaming || stopped) return;
    handle.drain();
    // The kernel does not always flag the socket when its interface is deleted (seen here after traffic):
    // when nothing arrived since the last beat, look for the interface itself.
    if (counters.packets === packetsAtLastBeat && !readIfaceCounters().has(job.iface)) return stop(`interface "${job.iface}" was deleted`);
    packetsAtLastBeat = counters.packets;
    if (!stopped && out.writableLength <= MAX_QUEUED_BYTES) out.write(heartbeatRecord(Date.now(), lagMs));
  }, HEARTBEAT_MS);

  listenToParent(
    () => {
      if (streaming || stopped) return;
      streaming = true;
      base = handle.stats() ?? base;
      out.write(pcapStreamHeader(handle.linktype, handle.snaplen));
    },
    () => stop(),
  );
  out.on('error', () => {
    // The parent stopped reading: nothing left to deliver to.
    handle.close();
    process.exit(0);
  });
}

function runSend(job: SendJob): void {
  let set;
  try {
    set = loadFrameSet(job.file);
  } catch (e) {
    failSetup('setup', e instanceof Error ? e.message : String(e));
    return;
  }
  if (ifaceMissing(job.iface)) return;
  const handle = new PcapHandle();
  try {
    handle.openInject(job.iface);
  } catch (e) {
    const err = e instanceof PcapOpenError ? e : new PcapOpenError('other', String(e));
    failSetup(err.kind === 'filter' ? 'other' : err.kind, err.message);
    return;
  }
  say({ type: 'ready', linktype: handle.linktype, snaplen: handle.snaplen, nano: handle.nano });

  const { frames, relMs } = set;
  const errors = new Map<string, number>();
  let sent = 0;
  let failed = 0;
  let bytes = 0;
  let index = 0;
  let loopNo = 0;
  let virtualMs = 0;
  let begun = -1;
  let stopped = false;
  const limit = job.count > 0 ? job.count : Infinity;

  const finish = (): void => {
    if (stopped) return;
    stopped = true;
    handle.close();
    say({
      type: 'sent',
      sent,
      failed,
      bytes,
      errors: [...errors].map(([m, n]) => `${m} (${n}×)`),
      elapsedMs: begun < 0 ? 0 : Math.round(performance.now() - begun),
      skipped: 0,
    });
    process.stdin.destroy();
  };
  // Due time of the frame at `index`, in ms after the start.
  const dueMs = (): number => {
    if (job.pps > 0) return ((sent + failed) * 1000) / job.pps;
    if (job.speed > 0) return virtualMs;
    return 0;
  };
  const advance = (): boolean => {
    index++;
    if (index >= frames.length) {
      index = 0;
      loopNo++;
      if (job.loops > 0 && loopNo >= job.loops) return false;
      // Between loops: the file's mean gap, so a looped file keeps its rate.
      if (job.speed > 0 && frames.length > 1) virtualMs += relMs[frames.length - 1] / (frames.length - 1) / job.speed;
    } else if (job.speed > 0) {
      virtualMs += Math.max(0, relMs[index] - relMs[index - 1]) / job.speed;
    }
    return sent + failed < limit;
  };
  const pump = (): void => {
    if (stopped) return;
    if (frames.length === 0 || limit === 0) return finish();
    let burst = 0;
    for (;;) {
      const wait = dueMs() - (performance.now() - begun);
      if (wait > 0) {
        if (wait > 2) setTimeout(pump, wait - 1);
        else setImmediate(pump);
        return;
      }
      const f = frames[index];
      try {
        handle.inject(f, f.length);
        sent++;
        bytes += f.length;
      } catch (e) {
        failed++;
        const m = e instanceof Error ? e.message : String(e);
        errors.set(m, (errors.get(m) ?? 0) + 1);
      }
      if (!advance()) return finish();
      // Let "stop" and EOF on stdin through now and then.
      if (++burst === 4096) {
        setImmediate(pump);
        return;
      }
    }
  };
  listenToParent(() => {
    if (begun >= 0 || stopped) return;
    begun = performance.now();
    pump();
  }, finish);
}

function main(): void {
  let job: AgentJob;
  try {
    job = JSON.parse(process.argv[2] ?? '') as AgentJob;
  } catch {
    failSetup('setup', 'agent started without a valid job argument');
    return;
  }
  if (job.mode === 'capture') runCapture(job);
  else if (job.mode === 'send') runSend(job);
  else failSetup('setup', `unknown agent mode`);
}

main();
