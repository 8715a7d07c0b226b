import {
  type DomainAdvert,
  InvalidSignatureError,
  KeyPair,
  type NodeId,
  pack,
  signDomainAdvert,
  signNodeAdvert,
  unpack,
} from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import {
  formatDomainTicket,
  formatInvite,
  InvalidInviteError,
  InvalidMembershipRecordError,
  LeaveReplayError,
  leaveFromWire,
  leaveToWire,
  memberInfoFromWire,
  memberInfoToWire,
  membershipRecordFromWire,
  membershipRecordToWire,
  parseDomainTicket,
  parseInvite,
  secretKey,
  secretProof,
  signInvite,
  signLeave,
  signMemberInfo,
  signMembershipRecord,
  signRemoval,
  verifyInvite,
  verifyLeave,
  verifyMemberInfo,
  verifyMembershipRecord,
  verifyRemoval,
} from '../src/index.js';
import { DomainState } from '../src/membership.js';
import { ChallengeBook } from '../src/secret.js';

const domainKey = KeyPair.generate();
const seed = KeyPair.generate();
const admin = KeyPair.generate();
const joiner = KeyPair.generate();
const stranger = KeyPair.generate();
const id = (k: KeyPair): NodeId => k.id;
const domain = domainKey.domainId;

function advert(policy: DomainAdvert['policy'] = { kind: 'open' }): DomainAdvert {
  return signDomainAdvert(domainKey, {
    name: 'research',
    policy,
    nodes: [id(seed)],
    protocols: ['search'],
    version: 1,
    created: Date.now(),
  });
}

const roundTrip = <T>(value: T, to: (v: T) => unknown[], from: (v: unknown) => T): T =>
  from(unpack(pack(to(value))));

describe('membership records', () => {
  it('are accepted from the domain key and seeds, refused from anyone else, and survive the wire', () => {
    const a = advert();
    const byDomain = signMembershipRecord(domainKey, { domain, member: id(joiner) });
    const bySeed = roundTrip(
      signMembershipRecord(seed, { domain, member: id(joiner) }),
      membershipRecordToWire,
      membershipRecordFromWire,
    );
    expect(verifyMembershipRecord(byDomain, a, { member: id(joiner) })).toBe(byDomain);
    expect(verifyMembershipRecord(bySeed, a)).toEqual(bySeed);
    const byStranger = signMembershipRecord(stranger, { domain, member: id(joiner) });
    expect(() => verifyMembershipRecord(byStranger, a)).toThrow(InvalidMembershipRecordError);
    // A record for someone else, or altered after signing.
    expect(() => verifyMembershipRecord(byDomain, a, { member: id(stranger) })).toThrow(
      InvalidMembershipRecordError,
    );
    expect(() => verifyMembershipRecord({ ...byDomain, member: id(stranger) }, a)).toThrow(/bad signature/);
    // A removal after the record was issued voids it.
    expect(() => verifyMembershipRecord(byDomain, a, { removedAt: byDomain.issued })).toThrow(/removed/);
  });

  it('member statements are signed by the member and carry a valid record', () => {
    const a = advert();
    const record = signMembershipRecord(seed, { domain, member: id(joiner) });
    const info = roundTrip(signMemberInfo(joiner, record, ['search']), memberInfoToWire, memberInfoFromWire);
    expect(verifyMemberInfo(info, a).engines).toEqual(['search']);
    // Someone else stating it about the joiner's record.
    const impostor = signMemberInfo(stranger, record, ['search']);
    expect(() => verifyMemberInfo(impostor, a)).toThrow(InvalidSignatureError);
  });
});

describe('invites', () => {
  const a = advert({ kind: 'invite', admins: [id(admin)] });
  it('from the domain key or an admin admit the invitee until they expire', () => {
    const fromDomain = parseInvite(
      formatInvite(signInvite(domainKey, { domain, invitee: id(joiner), expires: Date.now() + 60_000 })),
    );
    verifyInvite(fromDomain, a, id(joiner));
    verifyInvite(signInvite(admin, { domain, expires: Date.now() + 60_000 }), a, id(stranger));
    expect(() => verifyInvite(fromDomain, a, id(stranger))).toThrow(InvalidInviteError);
    expect(() => verifyInvite(signInvite(admin, { domain, expires: Date.now() - 1 }), a, id(joiner))).toThrow(
      /expired/,
    );
  });
  it('signed by anyone else, or altered, are refused', () => {
    expect(() =>
      verifyInvite(signInvite(stranger, { domain, expires: Date.now() + 60_000 }), a, id(joiner)),
    ).toThrow(/neither the domain nor an admin/);
    const altered = {
      ...signInvite(domainKey, { domain, invitee: id(joiner), expires: Date.now() + 60_000 }),
      invitee: id(stranger),
    };
    expect(() => verifyInvite(altered, a, id(stranger))).toThrow(/bad signature/);
    expect(() => parseInvite('nminvite1.AAAA')).toThrow(InvalidInviteError);
  });
});

describe('leave and removal', () => {
  it('a leave is signed by the member and applies once; a replay is refused', () => {
    const a = advert();
    const state = new DomainState(a, 'member', 16);
    const record = signMembershipRecord(seed, { domain, member: id(joiner) });
    state.upsert(signMemberInfo(joiner, record, []), undefined);
    const leave = roundTrip(signLeave(joiner, record), leaveToWire, leaveFromWire);
    expect(verifyLeave(leave)).toBe(true);
    expect(verifyLeave({ ...leave, member: id(stranger) })).toBe(false);
    state.applyLeave(leave);
    expect(state.members.size).toBe(0);
    expect(() => state.applyLeave(leave)).toThrow(LeaveReplayError);
    // Rejoined with a new record: the old leave still does not apply.
    const again = signMembershipRecord(seed, { domain, member: id(joiner) });
    state.upsert(signMemberInfo(joiner, again, []), undefined);
    expect(() => state.applyLeave(leave)).toThrow(LeaveReplayError);
    expect(state.members.size).toBe(1);
  });

  it('only the domain key removes', () => {
    expect(verifyRemoval(signRemoval(domainKey, id(joiner)))).toBe(true);
    const bySeed = { ...signRemoval(seed, id(joiner)), domain };
    expect(verifyRemoval(bySeed)).toBe(false);
  });
});

describe('shared secrets and tickets', () => {
  it('a proof binds the secret to joiner, seed and a single-use challenge', () => {
    const book = new ChallengeBook(2, 60_000);
    const c = book.issue(domain, id(joiner));
    const fields = { domain, joiner: id(joiner), seed: id(seed), challenge: c };
    expect(secretProof(secretKey('s'), fields)).not.toEqual(secretProof(secretKey('t'), fields));
    expect(secretProof(secretKey('s'), fields)).not.toEqual(
      secretProof(secretKey('s'), { ...fields, joiner: id(stranger) }),
    );
    expect(book.take(domain, id(stranger), c)).toBe(false); // consumed by the wrong joiner's attempt
    const c2 = book.issue(domain, id(joiner));
    expect(book.take(domain, id(joiner), c2)).toBe(true);
    expect(book.take(domain, id(joiner), c2)).toBe(false);
    for (let i = 0; i < 5; i++) book.issue(domain, id(joiner));
    expect(book.size).toBe(2); // bounded
  });

  it('a ticket whose advert is signed by another key is refused', () => {
    const nodeAdvert = signNodeAdvert(seed, {
      addrs: [{ url: 'tls://127.0.0.1:1', weight: 1 }],
      version: 1,
      created: Date.now(),
    });
    const good = formatDomainTicket({ advert: advert(), seeds: [nodeAdvert] });
    expect(parseDomainTicket(good).advert.name).toBe('research');
    const wrongKey = { ...advert(), sig: stranger.sign(new Uint8Array(8)) };
    expect(() => parseDomainTicket(formatDomainTicket({ advert: wrongKey, seeds: [] }))).toThrow(
      InvalidSignatureError,
    );
    expect(() => parseDomainTicket('nmdomain1.!!')).toThrow();
  });

  it('the member table is bounded', () => {
    const state = new DomainState(advert(), 'member', 4);
    for (let i = 0; i < 10; i++) {
      const k = KeyPair.generate();
      state.upsert(signMemberInfo(k, signMembershipRecord(seed, { domain, member: id(k) }), []), undefined);
    }
    expect(state.members.size).toBe(4);
  });
});
