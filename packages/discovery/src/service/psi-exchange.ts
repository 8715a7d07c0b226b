import {
  type EngineClient,
  type EngineContext,
  type EngineMessage,
  type EngineRef,
  type Logger,
  NetmachineError,
  type NodeId,
} from '@netmachine/core';
import {
  decodePsiMessage,
  encodePsiMessage,
  PSI_LIMITS,
  PSI_PROTOCOL,
  type PsiResponderState,
  psiComplete,
  psiFinish,
  psiRequest,
  psiRespond,
} from '../psi.js';

// PSI between two nodes, over the router: the initiator's `psi.client` requests the peer's `psi`
// engine (PsiRequest → PsiResponse), learns the intersection, and sends PsiFinish so the responder
// learns it too. A responder keeps at most `maxSessions` half-done exchanges, each for
// `sessionTtlMs`; beyond that it refuses (and says so) rather than hold more state.

/** The PSI engine's name on every participating node. */
export const PSI_ENGINE = 'psi';

/** The peer refused the exchange (not participating, busy, or this node is not welcome). */
export class PsiRefusedError extends NetmachineError {
  constructor(
    readonly peer: NodeId,
    readonly reason: string,
  ) {
    super('ERR_PSI_REFUSED', `${peer} refused private set intersection: ${reason}`);
  }
}

export interface PsiCounters {
  /** Exchanges this node started. */
  started: number;
  /** Exchanges this node started that ended with an intersection. */
  completed: number;
  /** Requests this node answered. */
  answered: number;
  /** Finishes that gave this node (the responder) the intersection. */
  finished: number;
  /** Requests refused (not participating, sessions full, peer not allowed). */
  refused: number;
  /** Messages that did not decode, or did not fit their exchange. */
  badInput: number;
}

export interface PsiExchangeRouter {
  spawn(
    name: string,
    handler: (message: EngineMessage, context: EngineContext) => void,
    options?: object,
  ): EngineRef;
  client(name: string): EngineClient;
}

export interface PsiExchangeOptions {
  readonly router: PsiExchangeRouter;
  /** The domain ids this node intersects (its participating domains, never internal-only ones). */
  readonly localSet: () => readonly string[];
  /** Whether to answer `peer` at all. */
  readonly allowed: (peer: NodeId) => boolean;
  /** A finished exchange: the shared domains with `peer`, learned as `role`. */
  readonly onIntersection?: (
    peer: NodeId,
    shared: readonly string[],
    role: 'initiator' | 'responder',
  ) => void;
  readonly maxSessions?: number;
  /** Requests answered per peer per minute (default 6); more are refused. */
  readonly perPeerPerMinute?: number;
  readonly sessionTtlMs?: number;
  readonly maxSetSize?: number;
  readonly timeoutMs?: number;
  readonly logger: Logger;
}

interface Session {
  readonly peer: NodeId;
  readonly state: PsiResponderState;
  readonly expires: number;
}

export class PsiExchange {
  readonly #o: PsiExchangeOptions;
  readonly #sessions = new Map<string, Session>();
  readonly #rates = new Map<NodeId, { start: number; count: number }>();
  readonly #counters: PsiCounters = {
    started: 0,
    completed: 0,
    answered: 0,
    finished: 0,
    refused: 0,
    badInput: 0,
  };
  #engine: EngineRef | undefined;
  #client: EngineClient | undefined;

  constructor(options: PsiExchangeOptions) {
    this.#o = options;
  }

  start(): void {
    if (this.#engine !== undefined) return;
    this.#engine = this.#o.router.spawn(PSI_ENGINE, (message, ctx) => this.#handle(message, ctx), {
      mailboxSize: 64,
      mailboxPolicy: 'reject',
    });
    this.#client = this.#o.router.client(`${PSI_ENGINE}.client`);
  }

  async stop(): Promise<void> {
    this.#sessions.clear();
    await this.#client?.stop();
    await this.#engine?.stop();
  }

  counters(): PsiCounters {
    return { ...this.#counters };
  }

  /** Runs PSI with `peer`: resolves with the domains both hold, and the peer learns the same. */
  async intersect(
    peer: NodeId,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<string[]> {
    const client = this.#client;
    if (client === undefined)
      throw new NetmachineError('ERR_NOT_STARTED', 'the discovery service is not running');
    const max = this.#o.maxSetSize ?? PSI_LIMITS.maxSetSize;
    const start = psiRequest(this.#o.localSet(), { maxSetSize: max });
    this.#counters.started++;
    const reply = await client.request<unknown>(
      { node: peer, name: PSI_ENGINE },
      encodePsiMessage(start.message),
      {
        protocol: PSI_PROTOCOL,
        timeoutMs: options.timeoutMs ?? this.#o.timeoutMs ?? 10_000,
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
    const refusal = refusalOf(reply.body);
    if (refusal !== undefined) throw new PsiRefusedError(peer, refusal);
    let response: ReturnType<typeof decodePsiMessage>;
    try {
      response = decodePsiMessage(reply.body, max);
      if (response.type !== 'psiResponse')
        throw new NetmachineError('ERR_PSI_PROTOCOL', 'expected a response');
    } catch (error) {
      this.#counters.badInput++;
      throw error;
    }
    const done = psiComplete(start.state, response);
    client.send({ node: peer, name: PSI_ENGINE }, encodePsiMessage(done.message), { protocol: PSI_PROTOCOL });
    this.#counters.completed++;
    this.#o.onIntersection?.(peer, done.intersection, 'initiator');
    return done.intersection;
  }

  #handle(message: EngineMessage, ctx: EngineContext): void {
    const peer = message.src.node;
    if (message.protocol !== PSI_PROTOCOL) {
      this.#counters.badInput++;
      return;
    }
    const max = this.#o.maxSetSize ?? PSI_LIMITS.maxSetSize;
    let decoded: ReturnType<typeof decodePsiMessage>;
    try {
      decoded = decodePsiMessage(message.body, max);
    } catch (error) {
      this.#counters.badInput++;
      this.#o.logger.debug({ err: error, peer }, 'undecodable PSI message dropped');
      return;
    }
    const now = Date.now();
    this.#expire(now);
    if (decoded.type === 'psiRequest') {
      const refuse = (reason: string) => {
        this.#counters.refused++;
        ctx.reply(message, { type: 'psiRefused', reason }, { protocol: PSI_PROTOCOL });
      };
      if (!this.#o.allowed(peer)) {
        refuse('not participating');
        return;
      }
      if (!this.#withinRate(peer, now)) {
        refuse('too many requests');
        return;
      }
      if (this.#sessions.size >= (this.#o.maxSessions ?? 32)) {
        refuse('busy');
        return;
      }
      const answer = psiRespond(decoded, this.#o.localSet(), { maxSetSize: max });
      this.#sessions.set(sessionKey(peer, decoded.session), {
        peer,
        state: answer.state,
        expires: now + (this.#o.sessionTtlMs ?? 30_000),
      });
      this.#counters.answered++;
      ctx.reply(message, encodePsiMessage(answer.message), { protocol: PSI_PROTOCOL });
      return;
    }
    if (decoded.type === 'psiFinish') {
      const key = sessionKey(peer, decoded.session);
      const session = this.#sessions.get(key);
      if (session === undefined) {
        this.#counters.badInput++;
        return;
      }
      this.#sessions.delete(key);
      let shared: string[];
      try {
        shared = psiFinish(session.state, decoded);
      } catch {
        this.#counters.badInput++;
        return;
      }
      this.#counters.finished++;
      this.#o.onIntersection?.(peer, shared, 'responder');
      return;
    }
    // A response outside a request: nobody asked.
    this.#counters.badInput++;
  }

  /**
   * At most `perPeerPerMinute` requests a minute from one peer: every answer tells the peer which of the
   * domains it named this node is in, so a peer guessing domain ids must not be answered without end.
   */
  #withinRate(peer: NodeId, now: number): boolean {
    const limit = this.#o.perPeerPerMinute ?? 6;
    let window = this.#rates.get(peer);
    if (window === undefined || now - window.start >= 60_000) {
      if (window === undefined && this.#rates.size >= 1024) {
        const oldest = this.#rates.keys().next().value;
        if (oldest !== undefined) this.#rates.delete(oldest);
      }
      window = { start: now, count: 0 };
      this.#rates.set(peer, window);
    }
    window.count++;
    return window.count <= limit;
  }

  #expire(now: number): void {
    for (const [key, session] of this.#sessions) if (session.expires <= now) this.#sessions.delete(key);
  }
}

function sessionKey(peer: NodeId, session: Uint8Array): string {
  return `${peer}/${Buffer.from(session).toString('hex')}`;
}

function refusalOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  if (record.type !== 'psiRefused') return undefined;
  return typeof record.reason === 'string' ? record.reason.slice(0, 64) : 'refused';
}
