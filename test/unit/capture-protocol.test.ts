import { AGENT_LINE_PREFIX, AgentMessage, decodeAgentLine, encodeAgentMessage } from '../../src/capture/agentProtocol';
import { pcapStreamHeader, PCAP_NSEC_MAGIC } from '../../src/capture/pcapStream';
import { CaptureParser } from '../../src/pcap/reader';

const counters = { packets: 3, bytes: 300, truncated: 1, ifaceRxDropped: 1, agentDropped: 2, kernelReceived: 7, kernelDropped: 4, kernelIfDropped: 0 };

describe('agent status lines', () => {
  it('round-trips every message type', () => {
    const msgs: AgentMessage[] = [
      { type: 'ready', linktype: 1, snaplen: 262144, nano: true },
      { type: 'ready', linktype: 101, snaplen: 96, nano: false, warning: 'nanosecond timestamps not supported' },
      { type: 'error', kind: 'filter', message: "can't parse filter expression: syntax error" },
      { type: 'warning', message: 'x' },
      { type: 'lost', message: 'The interface went down' },
      { type: 'stats', ...counters },
      { type: 'done', ...counters },
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

describe('agent pcap stream', () => {
  it('is a nanosecond pcap header followed by the binding batches as they are', () => {
    const h = pcapStreamHeader(1, 262144);
    expect(h.length).toBe(24);
    expect(h.readUInt32LE(0)).toBe(PCAP_NSEC_MAGIC);
    // A batch laid out as the binding writes it: LE record headers, nanosecond fraction, caplen < len.
    const rec = Buffer.alloc(16 + 60, 0xab);
    rec.writeUInt32LE(1_700_000_000, 0);
    rec.writeUInt32LE(999_999_999, 4);
    rec.writeUInt32LE(60, 8);
    rec.writeUInt32LE(1514, 12);
    const got: Array<[number, number, number, number]> = [];
    const p = new CaptureParser((r) => got.push([r.tsSec, r.tsNsec, r.caplen, r.len]));
    p.push(h);
    p.push(rec);
    expect(p.end()).toBeNull();
    expect(got).toEqual([[1_700_000_000, 999_999_999, 60, 1514]]);
  });
});
