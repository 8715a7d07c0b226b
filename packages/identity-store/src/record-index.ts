import {
  type DomainAdvert,
  type DomainId,
  type EngineAddress,
  type EngineAdvert,
  type NodeId,
  type TopicAdvert,
  type TopicId,
  TRUST_BANNED,
} from '@netmachine/core';
import type { DecodedRecord } from './persisted.js';
import { buildNodeRecord, DEFAULT_LOCAL_STATE, localStateOf, type NodeRecord } from './records.js';

export function engineMapKey(node: NodeId, name: string): string {
  return `${node}/${name}`;
}

/**
 * The in-memory mirror of every record, and the synchronous read API on top of it. The store
 * (a subclass) is the only writer: it changes these maps after a write is durable, or for local
 * state, just before.
 */
export class RecordIndex {
  protected readonly nodeRecords = new Map<NodeId, NodeRecord>();
  protected readonly engineAdverts = new Map<string, EngineAdvert>();
  protected readonly topicAdverts = new Map<TopicId, TopicAdvert>();
  protected readonly domainAdverts = new Map<DomainId, DomainAdvert>();

  node(id: NodeId): NodeRecord | undefined {
    return this.nodeRecords.get(id);
  }

  nodes(): IterableIterator<NodeRecord> {
    return this.nodeRecords.values();
  }

  /** Trust in a node: its stored value, or the default (128) for a node never seen. */
  trust(id: NodeId): number {
    return this.nodeRecords.get(id)?.trust ?? DEFAULT_LOCAL_STATE.trust;
  }

  isBanned(id: NodeId): boolean {
    return this.nodeRecords.get(id)?.trust === TRUST_BANNED;
  }

  engine(address: EngineAddress): EngineAdvert | undefined {
    return this.engineAdverts.get(engineMapKey(address.node, address.name));
  }

  /** Known engine adverts, all or those of one node. */
  engines(node?: NodeId): EngineAdvert[] {
    const all = [...this.engineAdverts.values()];
    return node === undefined ? all : all.filter((a) => a.node === node);
  }

  topic(id: TopicId): TopicAdvert | undefined {
    return this.topicAdverts.get(id);
  }

  topics(): IterableIterator<TopicAdvert> {
    return this.topicAdverts.values();
  }

  domain(id: DomainId): DomainAdvert | undefined {
    return this.domainAdverts.get(id);
  }

  domains(): IterableIterator<DomainAdvert> {
    return this.domainAdverts.values();
  }

  /** Puts a record read back from the backend into memory; records of one node merge in any order. */
  protected applyDecoded(record: DecodedRecord): void {
    switch (record.kind) {
      case 'node': {
        const id = record.advert.id;
        this.nodeRecords.set(id, buildNodeRecord(id, record.advert, localStateOf(this.nodeRecords.get(id))));
        break;
      }
      case 'local':
        this.nodeRecords.set(
          record.id,
          buildNodeRecord(record.id, this.nodeRecords.get(record.id)?.advert, record.state),
        );
        break;
      case 'engine':
        this.engineAdverts.set(engineMapKey(record.advert.node, record.advert.name), record.advert);
        break;
      case 'topic':
        this.topicAdverts.set(record.advert.id, record.advert);
        break;
      case 'domain':
        this.domainAdverts.set(record.advert.id, record.advert);
        break;
    }
  }
}
