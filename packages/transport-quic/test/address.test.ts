import { InvalidAddressError } from '@netmachine/core';
import { formatAddress, parseAddress, unmapIPv4 } from '@netmachine/transport';
import { describe, expect, it } from 'vitest';

describe('quic addresses', () => {
  it('parses IPv4 and bracketed IPv6, and refuses other schemes', () => {
    expect(parseAddress('quic://127.0.0.1:7101', 'quic')).toEqual({ host: '127.0.0.1', port: 7101 });
    expect(parseAddress('quic://[::1]:0', 'quic')).toEqual({ host: '::1', port: 0 });
    expect(() => parseAddress('tls://127.0.0.1:1', 'quic')).toThrow(InvalidAddressError);
    expect(() => parseAddress('quic://127.0.0.1', 'quic')).toThrow(InvalidAddressError);
  });

  it('shows an IPv4 peer seen by a dual-stack socket as IPv4', () => {
    expect(unmapIPv4('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(unmapIPv4('::1')).toBe('::1');
    expect(formatAddress('quic', unmapIPv4('::ffff:127.0.0.1'), 5)).toBe('quic://127.0.0.1:5');
  });
});
