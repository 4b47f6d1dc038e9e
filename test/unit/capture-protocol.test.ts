import { AGENT_LINE_PREFIX, AgentMessage, decodeAgentLine, encodeAgentMessage } from '../../src/capture/agentProtocol';
import { linktypeFromCap, ringSlots, DEFAULT_RING_BYTES } from '../../src/capture/capHandle';

describe('agent status lines', () => {
  it('round-trips every message type', () => {
    const msgs: AgentMessage[] = [
      { type: 'ready', linktype: 1, snaplen: 65535 },
      { type: 'error', kind: 'filter', message: "can't parse filter expression: syntax error" },
      { type: 'warning', message: 'x' },
      { type: 'stats', packets: 3, bytes: 300, truncated: 0, ifaceRxDropped: 1, agentDropped: 0 },
      { type: 'done', packets: 3, bytes: 300, truncated: 1, ifaceRxDropped: 1, agentDropped: 2 },
      { type: 'sent', sent: 5, failed: 1, bytes: 500, errors: ['send: Message too long (1×)'], elapsedMs: 12, skipped: 0 },
    ];
    for (const m of msgs) {
      const line = encodeAgentMessage(m);
      expect(line.endsWith('\n')).toBe(true);
      expect(line.startsWith(AGENT_LINE_PREFIX)).toBe(true);
      expect(decodeAgentLine(line.trimEnd())).toEqual(m);
    }
  });
  it('treats libpcap noise, broken JSON and non-objects as plain text', () => {
    expect(decodeAgentLine('Warning: eth0: no IPv4 address assigned - This may not actually work')).toBeNull();
    expect(decodeAgentLine(`${AGENT_LINE_PREFIX}{"type":`)).toBeNull();
    expect(decodeAgentLine(`${AGENT_LINE_PREFIX}42`)).toBeNull();
    expect(decodeAgentLine(`${AGENT_LINE_PREFIX}null`)).toBeNull();
    expect(decodeAgentLine('')).toBeNull();
  });
});

describe('cap link types and ring sizing', () => {
  it('maps cap link-type names to LINKTYPE values', () => {
    expect(linktypeFromCap('ETHERNET')).toBe(1);
    expect(linktypeFromCap('NULL')).toBe(0);
    expect(linktypeFromCap('RAW')).toBe(101);
    expect(linktypeFromCap('LINKTYPE_LINUX_SLL')).toBe(113);
    expect(linktypeFromCap('IEEE802_11_RADIO')).toBe(127);
    expect(linktypeFromCap('Unknown linktype 276')).toBe(276);
  });
  it('counts 64 KiB slots per ring (cap opens libpcap in immediate mode: TPACKET_V2)', () => {
    expect(ringSlots(32 * 1024 * 1024)).toBe(512);
    expect(ringSlots(DEFAULT_RING_BYTES)).toBe(2048);
  });
});
