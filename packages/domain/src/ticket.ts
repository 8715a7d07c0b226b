import {
  type DomainAdvert,
  domainAdvertFromWire,
  domainAdvertToWire,
  expectArray,
  MalformedFrameError,
  type NodeAdvert,
  nodeAdvertFromWire,
  nodeAdvertToWire,
  pack,
  unpack,
  type VerifyOptions,
  verifyDomainAdvert,
  verifyNodeAdvert,
} from '@netmachine/core';

/**
 * What a node needs to reach a domain: its signed advert and the signed NodeAdverts of its seeds
 * (their addresses). One pasteable line: `nmdomain1.` + base64url(msgpack).
 */
export interface DomainTicket {
  readonly advert: DomainAdvert;
  readonly seeds: readonly NodeAdvert[];
}

const TICKET_PREFIX = 'nmdomain1.';
const MAX_TICKET_TEXT = 64 * 1024;
const MAX_TICKET_SEEDS = 32;

export function formatDomainTicket(ticket: DomainTicket): string {
  const wire = [domainAdvertToWire(ticket.advert), ticket.seeds.map(nodeAdvertToWire)];
  return TICKET_PREFIX + pack(wire).toString('base64url');
}

/**
 * Parses and verifies a ticket: the advert must be signed by the domain key it names, and every seed
 * advert by its node. Throws InvalidSignatureError or a schema error.
 */
export function parseDomainTicket(text: string, options: VerifyOptions = {}): DomainTicket {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  if (!trimmed.startsWith(TICKET_PREFIX) || trimmed.length > MAX_TICKET_TEXT) {
    throw new MalformedFrameError(`a domain ticket starts with ${TICKET_PREFIX}`);
  }
  const body = trimmed.slice(TICKET_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new MalformedFrameError('a domain ticket is base64url text');
  const v = expectArray(unpack(Buffer.from(body, 'base64url')), 'ticket', 2, 2);
  const advert = verifyDomainAdvert(domainAdvertFromWire(v[0], 'ticket.advert'), options);
  const seeds = expectArray(v[1], 'ticket.seeds', 0, MAX_TICKET_SEEDS).map((s, i) =>
    verifyNodeAdvert(nodeAdvertFromWire(s, `ticket.seeds[${i}]`), options),
  );
  return { advert, seeds };
}
