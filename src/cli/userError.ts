/**
 * How a command reports a user error: one line `netscope: <problem and fix>` on stderr and an exit code set
 * for when output has drained (never process.exit, never a stack trace).
 */

/** A usage error (bad arguments): exit code 2. */
export function usage(msg: string): void {
  fail(msg, 2);
}

/** The command could not do its job: exit code 1 unless `code` says otherwise. */
export function fail(msg: string, code = 1): void {
  process.stderr.write(`netscope: ${msg}\n`);
  process.exitCode = code;
}
