import type { Msg } from '@nats-io/transport-node';
import { Emitter, type TypedEvent } from '@netmachine/core';

/** The bridge's and attached engines' emitter: core's typed emitter. */
export class Listeners<E extends TypedEvent> extends Emitter<E> {}

/**
 * Wraps a NATS subscription callback. The client calls it from its socket reader, where a thrown
 * error would take the connection down with it; here it is logged and the message is lost alone.
 */
export function guardedCallback(
  handle: (msg: Msg) => void,
  onError: (error: unknown) => void,
): (error: Error | null, msg: Msg) => void {
  return (error, msg) => {
    if (error) return;
    try {
      handle(msg);
    } catch (failure) {
      onError(failure);
    }
  };
}
