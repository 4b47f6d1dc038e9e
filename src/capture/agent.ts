/**
 * Namespace agent: a small process started inside a network namespace (`ip netns exec NS node agent.js JOB`
 * or `nsenter --net=/proc/PID/ns/net node agent.js JOB`, or plainly in netscope's own namespace). It opens
 * libpcap there and either streams captured packets to stdout as a nanosecond pcap stream, or injects the
 * frames of a file. Status goes to stderr as AgentMessage lines. It dies with its parent: EOF on stdin, or
 * its parent pid changing. Running cap in a child also contains cap's abort when an interface disappears.
 */
import net from 'net';
import { performance } from 'perf_hooks';
import { AgentCounters, AgentJob, CaptureJob, SendJob, encodeAgentMessage, AgentMessage } from './agentProtocol';
import { CapHandle, CapOpenError, CAP_SNAPLEN } from './capHandle';
import { ArrivalClock } from './clock';
import { loadFrameSet } from './frameSet';
import { readIfaceCounters } from './ifaceCounters';
import { PcapBatchEncoder } from './pcapStream';

function say(m: AgentMessage): void {
  process.stderr.write(encodeAgentMessage(m));
}

/** Oldest a batch of captured packets may get before it is written to the parent. */
const MAX_BATCH_AGE_NS = 5_000_000;
/** Batch size: 256 KiB is a few hundred typical frames, one write() each. */
const BATCH_BYTES = 256 * 1024;
/** Captured bytes allowed to wait for the parent before batches are dropped (and counted). */
const MAX_QUEUED_BYTES = 256 * 1024 * 1024;

/** Exit code of an agent that could not start (the parent reads the error message, not the code). */
const EXIT_SETUP = 3;

function failSetup(kind: CapOpenError['kind'] | 'setup', message: string): void {
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

function runCapture(job: CaptureJob): void {
  if (ifaceMissing(job.iface)) return;
  const startDropped = readIfaceCounters().get(job.iface)?.rxDropped ?? 0;
  const clock = new ArrivalClock(job.wallOffsetNs);
  const handle = new CapHandle();
  const counters: AgentCounters = { packets: 0, bytes: 0, truncated: 0, ifaceRxDropped: 0, agentDropped: 0 };
  let encoder: PcapBatchEncoder | null = null;
  let flushQueued = false;
  let stopped = false;
  // Not process.stdout: on Linux its pipe writes block, so a parent that is slow to be scheduled would stall
  // this process and let the kernel ring overflow. A non-blocking socket queues in memory instead, bounded
  // by MAX_QUEUED_BYTES, beyond which batches are dropped and counted.
  const out = new net.Socket({ fd: 1, readable: false, writable: true });

  const flush = (): void => {
    flushQueued = false;
    if (encoder === null || encoder.pendingBytes === 0) return;
    if (out.writableLength > MAX_QUEUED_BYTES) {
      counters.agentDropped += encoder.dropPending();
      return;
    }
    out.write(encoder.take());
  };
  // cap dispatches until the kernel ring is empty before returning to the event loop, so under a steady
  // flood the setImmediate flush may wait long: also flush inline once a batch is MAX_BATCH_AGE_NS old.
  let batchSec = 0;
  let batchNsec = 0;
  const onPacket = (nbytes: number, truncated: boolean): void => {
    if (encoder === null) return;
    clock.stamp();
    if (!encoder.fits(nbytes) || (encoder.pendingBytes > 0 && (clock.sec - batchSec) * 1e9 + (clock.nsec - batchNsec) > MAX_BATCH_AGE_NS)) flush();
    if (encoder.pendingBytes === 0) {
      batchSec = clock.sec;
      batchNsec = clock.nsec;
    }
    encoder.append(handle.packetBuffer, nbytes, nbytes, clock.sec, clock.nsec);
    counters.packets++;
    counters.bytes += nbytes;
    if (truncated) counters.truncated++;
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(flush);
    }
  };
  const refreshDrops = (): void => {
    const now = readIfaceCounters().get(job.iface);
    if (now) counters.ifaceRxDropped = now.rxDropped - startDropped;
  };

  try {
    handle.open(job.iface, job.filter, job.ringBytes, onPacket);
  } catch (e) {
    const err = e instanceof CapOpenError ? e : new CapOpenError('other', String(e));
    failSetup(err.kind, err.message);
    return;
  }
  say({ type: 'ready', linktype: handle.linktype, snaplen: CAP_SNAPLEN });

  const statsTimer = setInterval(() => {
    refreshDrops();
    say({ type: 'stats', ...counters });
  }, job.statsIntervalMs);

  listenToParent(
    () => {
      if (encoder !== null || stopped) return;
      encoder = new PcapBatchEncoder(handle.linktype, CAP_SNAPLEN, BATCH_BYTES);
      out.write(encoder.header());
    },
    () => {
      if (stopped) return;
      stopped = true;
      clearInterval(statsTimer);
      handle.close();
      flush();
      refreshDrops();
      say({ type: 'done', ...counters });
      out.end();
      process.stdin.destroy();
    },
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
  const handle = new CapHandle();
  try {
    // Opened only to send: a filter that matches no frame keeps received traffic in the kernel.
    handle.open(job.iface, 'less 1', 1 << 20, () => undefined);
  } catch (e) {
    const err = e instanceof CapOpenError ? e : new CapOpenError('other', String(e));
    failSetup(err.kind === 'filter' ? 'other' : err.kind, err.message);
    return;
  }
  say({ type: 'ready', linktype: handle.linktype, snaplen: CAP_SNAPLEN });

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
        handle.send(f, f.length);
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
