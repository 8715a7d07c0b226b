import { blake3 } from '@noble/hashes/blake3.js';
import { base32Decode, base32Encode } from './base32.js';
import { InvalidIdentityError } from './errors.js';

/** Length of an Ed25519 public key, and so of every key-based identity. */
export const KEY_BYTES = 32;
/** Length of the text form of a 32-byte identity. */
export const KEY_TEXT_LENGTH = 52;

declare const nodeBrand: unique symbol;
declare const topicBrand: unique symbol;
declare const domainBrand: unique symbol;

/** A node: its Ed25519 public key in canonical text form (lower-case base32, no padding). */
export type NodeId = string & { readonly [nodeBrand]: true };
/** A topic: the Ed25519 public key that signs its TopicAdvert, in canonical text form. */
export type TopicId = string & { readonly [topicBrand]: true };
/** A domain: the Ed25519 public key that signs its DomainAdvert, in canonical text form. */
export type DomainId = string & { readonly [domainBrand]: true };

/** An engine is addressed as (node, name). `router` and `transport` are well-known names on every node. */
export interface EngineAddress {
  readonly node: NodeId;
  readonly name: string;
}

/** Engine names: 1–64 characters of letters, digits, `.`, `_`, `-`, `:` and `/`. */
const ENGINE_NAME = /^[A-Za-z0-9._:/-]{1,64}$/;
const KEY_TEXT = /^[a-z2-7]{52}$/;

export function isEngineName(name: unknown): name is string {
  return typeof name === 'string' && ENGINE_NAME.test(name);
}

export function assertEngineName(name: string): string {
  if (!isEngineName(name)) {
    throw new InvalidIdentityError(`invalid engine name ${JSON.stringify(name)}: 1-64 of [A-Za-z0-9._:/-]`);
  }
  return name;
}

function parseKeyText(kind: string, text: string): string {
  if (typeof text !== 'string' || !KEY_TEXT.test(text) || base32Decode(text) === undefined) {
    throw new InvalidIdentityError(
      `invalid ${kind} identity ${JSON.stringify(String(text).slice(0, 80))}: expected 52 characters of lower-case base32`,
    );
  }
  return text;
}

/**
 * Key texts already found valid. The same few identities (a topic, its publisher) arrive on every
 * event: each is decoded once, then recognised by a lookup. Bounded: emptied when full.
 */
const validKeyTexts = new Set<string>();
const MAX_VALID_KEY_TEXTS = 4096;

export function isKeyText(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  if (validKeyTexts.has(text)) return true;
  if (!KEY_TEXT.test(text) || base32Decode(text) === undefined) return false;
  if (validKeyTexts.size >= MAX_VALID_KEY_TEXTS) validKeyTexts.clear();
  validKeyTexts.add(text);
  return true;
}

export const parseNodeId = (text: string): NodeId => parseKeyText('node', text) as NodeId;
export const parseTopicId = (text: string): TopicId => parseKeyText('topic', text) as TopicId;
export const parseDomainId = (text: string): DomainId => parseKeyText('domain', text) as DomainId;

function keyFromBytes(kind: string, bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_BYTES) {
    throw new InvalidIdentityError(`${kind} identity must be ${KEY_BYTES} bytes`);
  }
  return base32Encode(bytes);
}

export const nodeIdFromBytes = (bytes: Uint8Array): NodeId => keyFromBytes('node', bytes) as NodeId;
export const topicIdFromBytes = (bytes: Uint8Array): TopicId => keyFromBytes('topic', bytes) as TopicId;
export const domainIdFromBytes = (bytes: Uint8Array): DomainId => keyFromBytes('domain', bytes) as DomainId;

/** The 32 raw key bytes behind a node, topic or domain identity. */
export function identityBytes(id: NodeId | TopicId | DomainId): Uint8Array {
  const bytes = base32Decode(id);
  if (bytes === undefined || bytes.length !== KEY_BYTES)
    throw new InvalidIdentityError(`invalid identity ${id}`);
  return bytes;
}

/** Canonical text of an engine address: `name@node`. */
export function formatEngineAddress(address: EngineAddress): string {
  return `${address.name}@${address.node}`;
}

export function parseEngineAddress(text: string): EngineAddress {
  if (typeof text !== 'string') throw new InvalidIdentityError('engine address must be a string');
  const at = text.lastIndexOf('@');
  if (at <= 0)
    throw new InvalidIdentityError(
      `invalid engine address ${JSON.stringify(text.slice(0, 140))}: expected name@node`,
    );
  return { name: assertEngineName(text.slice(0, at)), node: parseNodeId(text.slice(at + 1)) };
}

export function engineAddress(node: NodeId, name: string): EngineAddress {
  return { node, name: assertEngineName(name) };
}

export function sameEngine(a: EngineAddress, b: EngineAddress): boolean {
  return a.name === b.name && a.node === b.node;
}

const encoder = new TextEncoder();

/** The compact EngineIdentity: BLAKE3(node key ‖ name), 32 bytes. */
export function compactEngineId(address: EngineAddress): Uint8Array {
  const node = identityBytes(address.node);
  const name = encoder.encode(address.name);
  const input = new Uint8Array(node.length + name.length);
  input.set(node, 0);
  input.set(name, node.length);
  return blake3(input);
}

/** The compact EngineIdentity in canonical text form. */
export function compactEngineIdText(address: EngineAddress): string {
  return base32Encode(compactEngineId(address));
}
