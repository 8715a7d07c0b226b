import type { NodeId } from '@netmachine/core';
import type { PeerConnectivity } from './options.js';

/** The shape of a Transport engine event as far as the pubsub engine cares. */
export interface PeerEventLike {
  readonly type: string;
  readonly node?: NodeId | undefined;
}

/**
 * The part of the Transport engine's event emitter that the pubsub engine needs (`events.on('*')`),
 * typed structurally so this package does not depend on the transport package.
 */
export interface PeerEventSource {
  on(type: '*', listener: (event: PeerEventLike) => void): () => void;
}

/** Feeds NodeConnected / NodeDisconnected into `pubsub` (re-subscription, adverts on connect). Returns an unwire function. */
export function wirePeerEvents(pubsub: PeerConnectivity, events: PeerEventSource): () => void {
  return events.on('*', (event) => {
    if (event.node === undefined) return;
    if (event.type === 'peer:connected') pubsub.onPeerConnected(event.node);
    else if (event.type === 'peer:disconnected') pubsub.onPeerDisconnected(event.node);
  });
}
