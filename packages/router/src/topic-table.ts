import type { EngineAddress, TopicId } from '@netmachine/core';
import type { LocalEngine } from './engine.js';

/** A topic as this node's router knows it. */
export interface LocalTopic {
  readonly topic: TopicId;
  /** The one engine allowed to publish (v1). Undefined for a topic this node only subscribes to. */
  publisher: EngineAddress | undefined;
  /** Local subscribers, in subscription order; an array because fan-out iterates it per event. */
  subscribers: LocalEngine[];
}

/** Where the router hands topic traffic that concerns other nodes: a core interface (the pubsub service implements it). */
export type { TopicDelegate } from '@netmachine/core';

export class TopicTable {
  private readonly topics = new Map<TopicId, LocalTopic>();

  get(topic: TopicId): LocalTopic | undefined {
    return this.topics.get(topic);
  }

  getOrCreate(topic: TopicId): LocalTopic {
    let entry = this.topics.get(topic);
    if (entry === undefined) {
      entry = { topic, publisher: undefined, subscribers: [] };
      this.topics.set(topic, entry);
    }
    return entry;
  }

  delete(topic: TopicId): boolean {
    return this.topics.delete(topic);
  }

  /** Adds `engine`; returns the new subscriber count, or -1 if it was already subscribed. */
  subscribe(topic: TopicId, engine: LocalEngine): number {
    const entry = this.getOrCreate(topic);
    if (entry.subscribers.includes(engine)) return -1;
    entry.subscribers = [...entry.subscribers, engine];
    return entry.subscribers.length;
  }

  /** Removes `engine`; returns the new count, or -1 if it was not subscribed. */
  unsubscribe(topic: TopicId, engine: LocalEngine): number {
    const entry = this.topics.get(topic);
    if (entry === undefined || !entry.subscribers.includes(engine)) return -1;
    // Copy-on-write: a fan-out in progress keeps iterating the array it started with.
    entry.subscribers = entry.subscribers.filter((e) => e !== engine);
    const left = entry.subscribers.length;
    if (left === 0 && entry.publisher === undefined) this.topics.delete(topic);
    return left;
  }

  /** Topics `engine` subscribes to. */
  subscriptionsOf(engine: LocalEngine): TopicId[] {
    const out: TopicId[] = [];
    for (const entry of this.topics.values()) if (entry.subscribers.includes(engine)) out.push(entry.topic);
    return out;
  }

  topicIds(): TopicId[] {
    return [...this.topics.keys()];
  }
}
