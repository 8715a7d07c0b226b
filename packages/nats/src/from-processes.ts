import type { Msg } from '@nats-io/transport-node';
import {
  type EngineAddress,
  type EngineMessage,
  FrameTooLargeError,
  type Logger,
  QueueFullError,
  type TopicId,
} from '@netmachine/core';
import type { Attachments, ProxiedEngine } from './attachments.js';
import type { BridgeEvent, NatsBridgeCounters, OutRejection } from './bridge-options.js';
import { errorToWire } from './errors.js';
import type { Listeners } from './listeners.js';
import { maxPayload, type NatsLink } from './nats-link.js';
import { decodeOut, type OutMessage, sealDelivery } from './protocol.js';
import { tagValid } from './session-keys.js';

/** What the bridge lends to the handling of messages from processes. */
export interface FromProcessesContext {
  readonly attachments: Attachments;
  readonly counters: NatsBridgeCounters;
  readonly events: Listeners<BridgeEvent>;
  readonly logger: Logger;
  readonly link: NatsLink;
  readonly session: string;
  readonly maxPendingRequests: number | undefined;
  /** The next sequence number of a delivery sealed in this session (shared with router → processes). */
  nextSeq(): number;
  /** Publishes unless NATS is down; counts a drop otherwise. */
  publish(subject: string, bytes: Uint8Array, name: string): boolean;
  noteDrop(reason: 'unencodable', name: string): void;
}

/**
 * Processes → router: what processes send on the bridge's out subject is decoded, checked against
 * the sender's session key and replay window, and enters the router as the proxy engine's own
 * traffic. Requests wait for the router's reply, which goes back sealed to the process's inbox.
 */
export class FromProcesses {
  #pendingRequests = 0;

  constructor(private readonly context: FromProcessesContext) {}

  /** Requests from processes still waiting for the router's reply. */
  get pendingRequests(): number {
    return this.#pendingRequests;
  }

  private reject(reason: OutRejection, name?: string): void {
    this.context.counters.rejected[reason]++;
    this.context.events.emit({ type: 'message:rejected', reason, name });
  }

  onOut(msg: Msg): void {
    let decoded: ReturnType<typeof decodeOut>;
    try {
      decoded = decodeOut(msg.data);
    } catch (error) {
      this.context.logger.debug({ err: error }, 'malformed message from a process');
      this.reject('malformed');
      return;
    }
    const { message: m, tagged, tag } = decoded;
    const engine = this.context.attachments.get(m.name);
    const instance = engine?.instances.get(m.instance);
    if (engine === undefined || instance === undefined) {
      this.reject('not-attached', m.name);
      return;
    }
    if (!tagValid(instance.keys.out, tagged, tag)) {
      this.reject('bad-signature', m.name);
      return;
    }
    if (!instance.outIds.accept(m.id)) {
      this.reject('replayed', m.name);
      return;
    }
    instance.lastSeen = Date.now();
    this.context.counters.fromProcesses++;
    const options = { expiry: m.expiry, protocol: m.protocol };
    try {
      switch (m.kind) {
        case 'send':
          engine.proxy.send(m.dst as EngineAddress, m.body, options);
          return;
        case 'reply':
          if (m.replyTo === undefined) {
            this.reject('malformed', m.name);
            return;
          }
          engine.proxy.reply({ src: m.dst, id: m.replyTo } as EngineMessage, m.body, options);
          return;
        case 'publish':
          engine.proxy.publish((m.dst as { topic: TopicId }).topic, m.body, options);
          return;
        case 'request':
          this.request(engine, m, msg, instance.keys.results);
          return;
      }
    } catch (error) {
      this.context.logger.debug({ err: error, engine: m.name }, 'router refused a message from a process');
      this.reject('refused-by-router', m.name);
    }
  }

  /** A process's request is the proxy's request; the result goes back to the process's inbox. */
  private request(engine: ProxiedEngine, m: OutMessage, msg: Msg, resultKey: Uint8Array): void {
    if (!msg.reply) {
      this.reject('malformed', m.name);
      return;
    }
    const respond = (reply: EngineMessage | undefined, error: unknown) => {
      const connection = this.context.link.connection;
      const seal = (reply: EngineMessage | undefined, error: unknown) =>
        sealDelivery(resultKey, {
          session: this.context.session,
          seq: this.context.nextSeq(),
          instance: m.instance,
          requestId: m.id,
          error: error === undefined ? undefined : errorToWire(error),
          id: reply?.id ?? 0,
          src: reply?.src ?? (m.dst as EngineAddress),
          topic: undefined,
          replyTo: reply?.replyTo,
          expiry: reply?.expiry,
          protocol: reply?.protocol ?? m.protocol,
          body: reply?.body ?? null,
        });
      let bytes = seal(reply, error);
      // A reply too large for NATS becomes an error the process can act on, not a silent timeout.
      const max = connection ? maxPayload(connection) : Number.POSITIVE_INFINITY;
      if (bytes.length > max) bytes = seal(undefined, new FrameTooLargeError(bytes.length, max));
      this.context.publish(msg.reply as string, bytes, engine.name);
    };
    if (this.#pendingRequests >= (this.context.maxPendingRequests ?? 4096)) {
      respond(undefined, new QueueFullError('bridge requests', this.context.maxPendingRequests ?? 4096));
      return;
    }
    this.#pendingRequests++;
    engine.proxy
      .request(m.dst as EngineAddress, m.body, {
        timeoutMs: m.timeoutMs,
        protocol: m.protocol,
        expiry: m.expiry,
      })
      .then(
        (reply) => respond(reply, undefined),
        (error: unknown) => respond(undefined, error),
      )
      .catch((error: unknown) => {
        this.context.logger.warn(
          { err: error, engine: engine.name },
          'reply to a process could not be encoded',
        );
        this.context.noteDrop('unencodable', engine.name);
      })
      .finally(() => {
        this.#pendingRequests--;
      });
  }
}
