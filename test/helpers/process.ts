/**
 * Readiness of a child process, read from /proc instead of guessed with a sleep: whether it has a handler for
 * a signal (so the signal runs its shutdown path rather than killing it), and whether it has read everything
 * written into one of its input pipes. Each wait is bounded by the time actually elapsed.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';

/** Signals the process catches (SigCgt in /proc/PID/status), as a bit mask indexed by signal number - 1. */
function caughtSignals(pid: number): bigint {
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

/**
 * Bytes written into the process's `fd` that it has not read yet. Node gives a child's stdio a socket pair:
 * its receive queue is the Recv-Q that `ss -x` reports for that socket; for a pipe, FIONREAD says it.
 */
export function unreadInputBytes(pid: number, fd: number): number {
  const link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
  const socket = /^socket:\[(\d+)\]$/.exec(link);
  if (socket) {
    const rows = execFileSync('ss', ['-x', '-H', '-a'], { encoding: 'utf8' }).split('\n').map((l) => l.trim().split(/\s+/));
    // Netid State Recv-Q Send-Q Local-Address Local-Inode Peer-Address Peer-Inode
    const row = rows.find((r) => r[5] === socket[1]);
    if (!row) throw new Error(`socket ${socket[1]} of process ${pid} not listed by ss -x`);
    return Number(row[2]);
  }
  if (!link.startsWith('pipe:')) throw new Error(`fd ${fd} of process ${pid} is ${link}, not a pipe or socket`);
  const py = 'import array,fcntl,os,sys,termios\nf=os.open(sys.argv[1],os.O_RDONLY|os.O_NONBLOCK)\nb=array.array("i",[0])\nfcntl.ioctl(f,termios.FIONREAD,b)\nprint(b[0])';
  return Number(execFileSync('python3', ['-c', py, `/proc/${pid}/fd/${fd}`], { encoding: 'utf8' }).trim());
}

async function waitFor(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const start = Date.now();
  for (;;) {
    if (ok()) return;
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves once process `pid` has a handler installed for `signal`. */
export function waitForSignalHandler(pid: number, signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP', timeoutMs = 20_000): Promise<void> {
  const bit = 1n << BigInt(SIGNALS[signal] - 1);
  return waitFor(`process ${pid} handling ${signal}`, () => (caughtSignals(pid) & bit) !== 0n, timeoutMs);
}

/** Resolves once process `pid` has read every byte written into its `fd` (0 = stdin; a pipe or socket). */
export function waitForPipeDrained(pid: number, fd = 0, timeoutMs = 20_000): Promise<void> {
  return waitFor(`process ${pid} reading its fd ${fd}`, () => unreadInputBytes(pid, fd) === 0, timeoutMs);
}
