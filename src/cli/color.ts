/**
 * The one colour policy of every command: `--color auto|always|never` (a global option), `NO_COLOR`, and
 * "auto" meaning the stream is a terminal that understands escapes. Colour only ever underlines meaning that
 * the text already carries (a verdict word, a mark, a state): with colour off nothing is lost.
 *
 * Nothing here reads the environment at load time: the mode is set by main's middleware for each run and the
 * environment is read when a command asks.
 */

export const COLOR_MODES = ['auto', 'always', 'never'] as const;
export type ColorMode = (typeof COLOR_MODES)[number];

/** The `--color` global option (main.ts): a bare `--color` means always, `--no-color` never. */
export const colorOption = {
  type: 'string',
  global: true,
  default: 'auto',
  describe: 'colour output: auto (when output is a terminal and NO_COLOR is unset), always, never',
  coerce: parseColorMode,
} as const;

/** What a command line's `--color` value means; throws (a usage error, yargs prints it) on anything else. */
export function parseColorMode(v: unknown): ColorMode {
  if (v === undefined || v === '' || v === true || v === 'true' || v === 'yes') return v === undefined ? 'auto' : 'always';
  if (v === false || v === 'false' || v === 'no' || v === 'none') return 'never';
  if (Array.isArray(v)) return parseColorMode(v[v.length - 1]);
  if (typeof v === 'string' && (COLOR_MODES as readonly string[]).includes(v)) return v as ColorMode;
  throw new Error(`--color ${String(v)}: use auto, always or never`);
}

let mode: ColorMode = 'auto';

/** Sets the run's mode (main's middleware, from --color). */
export function setColorMode(m: ColorMode): void {
  mode = m;
}

export function colorMode(): ColorMode {
  return mode;
}

/** The parts of a stream and environment the decision depends on (tests pass their own). */
export interface ColorTarget {
  isTTY?: boolean;
}

/**
 * Whether to colour what goes to `stream`: always/never as asked; auto = not NO_COLOR (any non-empty value,
 * https://no-color.org), a terminal, and TERM not "dumb".
 */
export function useColor(stream: ColorTarget = process.stdout, env: NodeJS.ProcessEnv = process.env, m: ColorMode = mode): boolean {
  if (m === 'always') return true;
  if (m === 'never') return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/** SGR codes by meaning, so every command colours the same thing the same way. */
export const SGR = {
  bold: '1',
  dim: '2',
  ok: '32',
  okStrong: '32;1',
  warn: '33',
  warnStrong: '33;1',
  bad: '31',
  badStrong: '31;1',
  /** Pods and other names a user looks for. */
  name: '36',
} as const;

/** `text` wrapped in SGR `code` when `on`; one reset at the end. */
export function paint(on: boolean, code: string, text: string): string {
  return on ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** The global --runtime-endpoint option (pod names through CRI), one definition for main.ts and the spec. */
export const runtimeEndpointOption = {
  type: 'string',
  global: true,
  requiresArg: true,
  describe: 'container runtime (CRI) socket for pod names, e.g. unix:///run/containerd/containerd.sock (env NETSCOPE_RUNTIME_ENDPOINT)',
} as const;
