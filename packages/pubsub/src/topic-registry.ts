import {
  isNewerAdvert,
  type KeyPair,
  QueueFullError,
  type TopicAdvert,
  type TopicId,
  type VerifyOptions,
  verifyTopicAdvert,
} from '@netmachine/core';

export const DEFAULT_MAX_TOPICS = 65_536;

/** Result of offering an advert: stored, or not newer than what is known (a repeat, a replay). */
export type AdvertOutcome =
  | { readonly stored: true; readonly previous: TopicAdvert | undefined }
  | { readonly stored: false };

/**
 * The TopicAdverts this node knows, the keys of the topics it created, and the versions retired by
 * deletions (so an old copy of a deleted topic's advert cannot bring it back). All three are
 * bounded: a peer flooding adverts gets QueueFullError, not memory.
 */
export class TopicRegistry {
  private readonly adverts = new Map<TopicId, TopicAdvert>();
  private readonly keys = new Map<TopicId, KeyPair>();
  private readonly deleted = new Map<TopicId, number>();

  constructor(readonly maxTopics = DEFAULT_MAX_TOPICS) {}

  get size(): number {
    return this.adverts.size;
  }

  get(topic: TopicId): TopicAdvert | undefined {
    return this.adverts.get(topic);
  }

  all(): TopicAdvert[] {
    return [...this.adverts.values()];
  }

  /** Adverts of the topics this node created (holds the key of). */
  owned(): TopicAdvert[] {
    const out: TopicAdvert[] = [];
    for (const topic of this.keys.keys()) {
      const advert = this.adverts.get(topic);
      if (advert !== undefined) out.push(advert);
    }
    return out;
  }

  keyOf(topic: TopicId): KeyPair | undefined {
    return this.keys.get(topic);
  }

  rememberKey(key: KeyPair): void {
    this.keys.set(key.topicId, key);
  }

  /**
   * Verifies and stores `advert` when it is newer than the known copy. Throws InvalidSignatureError
   * (forged), AdvertFromFutureError, or QueueFullError (too many topics).
   */
  offer(advert: TopicAdvert, verify: VerifyOptions = {}): AdvertOutcome {
    verifyTopicAdvert(advert, verify);
    const retired = this.deleted.get(advert.id);
    if (retired !== undefined && advert.version <= retired) return { stored: false };
    const previous = this.adverts.get(advert.id);
    if (!isNewerAdvert(advert, previous)) return { stored: false };
    if (previous === undefined && this.adverts.size >= this.maxTopics) {
      throw new QueueFullError('topic adverts', this.maxTopics);
    }
    this.adverts.set(advert.id, advert);
    this.deleted.delete(advert.id);
    return { stored: true, previous };
  }

  /** Forgets a topic and retires advert versions up to `version`. */
  delete(topic: TopicId, version: number): TopicAdvert | undefined {
    const advert = this.adverts.get(topic);
    this.adverts.delete(topic);
    this.keys.delete(topic);
    if (this.deleted.size >= this.maxTopics) {
      // Oldest retirement first: Map iterates in insertion order.
      const oldest = this.deleted.keys().next().value;
      if (oldest !== undefined) this.deleted.delete(oldest);
    }
    this.deleted.set(topic, Math.max(version, this.deleted.get(topic) ?? 0));
    return advert;
  }

  /** The highest advert version a deletion retired, if the topic was deleted. */
  retiredVersion(topic: TopicId): number | undefined {
    return this.deleted.get(topic);
  }
}
