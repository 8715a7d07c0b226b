import type { NodeId } from '@netmachine/core';

/** The connection half of the Transport engine (structural: `TransportEngine` fits). */
export interface LinkControl {
  /** Opens (or reuses) a connection; `permanent` keeps it up. Resolves when connected. */
  connect(node: NodeId, options?: { permanent?: boolean }): Promise<void>;
  /** Makes the link ephemeral again and closes it. */
  disconnect(node: NodeId): Promise<void>;
}

/**
 * Connections wanted by several owners at once (several runners, e.g. one overlay per domain, on one
 * node): a link stays permanent while any owner wants it, and is closed only when the last lets go.
 */
export class SharedLinks {
  readonly #control: LinkControl;
  readonly #wanted = new Map<NodeId, Set<object>>();

  constructor(control: LinkControl) {
    this.#control = control;
  }

  /** `owner` wants a live link to `node`; resolves when connected, rejects when that fails. */
  want(owner: object, node: NodeId): Promise<void> {
    let owners = this.#wanted.get(node);
    if (owners === undefined) {
      owners = new Set();
      this.#wanted.set(node, owners);
    }
    owners.add(owner);
    return this.#control.connect(node, { permanent: true });
  }

  /** `owner` no longer needs the link; the last owner to let go closes it. */
  release(owner: object, node: NodeId): void {
    const owners = this.#wanted.get(node);
    if (owners === undefined || !owners.delete(owner) || owners.size > 0) return;
    this.#wanted.delete(node);
    this.#control.disconnect(node).catch(() => undefined);
  }

  /** Lets go of every link `owner` holds. */
  releaseAll(owner: object): void {
    for (const node of [...this.#wanted.keys()]) this.release(owner, node);
  }

  /** How many owners want `node` (for tests and status). */
  owners(node: NodeId): number {
    return this.#wanted.get(node)?.size ?? 0;
  }
}
