import { randomBytes } from 'node:crypto';
import type { Msg } from '@nats-io/transport-node';
import type { EngineAddress, KeyPair, Logger, TopicId } from '@netmachine/core';
import type { AttachedEngineEvent, ProcessDropReason } from './attach-options.js';
import { AttachRefusedError } from './errors.js';
import type { Listeners } from './listeners.js';
import type { NatsLink } from './nats-link.js';
import {
  type AnnounceKind,
  type AttachReply,
  encodeAnnouncement,
  openAttachReply,
  signAnnouncement,
} from './protocol.js';
import { SequenceWindow, sessionStart } from './replay-guard.js';
import {
  derivePairKeys,
  EphemeralKey,
  type PairContext,
  type PairKeys,
  unwrapGroupKey,
} from './session-keys.js';
import type { Subjects } from './subjects.js';

/** What this process shares with the bridge for one bridge session. */
export interface SessionKeys {
  readonly session: string;
  readonly bridgeDhKey: Uint8Array;
  readonly pair: PairKeys;
  readonly group: Buffer;
}

export interface AttachHandshakeOptions {
  readonly self: EngineAddress;
  readonly instance: string;
  /** The engine key the node trusts for this engine's name: it signs every announcement. */
  readonly key: KeyPair;
  readonly link: NatsLink;
  readonly subjects: Subjects;
  /** The topics announced (the engine adds and removes them, then schedules an announcement). */
  readonly topics: ReadonlySet<TopicId>;
  readonly heartbeatMs: number;
  readonly events: Listeners<AttachedEngineEvent>;
  readonly logger: Logger;
  /** An attach reply brought keys: deliveries held for want of them get another look. */
  readonly released: () => void;
  readonly dropped: (reason: ProcessDropReason) => void;
  /** The node refused this process after the first attach had settled: the engine stops. */
  readonly refusedLater: () => void;
}

/**
 * An attached engine's side of the attach handshake and its heartbeat: announcements signed by the
 * engine key, the node's signed answers, and what they agree (the bridge session, its keys, its
 * sequence window). The engine reads `keys`, `seqs` and `acknowledged` on every message.
 */
export class AttachHandshake {
  /** The keys of the session this process is in; undefined until the node first answered. */
  keys: SessionKeys | undefined;
  /** Sequence numbers of deliveries seen in the current session. */
  seqs = new SequenceWindow();
  /** The node answered the last announcement (or at most one went unanswered since). */
  acknowledged = false;
  /** Announcements in a row the node did not answer. */
  unanswered = 0;
  readonly #o: AttachHandshakeOptions;
  /** This run's X25519 key: with the bridge session's, it gives the session keys. */
  readonly #dh = new EphemeralKey();
  #session: string | undefined;
  #heartbeatMs: number;
  #timer: NodeJS.Timeout | undefined;
  #announcing = false;
  #firstAttach: { resolve: () => void; reject: (error: Error) => void } | undefined;
  #closed = false;

  constructor(options: AttachHandshakeOptions) {
    this.#o = options;
    this.#heartbeatMs = options.heartbeatMs;
  }

  /** An announcement is waiting for its answer. */
  get announcing(): boolean {
    return this.#announcing;
  }

  /** Settles once the node first accepts this process (rejects if it refuses). */
  firstAttach(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#firstAttach = { resolve, reject };
    });
  }

  rejectFirstAttach(error: Error): void {
    this.#firstAttach?.reject(error);
  }

  /** No more heartbeats; a first attach still waiting is rejected with `error`. */
  close(error: Error): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#firstAttach?.reject(error);
    this.#firstAttach = undefined;
  }

  /** Announces after `delayMs`, then at every heartbeat. */
  schedule(delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      void this.announce('attach').finally(() => this.schedule(this.#heartbeatMs));
    }, delayMs);
    this.#timer.unref();
  }

  /**
   * Sends an announcement (synchronously, before the first await: callers rely on it preceding
   * what they publish next) and handles the node's answer. `force` sends even while a heartbeat
   * is still waiting for its answer.
   */
  async announce(kind: AnnounceKind, force = false): Promise<void> {
    const { link, self, instance, logger } = this.#o;
    const connection = link.connection;
    if (connection === undefined || !link.isUp) return;
    if (this.#announcing && kind === 'attach' && !force) return;
    this.#announcing = true;
    try {
      const nonce = randomBytes(16);
      const announcement = signAnnouncement(this.#o.key, self.node, {
        kind,
        name: self.name,
        instance,
        timestamp: Date.now(),
        nonce,
        topics: [...this.#o.topics],
        server: connection.getServer(),
        dhKey: this.#dh.publicKey,
      });
      let msg: Msg;
      try {
        msg = await connection.request(this.#o.subjects.attach, encodeAnnouncement(announcement), {
          timeout: Math.max(1000, 2 * this.#heartbeatMs),
        });
      } catch (error) {
        logger.debug({ err: error }, 'announcement not answered');
        // Two in a row: the node is gone (or has forgotten us); stop sending until it answers again.
        if (kind === 'attach' && ++this.unanswered >= 2) this.acknowledged = false;
        return;
      }
      const context = { node: self.node, name: self.name, instance, nonce };
      let reply: ReturnType<typeof openAttachReply>;
      try {
        reply = openAttachReply(msg.data, context);
      } catch (error) {
        logger.warn({ err: error }, 'attach reply not from the node');
        this.#o.dropped('invalid');
        return;
      }
      if (kind === 'detach') return;
      if (!reply.ok) {
        // A full bridge may have room at the next heartbeat; every other refusal is final.
        if (reply.code === 'over-capacity' && this.#firstAttach === undefined) {
          logger.warn('node over capacity; retrying at the next heartbeat');
          return;
        }
        this.#refused(new AttachRefusedError(self.name, reply.code, reply.reason));
        return;
      }
      if (this.#session === undefined || sessionStart(reply.session) > sessionStart(this.#session)) {
        this.#enterSession(reply.session);
      }
      if (reply.session === this.#session) {
        try {
          this.keys = this.#sessionKeys(reply);
        } catch (error) {
          logger.warn({ err: error }, 'attach reply without usable session keys');
          this.#o.dropped('invalid');
          return;
        }
      }
      this.#heartbeatMs = Math.max(50, reply.heartbeatMs);
      this.acknowledged = true;
      this.unanswered = 0;
      this.#firstAttach?.resolve();
      this.#firstAttach = undefined;
      this.#o.released();
    } finally {
      this.#announcing = false;
    }
  }

  /** The keys of the reply's session: agreed once per session, the group key read from every reply. */
  #sessionKeys(reply: AttachReply): SessionKeys {
    const current = this.keys;
    const context: PairContext = {
      node: this.#o.self.node,
      name: this.#o.self.name,
      instance: this.#o.instance,
      session: reply.session,
      processDhKey: this.#dh.publicKey,
      bridgeDhKey: reply.dhKey,
    };
    const pair =
      current !== undefined &&
      current.session === reply.session &&
      Buffer.compare(current.bridgeDhKey, reply.dhKey) === 0
        ? current.pair
        : derivePairKeys(this.#dh.agree(reply.dhKey), context);
    const group = unwrapGroupKey(pair, context, reply.groupKey);
    return { session: reply.session, bridgeDhKey: reply.dhKey, pair, group };
  }

  #enterSession(session: string): void {
    this.#session = session;
    this.seqs = new SequenceWindow();
    this.#o.logger.info({ session }, 'attached');
    this.#o.events.emit({ type: 'engine:attached', session });
  }

  #refused(error: AttachRefusedError): void {
    this.#o.logger.error({ err: error }, 'attach refused');
    this.#o.events.emit({ type: 'attach:refused', error });
    if (this.#firstAttach) this.#firstAttach.reject(error);
    else this.#o.refusedLater();
    this.#firstAttach = undefined;
  }
}
