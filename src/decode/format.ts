/**
 * The decoder's renderings in one import, for callers that want several: address text (addr.ts), problem
 * words (problems.ts), the byte line buffer (lineBuffer.ts), tcpdump text (text.ts), hex dumps (hexDump.ts) and JSON (json.ts).
 */
export { ip4ToString, ip6GroupsToString, ip6ToString, macToString } from './addr';
export { describeProblem, protocolName } from './problems';
export { LineBuffer } from './lineBuffer';
export { formatLine, formatTime, LineClock, type LineOptions, writeLine } from './text';
export { linkHeaderLength, writeHex } from './hexDump';
export { toJson } from './json';
