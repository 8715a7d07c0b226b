import { randomBytes } from 'node:crypto';
import {
  type DomainAdvert,
  type DomainId,
  domainIdFromBytes,
  expectArray,
  expectBytes,
  expectUint,
  InvalidSignatureError,
  identityBytes,
  isEngineName,
  KEY_BYTES,
  type KeyPair,
  type NodeId,
  nodeIdFromBytes,
  optional,
  pack,
  SchemaError,
  SIGNATURE_BYTES,
  unpack,
  verifySignature,
} from '@netmachine/core';
import { InvalidInviteError, InvalidMembershipRecordError } from './errors.js';

// Domain-separation labels: a signature over one kind of statement never passes as another.
const RECORD_LABEL = 'netmachine/domain-member/v1';
const INVITE_LABEL = 'netmachine/domain-invite/v1';
const LEAVE_LABEL = 'netmachine/domain-leave/v1';
const REMOVAL_LABEL = 'netmachine/domain-removal/v1';
const INFO_LABEL = 'netmachine/domain-member-info/v1';

export const SERIAL_BYTES = 16;
/** Engines one member may say it runs. */
export const MAX_MEMBER_ENGINES = 32;

/**
 * Admits `member` into `domain`: signed by the domain key, or by a seed (a node the domain advert
 * lists) that checked the join policy. `serial` names this admission: a leave refers to it.
 */
export interface MembershipRecord {
  readonly domain: DomainId;
  readonly member: NodeId;
  /** The signer: the domain key, or a seed node. */
  readonly issuer: string;
  readonly issued: number;
  readonly serial: Uint8Array;
  readonly sig: Uint8Array;
}

/** Lets one node (or, without `invitee`, whoever holds it) join an invite-only domain until `expires`. */
export interface InviteToken {
  readonly domain: DomainId;
  readonly invitee?: NodeId | undefined;
  readonly expires: number;
  readonly nonce: Uint8Array;
  readonly issuer: string;
  readonly sig: Uint8Array;
}

/** A member gives up the admission `serial`; signed by the member. */
export interface LeaveNotice {
  readonly domain: DomainId;
  readonly member: NodeId;
  readonly serial: Uint8Array;
  readonly time: number;
  readonly sig: Uint8Array;
}

/** The domain key removes `member`: every record issued to it before `time` is void. */
export interface Removal {
  readonly domain: DomainId;
  readonly member: NodeId;
  readonly time: number;
  readonly sig: Uint8Array;
}

/** A member's signed statement of the engines it runs for the domain, with its record. */
export interface MemberInfo {
  readonly record: MembershipRecord;
  readonly engines: readonly string[];
  /** Grows with every new statement (ms); the newest wins. */
  readonly seq: number;
  readonly sig: Uint8Array;
}

type Unsigned<T> = Omit<T, 'sig'>;

const keyBytes = (id: string): Uint8Array => identityBytes(id as NodeId);
const readKey = (v: unknown, path: string): string =>
  nodeIdFromBytes(expectBytes(v, path, KEY_BYTES)) as string;
const readSig = (v: unknown, path: string): Uint8Array => expectBytes(v, path, SIGNATURE_BYTES);

function signed(label: string, fields: unknown[], key: KeyPair): Uint8Array {
  return key.sign(pack([label, ...fields]));
}

function verifies(label: string, fields: unknown[], signer: string, sig: Uint8Array): boolean {
  return verifySignature(keyBytes(signer), pack([label, ...fields]), sig);
}

// --- membership records -------------------------------------------------------------------

const recordFields = (r: Unsigned<MembershipRecord>): unknown[] => [
  keyBytes(r.domain),
  keyBytes(r.member),
  keyBytes(r.issuer),
  r.issued,
  r.serial,
];

export function signMembershipRecord(
  issuer: KeyPair,
  fields: { domain: DomainId; member: NodeId; issued?: number },
): MembershipRecord {
  const unsigned = {
    domain: fields.domain,
    member: fields.member,
    issuer: issuer.id,
    issued: fields.issued ?? Date.now(),
    serial: new Uint8Array(randomBytes(SERIAL_BYTES)),
  };
  return { ...unsigned, sig: signed(RECORD_LABEL, recordFields(unsigned), issuer) };
}

export const membershipRecordToWire = (r: MembershipRecord): unknown[] => [...recordFields(r), r.sig];

export function membershipRecordFromWire(value: unknown, path = 'record'): MembershipRecord {
  const v = expectArray(value, path, 6, 6);
  return {
    domain: domainIdFromBytes(expectBytes(v[0], `${path}.domain`, KEY_BYTES)),
    member: nodeIdFromBytes(expectBytes(v[1], `${path}.member`, KEY_BYTES)),
    issuer: readKey(v[2], `${path}.issuer`),
    issued: expectUint(v[3], `${path}.issued`),
    serial: expectBytes(v[4], `${path}.serial`, SERIAL_BYTES),
    sig: readSig(v[5], `${path}.sig`),
  };
}

/** May `issuer` admit members into the domain `advert` describes? The domain key and its seeds may. */
export function isDomainAuthority(advert: DomainAdvert, issuer: string): boolean {
  return issuer === advert.id || advert.nodes.includes(issuer as NodeId);
}

/**
 * Checks a record against the domain's advert: its domain, its member (when given), an authority
 * as issuer, the signature, and that no removal voids it. Throws InvalidMembershipRecordError.
 */
export function verifyMembershipRecord(
  record: MembershipRecord,
  advert: DomainAdvert,
  options: { member?: NodeId; removedAt?: number | undefined } = {},
): MembershipRecord {
  if (record.domain !== advert.id) throw new InvalidMembershipRecordError(advert.id, 'names another domain');
  if (options.member !== undefined && record.member !== options.member) {
    throw new InvalidMembershipRecordError(advert.id, `issued to ${record.member}, not ${options.member}`);
  }
  if (!isDomainAuthority(advert, record.issuer)) {
    throw new InvalidMembershipRecordError(advert.id, `issuer ${record.issuer} is not the domain or a seed`);
  }
  if (!verifies(RECORD_LABEL, recordFields(record), record.issuer, record.sig)) {
    throw new InvalidMembershipRecordError(advert.id, 'bad signature');
  }
  if (options.removedAt !== undefined && record.issued <= options.removedAt) {
    throw new InvalidMembershipRecordError(advert.id, `member ${record.member} was removed`);
  }
  return record;
}

// --- invites ------------------------------------------------------------------------------

const inviteFields = (t: Unsigned<InviteToken>): unknown[] => [
  keyBytes(t.domain),
  t.invitee === undefined ? null : keyBytes(t.invitee),
  t.expires,
  t.nonce,
  keyBytes(t.issuer),
];

/** An invite, signed by the domain key or an admin the advert's invite policy lists. */
export function signInvite(
  issuer: KeyPair,
  fields: { domain: DomainId; invitee?: NodeId; expires: number },
): InviteToken {
  const unsigned = {
    domain: fields.domain,
    invitee: fields.invitee,
    expires: fields.expires,
    nonce: new Uint8Array(randomBytes(SERIAL_BYTES)),
    issuer: issuer.id,
  };
  return { ...unsigned, sig: signed(INVITE_LABEL, inviteFields(unsigned), issuer) };
}

export const inviteToWire = (t: InviteToken): unknown[] => [...inviteFields(t), t.sig];

export function inviteFromWire(value: unknown, path = 'invite'): InviteToken {
  const v = expectArray(value, path, 6, 6);
  return {
    domain: domainIdFromBytes(expectBytes(v[0], `${path}.domain`, KEY_BYTES)),
    invitee: optional(v[1], (x) => nodeIdFromBytes(expectBytes(x, `${path}.invitee`, KEY_BYTES))),
    expires: expectUint(v[2], `${path}.expires`),
    nonce: expectBytes(v[3], `${path}.nonce`, SERIAL_BYTES),
    issuer: readKey(v[4], `${path}.issuer`),
    sig: readSig(v[5], `${path}.sig`),
  };
}

const INVITE_TEXT_PREFIX = 'nminvite1.';

export const formatInvite = (t: InviteToken): string =>
  INVITE_TEXT_PREFIX + pack(inviteToWire(t)).toString('base64url');

/** Throws InvalidInviteError unless the invite admits `joiner` into the domain `advert` describes now. */
export function verifyInvite(t: InviteToken, advert: DomainAdvert, joiner: NodeId, now = Date.now()): void {
  if (t.domain !== advert.id) throw new InvalidInviteError('for another domain');
  const admins = advert.policy.kind === 'invite' ? advert.policy.admins : [];
  if (t.issuer !== advert.id && !admins.includes(t.issuer as NodeId)) {
    throw new InvalidInviteError(`issuer ${t.issuer} is neither the domain nor an admin`);
  }
  if (!verifies(INVITE_LABEL, inviteFields(t), t.issuer, t.sig))
    throw new InvalidInviteError('bad signature');
  if (t.expires <= now) throw new InvalidInviteError('expired');
  if (t.invitee !== undefined && t.invitee !== joiner) throw new InvalidInviteError(`issued to ${t.invitee}`);
}

// --- leave and removal --------------------------------------------------------------------

const leaveFields = (l: Unsigned<LeaveNotice>): unknown[] => [
  keyBytes(l.domain),
  keyBytes(l.member),
  l.serial,
  l.time,
];

export function signLeave(member: KeyPair, record: MembershipRecord, time = Date.now()): LeaveNotice {
  const unsigned = { domain: record.domain, member: member.id, serial: record.serial, time };
  return { ...unsigned, sig: signed(LEAVE_LABEL, leaveFields(unsigned), member) };
}

export const leaveToWire = (l: LeaveNotice): unknown[] => [...leaveFields(l), l.sig];

export function leaveFromWire(value: unknown, path = 'leave'): LeaveNotice {
  const v = expectArray(value, path, 5, 5);
  return {
    domain: domainIdFromBytes(expectBytes(v[0], `${path}.domain`, KEY_BYTES)),
    member: nodeIdFromBytes(expectBytes(v[1], `${path}.member`, KEY_BYTES)),
    serial: expectBytes(v[2], `${path}.serial`, SERIAL_BYTES),
    time: expectUint(v[3], `${path}.time`),
    sig: readSig(v[4], `${path}.sig`),
  };
}

export const verifyLeave = (l: LeaveNotice): boolean =>
  verifies(LEAVE_LABEL, leaveFields(l), l.member, l.sig);

const removalFields = (r: Unsigned<Removal>): unknown[] => [keyBytes(r.domain), keyBytes(r.member), r.time];

export function signRemoval(domainKey: KeyPair, member: NodeId, time = Date.now()): Removal {
  const unsigned = { domain: domainKey.domainId, member, time };
  return { ...unsigned, sig: signed(REMOVAL_LABEL, removalFields(unsigned), domainKey) };
}

export const removalToWire = (r: Removal): unknown[] => [...removalFields(r), r.sig];

export function removalFromWire(value: unknown, path = 'removal'): Removal {
  const v = expectArray(value, path, 4, 4);
  return {
    domain: domainIdFromBytes(expectBytes(v[0], `${path}.domain`, KEY_BYTES)),
    member: nodeIdFromBytes(expectBytes(v[1], `${path}.member`, KEY_BYTES)),
    time: expectUint(v[2], `${path}.time`),
    sig: readSig(v[3], `${path}.sig`),
  };
}

/** Only the domain key removes members. */
export const verifyRemoval = (r: Removal): boolean =>
  verifies(REMOVAL_LABEL, removalFields(r), r.domain, r.sig);

// --- member info --------------------------------------------------------------------------

const infoFields = (i: Unsigned<MemberInfo>): unknown[] => [
  membershipRecordToWire(i.record),
  [...i.engines],
  i.seq,
];

export function signMemberInfo(
  member: KeyPair,
  record: MembershipRecord,
  engines: readonly string[],
): MemberInfo {
  const unsigned = { record, engines: [...engines], seq: Date.now() };
  return { ...unsigned, sig: signed(INFO_LABEL, infoFields(unsigned), member) };
}

export const memberInfoToWire = (i: MemberInfo): unknown[] => [...infoFields(i), i.sig];

export function memberInfoFromWire(value: unknown, path = 'info'): MemberInfo {
  const v = expectArray(value, path, 4, 4);
  const engines = expectArray(v[1], `${path}.engines`, 0, MAX_MEMBER_ENGINES).map((e, i) => {
    if (!isEngineName(e)) throw new SchemaError(`${path}.engines[${i}]`, 'expected an engine name');
    return e;
  });
  return {
    record: membershipRecordFromWire(v[0], `${path}.record`),
    engines,
    seq: expectUint(v[2], `${path}.seq`),
    sig: readSig(v[3], `${path}.sig`),
  };
}

/** Checks the record against the advert, then the member's own signature over the statement. */
export function verifyMemberInfo(
  info: MemberInfo,
  advert: DomainAdvert,
  removedAt?: number | undefined,
): MemberInfo {
  verifyMembershipRecord(info.record, advert, { removedAt });
  if (!verifies(INFO_LABEL, infoFields(info), info.record.member, info.sig)) {
    throw new InvalidSignatureError(`member info of ${info.record.member}`);
  }
  return info;
}

/** Parses the text form of an invite (`nminvite1.…`); its signature is checked by the seed, against the advert. */
export function parseInvite(text: string): InviteToken {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  if (!trimmed.startsWith(INVITE_TEXT_PREFIX) || trimmed.length > 4096) {
    throw new InvalidInviteError(`an invite starts with ${INVITE_TEXT_PREFIX}`);
  }
  try {
    return inviteFromWire(unpack(Buffer.from(trimmed.slice(INVITE_TEXT_PREFIX.length), 'base64url')));
  } catch (error) {
    throw new InvalidInviteError(error instanceof Error ? error.message : String(error));
  }
}
