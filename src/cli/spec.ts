/**
 * The command-line interface as data, read from the same yargs command modules that `--help` prints: each
 * module's builder is run against a recorder that notes positionals, options, subcommands and examples. Shell
 * completion and the man pages (built by `npm run build`) are made from this, so they cannot drift from --help.
 */
import fs from 'fs';
import path from 'path';
import { colorOption, runtimeEndpointOption } from './color';

export type ValueType = 'string' | 'number' | 'boolean' | 'count';

export interface OptionSpec {
  name: string;
  /** Other spellings, without dashes ("i" for -i). */
  aliases: string[];
  type: ValueType;
  describe: string;
  choices?: string[];
  default?: string | number | boolean;
  /** Repeatable / takes several values. */
  array: boolean;
  required: boolean;
  hidden: boolean;
}

export interface PositionalSpec {
  name: string;
  describe: string;
  required: boolean;
  /** Takes the rest of the words (`[filter..]`). */
  variadic: boolean;
  choices?: string[];
}

export interface CommandSpec {
  /** "read"; "apply" for `topo apply`; "" for netscope itself. */
  name: string;
  /** The usage line as declared: "read <file> [filter..]". */
  usage: string;
  describe: string;
  hidden: boolean;
  positionals: PositionalSpec[];
  options: OptionSpec[];
  examples: { command: string; describe: string }[];
  commands: CommandSpec[];
}

/** What a command module exports (yargs CommandModule, as the modules in ./commands declare them). */
interface CommandModuleLike {
  command?: string | readonly string[];
  describe?: string | false;
  builder?: unknown;
}

type OptionOpts = Record<string, unknown>;

/** Global options main.ts adds to every command (besides --help), recorded like the commands' own. */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  toOption('color', colorOption as unknown as OptionOpts),
  toOption('runtime-endpoint', runtimeEndpointOption as unknown as OptionOpts),
  toOption('help', { alias: 'h', type: 'boolean', describe: 'show help' }),
];

function toOption(name: string, o: OptionOpts): OptionSpec {
  const alias = o.alias;
  const t = o.type;
  const def = o.default;
  return {
    name,
    aliases: alias === undefined ? [] : Array.isArray(alias) ? alias.map(String) : [String(alias)],
    type: t === 'number' || t === 'boolean' || t === 'count' ? t : 'string',
    describe: typeof o.describe === 'string' ? o.describe : typeof o.description === 'string' ? o.description : '',
    choices: Array.isArray(o.choices) ? o.choices.map(String) : name === 'color' ? ['auto', 'always', 'never'] : undefined,
    default: typeof def === 'string' || typeof def === 'number' || typeof def === 'boolean' ? def : undefined,
    array: o.array === true,
    required: o.demandOption !== undefined && o.demandOption !== false,
    hidden: o.hidden === true,
  };
}

/** Parses a yargs usage string: "read <file> [filter..]" → name and positionals. */
function parseUsage(usage: string): { name: string; positionals: PositionalSpec[] } {
  const [name, ...rest] = usage.trim().split(/\s+/);
  const positionals = rest.map((w) => {
    const required = w.startsWith('<');
    const inner = w.slice(1, -1);
    const variadic = inner.endsWith('..');
    return { name: inner.replace(/\.\.$/, '').split('|')[0], describe: '', required, variadic };
  });
  return { name, positionals };
}

/** Runs `builder` against a recorder and returns what it declared. */
function record(usage: string, describe: string | false | undefined, builder: unknown): CommandSpec {
  const parsed = parseUsage(usage);
  const spec: CommandSpec = {
    name: parsed.name,
    usage: usage.trim(),
    describe: typeof describe === 'string' ? describe : '',
    hidden: describe === false,
    positionals: parsed.positionals,
    options: [],
    examples: [],
    commands: [],
  };
  const addOption = (name: string, o: OptionOpts): void => {
    const i = spec.options.findIndex((x) => x.name === name);
    const opt = toOption(name, o);
    if (i >= 0) spec.options[i] = opt;
    else spec.options.push(opt);
  };
  const recorder: Record<string, unknown> = new Proxy(
    {},
    {
      get(_t, key) {
        switch (key) {
          case 'positional':
            return (name: string, o: OptionOpts) => {
              const p = spec.positionals.find((x) => x.name === name);
              if (p && typeof o.describe === 'string') p.describe = o.describe;
              if (p && Array.isArray(o.choices)) p.choices = o.choices.map(String);
              return recorder;
            };
          case 'option':
          case 'options':
            return (name: string | Record<string, OptionOpts>, o?: OptionOpts) => {
              if (typeof name === 'string') addOption(name, o ?? {});
              else for (const [k, v] of Object.entries(name)) addOption(k, v);
              return recorder;
            };
          case 'command':
            return (cmd: string | CommandModuleLike, desc?: string | false, sub?: unknown) => {
              spec.commands.push(typeof cmd === 'string' ? record(cmd, desc, sub) : fromModule(cmd));
              return recorder;
            };
          case 'example':
            return (command: string, d?: string) => {
              spec.examples.push({ command, describe: d ?? '' });
              return recorder;
            };
          case 'then':
            return undefined; // not a promise
          default:
            return () => recorder;
        }
      },
    },
  ) as Record<string, unknown>;
  if (typeof builder === 'function') (builder as (y: unknown) => unknown)(recorder);
  else if (builder !== null && typeof builder === 'object') for (const [k, v] of Object.entries(builder)) addOption(k, v as OptionOpts);
  return spec;
}

function fromModule(m: CommandModuleLike): CommandSpec {
  const usage = Array.isArray(m.command) ? m.command[0] : (m.command as string | undefined);
  if (usage === undefined) throw new Error('a command module without `command`');
  return record(usage, m.describe, m.builder);
}

/** The directory of the built command modules (dist/cli/commands). */
export const COMMANDS_DIR = path.join(__dirname, 'commands');

/** The whole interface: every command module in `dir` (loaded, so this costs their load time). */
export function collectSpec(dir: string = COMMANDS_DIR, describe = ''): CommandSpec {
  const files = fs.readdirSync(dir).filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith('.d.ts')).sort();
  const commands = files.map((f) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return fromModule(require(path.join(dir, f)) as CommandModuleLike);
  });
  return { name: '', usage: '$0 <command>', describe, hidden: false, positionals: [], options: [], examples: [], commands };
}

/** Where `npm run build` writes the spec (next to this module). */
export const SPEC_FILE = path.join(__dirname, 'spec.json');

/**
 * The spec as the build wrote it when that is newer than every command module (fast: no module loads), else
 * collected now.
 */
export function loadSpec(): CommandSpec {
  try {
    const built = fs.statSync(SPEC_FILE).mtimeMs;
    const stale = fs.readdirSync(COMMANDS_DIR).some((f) => f.endsWith('.js') && fs.statSync(path.join(COMMANDS_DIR, f)).mtimeMs > built);
    if (!stale) return JSON.parse(fs.readFileSync(SPEC_FILE, 'utf8')) as CommandSpec;
  } catch {
    /* not built: collect */
  }
  return collectSpec();
}

/** The subcommand of `spec` named `name` (hidden ones too). */
export function subcommand(spec: CommandSpec, name: string): CommandSpec | undefined {
  return spec.commands.find((c) => c.name === name);
}

/** The option of `spec` (or a global one) spelled `flag` ("--interface", "-i", "--no-color"). */
export function findOption(spec: CommandSpec, flag: string): OptionSpec | undefined {
  const bare = flag.replace(/^--?/, '');
  const all = [...spec.options, ...GLOBAL_OPTIONS];
  return all.find((o) => o.name === bare || o.aliases.includes(bare)) ?? all.find((o) => `no-${o.name}` === bare);
}
