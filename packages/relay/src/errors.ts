import { NetmachineError, type NodeId } from '@netmachine/core';

// --- at the destination: a RelayMessage that does not open ------------------------------------

/** A sealed RelayMessage whose layout is wrong (too short, unknown version, bad length field). */
export class MalformedRelayMessageError extends NetmachineError {
  constructor(problem: string) {
    super('ERR_RELAY_MALFORMED', `malformed relay message: ${problem}`);
  }
}

/** The session header's signature does not verify against the source node's key. */
export class RelaySessionSignatureError extends NetmachineError {
  constructor(readonly source: NodeId) {
    super('ERR_RELAY_SESSION_SIGNATURE', `relay session from ${source}: invalid source signature`);
  }
}

/** The ciphertext or its bound header fields were changed on the way (AEAD tag mismatch). */
export class RelayDecryptError extends NetmachineError {
  constructor(readonly source: NodeId) {
    super('ERR_RELAY_DECRYPT', `relay message from ${source} does not authenticate (tampered or wrong key)`);
  }
}

/** A RelayMessage this node has already opened (same session and counter). */
export class RelayReplayError extends NetmachineError {
  constructor(
    readonly source: NodeId,
    readonly counter: number,
  ) {
    super('ERR_RELAY_REPLAY', `relay message ${counter} from ${source} was already delivered`);
  }
}

/** The message's expiry has passed, or its session is older than a session may live. */
export class RelayMessageExpiredError extends NetmachineError {
  constructor(
    readonly source: NodeId,
    what: 'message' | 'session',
  ) {
    super('ERR_RELAY_EXPIRED', `relay ${what} from ${source} has expired`);
  }
}

/** The inner message does not belong in this envelope (its source or destination node differs). */
export class RelayEnvelopeMismatchError extends NetmachineError {
  constructor(problem: string) {
    super('ERR_RELAY_ENVELOPE', `relay envelope mismatch: ${problem}`);
  }
}

/** The destination opens new sessions faster than it agreed to (public-key work is rate-limited). */
export class RelaySessionRateError extends NetmachineError {
  constructor(readonly source: NodeId) {
    super('ERR_RELAY_SESSION_RATE', `too many new relay sessions from ${source}`);
  }
}

// --- at the source: refusals a relay sends back -------------------------------------------------

/** A relay refused a message; `relay` is the relay node. Subclasses say why. */
export class RelayRefusedError extends NetmachineError {
  constructor(
    code: string,
    readonly relay: NodeId,
    message: string,
  ) {
    super(code, message);
  }
}

/** The relay's policy does not relay for this source (not in its domains or allow-list). */
export class RelaySourceNotAllowedError extends RelayRefusedError {
  constructor(relay: NodeId) {
    super('ERR_RELAY_SOURCE_NOT_ALLOWED', relay, `relay ${relay} does not relay for this node`);
  }
}

/** The relay does not serve the destination (it is not registered with the relay, and no multi-hop). */
export class RelayDestinationNotServedError extends RelayRefusedError {
  constructor(
    relay: NodeId,
    readonly destination: NodeId,
  ) {
    super('ERR_RELAY_NOT_SERVED', relay, `relay ${relay} does not serve ${destination}`);
  }
}

/** The relay's per-source or total message or byte rate was exceeded. */
export class RelayRateLimitedError extends RelayRefusedError {
  constructor(
    relay: NodeId,
    readonly limit: 'source' | 'total',
  ) {
    super('ERR_RELAY_RATE_LIMITED', relay, `relay ${relay}: ${limit} rate limit exceeded`);
  }
}

/** The relay cannot take more right now (its queue to the destination is full). */
export class RelayOverCapacityError extends RelayRefusedError {
  constructor(relay: NodeId) {
    super('ERR_RELAY_OVER_CAPACITY', relay, `relay ${relay} is over capacity`);
  }
}

/** No relay is known for the destination (its advert names none and no return path was learned). */
export class NoRelayPathError extends NetmachineError {
  constructor(readonly destination: NodeId) {
    super('ERR_RELAY_NO_PATH', `no relay path to ${destination}`);
  }
}
