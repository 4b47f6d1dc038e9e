/**
 * Man pages from the command spec (spec.ts, recorded from the same builders as --help): netscope(1) and
 * netscope-COMMAND(1) for each command, subcommands (topo apply/destroy/show) as sections of their command's
 * page. Pure: spec in, roff text out; `npm run build` writes them (scripts/build-docs.js).
 */
import { GLOBAL_OPTIONS, type CommandSpec, type OptionSpec } from './spec';

export interface ManInfo {
  version: string;
  /** "2026-12-04": the pages' date (the build's). */
  date: string;
}

/** Text made safe for roff: backslashes, dashes kept literal, no line starting with a control character. */
function esc(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^[.']/gm, '\\&$&');
}

const bold = (s: string): string => `\\fB${esc(s)}\\fR`;
const ital = (s: string): string => `\\fI${esc(s)}\\fR`;

function th(name: string, info: ManInfo, what: string): string[] {
  return [`.TH ${name.toUpperCase().replace(/-/g, '\\-')} 1 "${info.date}" "netscope ${esc(info.version)}" "${esc(what)}"`];
}

function optionTitle(o: OptionSpec): string {
  const flags = [...o.aliases.filter((a) => a.length === 1).map((a) => `-${a}`), o.name.length === 1 ? `-${o.name}` : `--${o.name}`, ...o.aliases.filter((a) => a.length > 1).map((a) => `--${a}`)];
  const value = o.type === 'boolean' || o.type === 'count' ? '' : ` ${ital(o.choices ? o.choices.join('|') : o.type === 'number' ? 'N' : o.name.toUpperCase())}`;
  return flags.map(bold).join(', ') + value;
}

function optionLines(opts: OptionSpec[]): string[] {
  const out: string[] = [];
  for (const o of opts) {
    if (o.hidden) continue;
    let text = o.describe;
    if (o.default !== undefined && o.type !== 'boolean') text += ` (default: ${String(o.default)})`;
    if (o.required) text += ' (required)';
    if (o.array) text += ' (repeatable)';
    out.push('.TP', optionTitle(o), esc(text));
  }
  return out;
}

function synopsis(prefix: string, c: CommandSpec): string {
  const words = c.usage.split(/\s+/).slice(1);
  const args = words.map((w) => (w.startsWith('<') ? ital(w.slice(1, -1).replace(/\.\.$/, '...').toUpperCase()) : `[${ital(w.slice(1, -1).replace(/\.\.$/, '...').toUpperCase())}]`));
  const opts = c.options.some((o) => !o.hidden) ? ' [\\fIOPTIONS\\fR]' : '';
  return `${bold(`${prefix} ${c.name}`.trim())}${opts}${args.length ? ' ' + args.join(' ') : ''}`;
}

function examples(c: CommandSpec): string[] {
  const out: string[] = [];
  for (const e of c.examples) {
    out.push('.TP', `.B ${esc(e.command.replace(/\$0/g, 'netscope'))}`, e.describe ? esc(e.describe) : '.br');
  }
  return out;
}

function positionalLines(c: CommandSpec): string[] {
  const out: string[] = [];
  for (const p of c.positionals) {
    if (!p.describe) continue;
    out.push('.TP', ital(p.name.toUpperCase()), esc(p.describe + (p.choices ? ` (${p.choices.join(', ')})` : '')));
  }
  return out;
}

const COMMON_TAIL = (info: ManInfo): string[] => [
  '.SH ENVIRONMENT',
  '.TP',
  '.B NO_COLOR',
  esc('Any non-empty value turns colour off (unless --color always is given).'),
  '.TP',
  '.B TZ',
  esc('Time zone of printed packet times.'),
  '.SH EXIT STATUS',
  esc('0 success, 1 failure (the command could not do its job, or found a problem it reports), 2 usage error, 130 interrupted.'),
  '.SH SEE ALSO',
  esc(`netscope(1), tcpdump(8), ip-netns(8), bridge(8), iptables(8), nft(8). Version ${info.version}; the README and docs/ of the source describe every command in depth.`),
];

/** netscope-CMD(1). */
export function commandPage(c: CommandSpec, info: ManInfo): string {
  const name = `netscope-${c.name}`;
  const lines = [...th(name, info, 'netscope manual'), '.SH NAME', `${esc(name)} \\- ${esc(c.describe)}`, '.SH SYNOPSIS'];
  if (c.commands.length > 0) {
    for (const s of c.commands.filter((x) => !x.hidden)) lines.push(synopsis(`netscope ${c.name}`, s), '.br');
  } else {
    lines.push(synopsis('netscope', c));
  }
  lines.push('.SH DESCRIPTION', esc(c.describe + '.'));
  const args = positionalLines(c);
  if (args.length) lines.push('.SH ARGUMENTS', ...args);
  if (c.options.some((o) => !o.hidden)) lines.push('.SH OPTIONS', ...optionLines(c.options));
  for (const s of c.commands.filter((x) => !x.hidden)) {
    lines.push(`.SH ${esc(`${c.name} ${s.name}`.toUpperCase())}`, synopsis(`netscope ${c.name}`, s), '.PP', esc(s.describe + '.'));
    const sargs = positionalLines(s);
    if (sargs.length) lines.push('.PP', ...sargs);
    if (s.options.some((o) => !o.hidden)) lines.push('.PP', 'Options:', ...optionLines(s.options));
    if (s.examples.length) lines.push('.PP', 'Examples:', ...examples(s));
  }
  lines.push('.SH GLOBAL OPTIONS', ...optionLines(GLOBAL_OPTIONS));
  if (c.examples.length) lines.push('.SH EXAMPLES', ...examples(c));
  lines.push(...COMMON_TAIL(info));
  return `${lines.join('\n')}\n`;
}

/** netscope(1): the overview with every command. */
export function mainPage(root: CommandSpec, info: ManInfo): string {
  const cmds = root.commands.filter((c) => !c.hidden);
  const lines = [
    ...th('netscope', info, 'netscope manual'),
    '.SH NAME',
    `netscope \\- ${esc('packet capture and analysis for Linux container and Kubernetes networking')}`,
    '.SH SYNOPSIS',
    `${bold('netscope')} ${ital('COMMAND')} [\\fIOPTIONS\\fR] [\\fIARGS\\fR]`,
    '.br',
    `${bold('netscope')} ${bold('--help')} | ${bold('--version')}`,
    '.SH DESCRIPTION',
    esc(
      'netscope reads captures (pcap, pcapng, stdin), captures live on interfaces in any network namespace, ' +
        'shows flows and their problems, builds and discovers namespace topologies (veths, bridges, taps), reads ' +
        'bridge MAC tables and firewall counters, and finds where pod-to-pod traffic dies.',
    ),
    '.SH COMMANDS',
  ];
  for (const c of cmds) lines.push('.TP', `${bold(`netscope-${c.name}`)}(1)`, esc(c.describe + '.'));
  lines.push('.SH GLOBAL OPTIONS', ...optionLines(GLOBAL_OPTIONS), '.TP', bold('--version'), esc('print the version'));
  lines.push('.SH SHELL COMPLETION', esc('netscope completion bash|zsh|fish prints a completion script; see netscope-completion(1).'));
  lines.push(...COMMON_TAIL(info));
  return `${lines.join('\n')}\n`;
}

/** Every page: file name → text. */
export function manPages(root: CommandSpec, info: ManInfo): Map<string, string> {
  const pages = new Map<string, string>([['netscope.1', mainPage(root, info)]]);
  for (const c of root.commands) if (!c.hidden) pages.set(`netscope-${c.name}.1`, commandPage(c, info));
  return pages;
}
