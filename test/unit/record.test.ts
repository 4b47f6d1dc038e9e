import { formatTs } from '../../src/pcap/record';

describe('formatTs', () => {
  it('prints exactly nine fraction digits', () => {
    expect(formatTs(1795848999, 566651000)).toBe('1795848999.566651000');
    expect(formatTs(0, 0)).toBe('0.000000000');
    expect(formatTs(4294967295, 999999999)).toBe('4294967295.999999999');
    expect(formatTs(12, 7)).toBe('12.000000007');
  });
});
