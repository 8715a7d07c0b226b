import { isIP } from 'node:net';
import { InvalidAddressError } from '@netmachine/core';

/** A host and port taken from an address URL such as `tls://127.0.0.1:7100` or `quic://[::1]:7101`. */
export interface HostPort {
  /** The host without IPv6 brackets, ready for `net.connect` / `server.listen`. */
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `scheme://host:port`. The port is required (0 is allowed, for listening on a free port);
 * paths, queries and credentials are refused so that two spellings never name the same endpoint.
 */
export function parseAddress(address: string, scheme: string): HostPort {
  // Every dial parses its address: a node dials the same few addresses again and again, and URL
  // parsing is a good part of the JS work before the TCP connect.
  const key = `${scheme} ${address}`;
  const known = parsed.get(key);
  if (known !== undefined) return known;
  const endpoint = Object.freeze(parseAddressNow(address, scheme));
  if (parsed.size >= MAX_PARSED) parsed.clear();
  parsed.set(key, endpoint);
  return endpoint;
}

/** Addresses parsed already (only those that parsed), bounded: emptied when full. */
const parsed = new Map<string, HostPort>();
const MAX_PARSED = 256;

function parseAddressNow(address: string, scheme: string): HostPort {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new InvalidAddressError(address, 'not a URL');
  }
  if (url.protocol !== `${scheme}:`)
    throw new InvalidAddressError(address, `expected a ${scheme}:// address`);
  if (url.username !== '' || url.password !== '')
    throw new InvalidAddressError(address, 'credentials not allowed');
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw new InvalidAddressError(address, 'a path, query or fragment is not allowed');
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (host === '') throw new InvalidAddressError(address, 'missing host');
  // URL drops the port when absent; require it explicitly (the default depends on no scheme here).
  if (!/:\d+\/?$/.test(address)) throw new InvalidAddressError(address, 'missing port');
  const port = url.port === '' ? 0 : Number(url.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidAddressError(address, 'bad port');
  return { host, port };
}

/** Formats an address URL, bracketing IPv6 hosts. */
export function formatAddress(scheme: string, host: string, port: number): string {
  return `${scheme}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** `::ffff:10.0.0.1` (an IPv4 peer seen by a dual-stack socket) as `10.0.0.1`; other hosts unchanged. */
export function unmapIPv4(host: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return match?.[1] ?? host;
}
