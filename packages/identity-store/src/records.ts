import {
  type AdvertisedAddress,
  type NodeAdvert,
  type NodeId,
  type NodeRecordView,
  SchemaError,
  TRUST_BANNED,
  TRUST_DEFAULT,
} from '@netmachine/core';

/** A smoothed round-trip estimate (RFC 6298 style: SRTT and RTTVAR). */
export interface RttEstimate {
  /** Smoothed RTT in ms. */
  readonly smoothedMs: number;
  /** Smoothed mean deviation in ms. */
  readonly varianceMs: number;
  /** The most recent sample in ms. */
  readonly lastMs: number;
  /** Samples taken into account so far. */
  readonly samples: number;
}

/** What this node decided or measured about another node: never part of a signed advert. */
export interface LocalNodeState {
  /** 0 = banned, 128 = default, 255 = fully trusted. */
  readonly trust: number;
  /** Observed behaviour, from -1000 (harmful) through 0 (neutral) to 1000 (exemplary). */
  readonly reputation: number;
  /** Transport protocols to prefer for this node, in order; undefined = no preference. */
  readonly transportPrefs?: readonly string[] | undefined;
  readonly rtt?: RttEstimate | undefined;
}

/** Everything known about one node. Records are immutable snapshots: a change replaces the record. */
export interface NodeRecord extends NodeRecordView, LocalNodeState {
  readonly id: NodeId;
  readonly advert?: NodeAdvert | undefined;
  /** The advert's addresses, most preferred (highest weight) first; ties keep advert order. */
  readonly addresses: readonly AdvertisedAddress[];
}

export const REPUTATION_MIN = -1000;
export const REPUTATION_MAX = 1000;
export const TRUST_MAX = 255;
/** At most this many transport preferences are kept per node, each at most 32 characters. */
export const MAX_TRANSPORT_PREFS = 8;
export const MAX_TRANSPORT_NAME = 32;

export const DEFAULT_LOCAL_STATE: LocalNodeState = { trust: TRUST_DEFAULT, reputation: 0 };

export function isBanned(record: { readonly trust: number } | undefined): boolean {
  return record !== undefined && record.trust === TRUST_BANNED;
}

export function sortAddresses(addrs: readonly AdvertisedAddress[]): readonly AdvertisedAddress[] {
  // Array.prototype.sort is stable, so equal weights keep the advertiser's order.
  return [...addrs].sort((a, b) => b.weight - a.weight);
}

export function buildNodeRecord(
  id: NodeId,
  advert: NodeAdvert | undefined,
  local: LocalNodeState,
): NodeRecord {
  return {
    id,
    advert,
    addresses: advert === undefined ? [] : sortAddresses(advert.addrs),
    trust: local.trust,
    reputation: local.reputation,
    transportPrefs: local.transportPrefs,
    rtt: local.rtt,
  };
}

export function localStateOf(record: NodeRecord | undefined): LocalNodeState {
  if (record === undefined) return DEFAULT_LOCAL_STATE;
  return {
    trust: record.trust,
    reputation: record.reputation,
    transportPrefs: record.transportPrefs,
    rtt: record.rtt,
  };
}

// RFC 6298 gains: the estimate follows a sustained change within ~8 samples but ignores one outlier.
const ALPHA = 1 / 8;
const BETA = 1 / 4;

/** Folds one RTT sample into an estimate. */
export function smoothRtt(previous: RttEstimate | undefined, sampleMs: number): RttEstimate {
  if (previous === undefined) {
    return { smoothedMs: sampleMs, varianceMs: sampleMs / 2, lastMs: sampleMs, samples: 1 };
  }
  const varianceMs = (1 - BETA) * previous.varianceMs + BETA * Math.abs(previous.smoothedMs - sampleMs);
  const smoothedMs = (1 - ALPHA) * previous.smoothedMs + ALPHA * sampleMs;
  return { smoothedMs, varianceMs, lastMs: sampleMs, samples: previous.samples + 1 };
}

export function checkTrust(trust: number): void {
  if (!Number.isInteger(trust) || trust < 0 || trust > TRUST_MAX) {
    throw new SchemaError('trust', `expected an integer in 0..${TRUST_MAX}, got ${trust}`);
  }
}

export function checkReputation(reputation: number): void {
  if (!Number.isInteger(reputation) || reputation < REPUTATION_MIN || reputation > REPUTATION_MAX) {
    throw new SchemaError('reputation', `expected an integer in ${REPUTATION_MIN}..${REPUTATION_MAX}`);
  }
}
