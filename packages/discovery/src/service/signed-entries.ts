import type { KeyPair } from '@netmachine/core';
import type { PeerEntry } from '../machines/messages.js';
import { entryIssued, signEntry, verifyEntry } from './entries.js';

/** Clock skew allowed on an entry's issue time. */
const ENTRY_SKEW_MS = 60_000;
/** Verified entry signatures remembered (re-verifying every gossip round would cost ~0.1 ms each). */
const VERIFIED_MEMORY = 4096;

export interface SignedEntriesOptions {
  readonly keyPair: KeyPair;
  /** Bytes of a BLIP filter: an entry with a filter of another size is not taken in. */
  readonly filterBytes: number;
  /** How long an entry is taken in after it was issued. */
  readonly ttlMs: number;
}

/**
 * The sampling entries of a real node: this node's own, signed and re-signed before it grows stale,
 * and the checks on the entries of others (signed by the node they name, and fresh).
 */
export class SignedEntries {
  readonly #o: SignedEntriesOptions;
  readonly #verified = new Set<string>();
  #own: PeerEntry | undefined;

  constructor(options: SignedEntriesOptions) {
    this.#o = options;
  }

  /** This node's entry now, undefined before the first `issue`. */
  get own(): PeerEntry | undefined {
    return this.#own;
  }

  /**
   * Signs a new entry of this node for `filter`. What it returns reads the entry through getters, so
   * the machines given it see a re-signed entry (same filter, fresh issue time) without a restart.
   */
  issue(filter: Uint8Array): PeerEntry {
    const entry: PeerEntry = {
      peer: this.#o.keyPair.id,
      filter,
      signature: signEntry(this.#o.keyPair, filter, Date.now()),
      age: 0,
    };
    this.#own = entry;
    const current = () => this.#own ?? entry;
    return {
      get peer() {
        return current().peer;
      },
      get filter() {
        return current().filter;
      },
      get signature() {
        return current().signature;
      },
      age: 0,
    };
  }

  /** Re-signs this node's entry (same filter) once half its lifetime is gone. */
  refresh(): void {
    const entry = this.#own;
    if (entry === undefined) return;
    const issued = entryIssued(entry.signature) ?? 0;
    if (Date.now() - issued < this.#o.ttlMs / 2) return;
    this.#own = { ...entry, signature: signEntry(this.#o.keyPair, entry.filter, Date.now()) };
  }

  /** The entry is signed by the node it names (its age is not checked here: see `fresh`). */
  verify(entry: PeerEntry): boolean {
    if (entry.filter.length !== this.#o.filterBytes) return false;
    const key = `${entry.peer}/${Buffer.from(entry.signature).toString('base64')}`;
    if (this.#verified.has(key)) return true;
    if (!verifyEntry(entry, Date.now() + ENTRY_SKEW_MS)) return false;
    if (this.#verified.size >= VERIFIED_MEMORY) this.#verified.clear();
    this.#verified.add(key);
    return true;
  }

  /** Entries older than the lifetime are not taken in (their node has re-signed since, or is gone). */
  fresh(entry: PeerEntry): boolean {
    const issued = entryIssued(entry.signature);
    return issued !== undefined && issued >= Date.now() - this.#o.ttlMs;
  }

  /** Signed by the node it names, and fresh: what the machines take in. */
  accept(entry: PeerEntry): boolean {
    return this.verify(entry) && this.fresh(entry);
  }
}
