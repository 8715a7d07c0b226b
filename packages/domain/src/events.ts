import type { DomainId, NodeId } from '@netmachine/core';
import type { DomainRefusal } from './counters.js';

/** What the domain service reports: view changes (as the overlay names them), members, refusals. */
export type DomainEvent =
  | { readonly type: 'PeerAddedToView'; readonly domain: DomainId; readonly node: NodeId }
  | {
      readonly type: 'PeerRemovedFromView';
      readonly domain: DomainId;
      readonly node: NodeId;
      /** `disconnected`: the connection is gone; `replaced`: the overlay chose another peer. */
      readonly reason: 'disconnected' | 'replaced';
    }
  | { readonly type: 'MemberAdded'; readonly domain: DomainId; readonly node: NodeId }
  | {
      readonly type: 'MemberRemoved';
      readonly domain: DomainId;
      readonly node: NodeId;
      readonly reason: 'left' | 'removed' | 'failed';
    }
  | {
      readonly type: 'Refused';
      readonly domain?: DomainId | undefined;
      readonly node?: NodeId | undefined;
      readonly reason: DomainRefusal;
      readonly error: Error;
    };

export type DomainEventListener = (event: DomainEvent) => void;

/** A synchronous emitter; a throwing listener is ignored (an observer's bug must not break the service). */
export class DomainEvents {
  private listeners: DomainEventListener[] = [];

  on(listener: DomainEventListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  emit(event: DomainEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // ignored: see above
      }
    }
  }
}
