/**
 * One apply/destroy per topology at a time: two runs planning against the same state would both create the
 * same namespaces and roll each other back. The lock is a file holding the owner's pid; a lock whose process
 * is gone (killed with SIGKILL) is taken over.
 */
import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'fs';

const LOCK_DIR = '/run/netscope';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock for topology `name`; returns the release function. Throws when another live run holds it. */
export function lockTopology(name: string, dir = LOCK_DIR): () => void {
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/topo-${name}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(file);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let pid = NaN;
      try {
        pid = Number(readFileSync(file, 'utf8').trim());
      } catch {
        /* removed meanwhile: retry */
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new Error(`another netscope (pid ${pid}) is changing topology ${name} — wait for it, or remove ${file} if that process is not netscope`);
      }
      try {
        unlinkSync(file);
      } catch {
        /* someone else took it over: retry decides */
      }
    }
  }
  throw new Error(`could not take the lock ${file} for topology ${name} — retry`);
}
