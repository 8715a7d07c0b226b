import { type EngineMessage, identityBytes, type NodeId, signedMessageBytes } from '@netmachine/core';
import type { SignatureCheck, SignaturePool } from './signature-pool.js';

export interface InboundVerifierHandlers {
  /** A message whose signature held, in the order received. */
  deliver(message: EngineMessage): void;
  /** The first message whose signature failed: nothing after it is delivered. */
  reject(message: EngineMessage): void;
  /** The pool failed (closed, a worker died): nothing more is delivered. */
  failed(error: Error): void;
  /** `maxInFlight` messages wait for verification: stop reading. */
  full(): void;
  /** Half of them are through: reading may go on. */
  room(): void;
}

const NO_SIGNATURE = new Uint8Array(0);

/**
 * One link's strict-mode verification on a SignaturePool, in order. The messages decoded in one
 * turn of the event loop go out as one batch; a batch's messages are delivered once its results are
 * back and every earlier batch's are delivered, so the link's order holds though workers finish in
 * any order. At most `maxInFlight` messages wait: at that bound the link stops reading (`full`)
 * until half have been delivered (`room`), so the peer's writes back up to it.
 */
export class InboundVerifier {
  readonly #pool: SignaturePool;
  readonly #maxInFlight: number;
  readonly #handlers: InboundVerifierHandlers;
  #messages: EngineMessage[] = [];
  #checks: SignatureCheck[] = [];
  #dispatchScheduled = false;
  /** Resolves when every batch so far has been delivered. */
  #delivered: Promise<void> = Promise.resolve();
  #inFlight = 0;
  #full = false;
  #stopped = false;
  /** The last signer seen and its key: a link's messages come from one node, almost always. */
  #signer: NodeId | undefined;
  #signerKey: Uint8Array = NO_SIGNATURE;

  constructor(pool: SignaturePool, maxInFlight: number, handlers: InboundVerifierHandlers) {
    this.#pool = pool;
    this.#maxInFlight = Math.max(1, maxInFlight);
    this.#handlers = handlers;
  }

  /** Messages waiting for their verdict. */
  get inFlight(): number {
    return this.#inFlight;
  }

  push(message: EngineMessage): void {
    if (this.#stopped) return;
    this.#messages.push(message);
    this.#checks.push(this.#check(message));
    this.#inFlight++;
    if (!this.#dispatchScheduled) {
      this.#dispatchScheduled = true;
      queueMicrotask(this.#dispatch);
    }
    if (!this.#full && this.#inFlight >= this.#maxInFlight) {
      this.#full = true;
      this.#handlers.full();
    }
  }

  /** What the pool checks; a message it cannot even encode gets no signature, so it fails. */
  #check(message: EngineMessage): SignatureCheck {
    try {
      const node = message.src.node;
      if (node !== this.#signer) {
        this.#signerKey = identityBytes(node);
        this.#signer = node;
      }
      const signature = message.sig ?? NO_SIGNATURE;
      return { data: signedMessageBytes(message), signature, key: this.#signerKey };
    } catch {
      return { data: NO_SIGNATURE, signature: NO_SIGNATURE, key: NO_SIGNATURE };
    }
  }

  /** Delivers nothing more (the link failed or closed). */
  stop(): void {
    this.#stopped = true;
    this.#messages = [];
    this.#checks = [];
  }

  readonly #dispatch = (): void => {
    this.#dispatchScheduled = false;
    if (this.#stopped || this.#messages.length === 0) return;
    const messages = this.#messages;
    const verdicts = this.#pool.verify(this.#checks);
    this.#messages = [];
    this.#checks = [];
    // Without this, a rejection would be unhandled until the batches before it are delivered.
    verdicts.catch(() => {});
    this.#delivered = this.#delivered.then(
      () => verdicts.then((results) => this.#deliver(messages, results), this.#fail),
      this.#fail,
    );
  };

  #deliver(messages: readonly EngineMessage[], results: Uint8Array): void {
    for (let i = 0; i < messages.length; i++) {
      if (this.#stopped) return;
      const message = messages[i] as EngineMessage;
      if (results[i] === 1) this.#handlers.deliver(message);
      else {
        this.stop();
        this.#handlers.reject(message);
        return;
      }
    }
    this.#inFlight -= messages.length;
    if (this.#full && this.#inFlight <= this.#maxInFlight / 2) {
      this.#full = false;
      this.#handlers.room();
    }
  }

  readonly #fail = (error: unknown): void => {
    if (this.#stopped) return;
    this.stop();
    this.#handlers.failed(error instanceof Error ? error : new Error(String(error)));
  };
}
