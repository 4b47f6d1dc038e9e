/**
 * Bearer-token check for /capture, and the rule that decides when a token is required: the agent listens on
 * loopback by default; any other address exposes packet contents to the network, so it needs a token file.
 */
import { createHash, timingSafeEqual } from 'crypto';
import fs from 'fs';
import net from 'net';

export class TokenFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenFileError';
  }
}

/** 127.0.0.0/8, ::1 and "localhost" only; everything else (0.0.0.0, ::, a node address) is exposed. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const h = host.replace(/^\[|\]$/g, '');
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || /^::ffff:127\./i.test(h);
  return false;
}

/**
 * Reads the token (first line, trimmed). Refuses a file readable by group or others (the token guards
 * packet contents) and a token shorter than 16 characters.
 */
export function readTokenFile(file: string): string {
  let st: fs.Stats;
  let text: string;
  try {
    st = fs.statSync(file);
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new TokenFileError(`--token-file ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new TokenFileError(`--token-file ${file}: readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  const token = (text.split('\n')[0] ?? '').trim();
  if (token.length < 16) throw new TokenFileError(`--token-file ${file}: the token must be at least 16 characters (e.g. head -c 32 /dev/urandom | base64 > FILE)`);
  return token;
}

/** Compares the Authorization header with the token in constant time (digests of equal length). */
export class BearerAuth {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = createHash('sha256').update(token).digest();
  }

  /** null when authorised, else why not (for the log line). */
  check(header: string | undefined): string | null {
    if (header === undefined || header === '') return 'no Authorization header';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return 'Authorization is not "Bearer TOKEN"';
    const got = createHash('sha256').update(m[1]).digest();
    return timingSafeEqual(got, this.digest) ? null : 'wrong bearer token';
  }
}
