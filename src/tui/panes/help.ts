/**
 * The keys overlay (?).
 */
export function helpLines(): string[] {
  return [
    'q, Ctrl-C   quit (captures stop, terminal restored)',
    'space       pause/resume the display (capture keeps counting)',
    '/           filter flows: words that must all appear, !word excludes',
    '            (e.g. "tcp 10.244.1.3", "!arp"); empty clears',
    'tab         next pane (shift-tab: previous)',
    '↑ ↓ PgUp PgDn Home End   select a flow / scroll the focused pane',
    's           sort flows by the next column (bytes, packets, rate)',
    'b p r       sort by bytes / packets / rate; again flips ▼/▲',
    'S           flip the sort direction',
    'enter       detail of the selected flow with its last packets',
    'esc         close this help or the detail',
    '?           this help',
    '',
    'badges: FAIL connect got no answer · RST reset · NOREPLY echo unanswered',
    '        ARP? ARP request unanswered · MOVED a MAC changed bridge port',
    'rules pane: counters that moved in the last poll; DROP/REJECT hits in red',
  ];
}
