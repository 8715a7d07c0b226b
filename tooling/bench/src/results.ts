import { type Contender, type Measurement, rateOf, type Scenario } from './scenario.js';
import { median } from './stats.js';

/** One line of `bench/results/latest.json`: the median over the runs of one contender in one scenario. */
export interface ResultRecord {
  readonly scenario: string;
  readonly system: string;
  readonly transport?: string;
  readonly msgsPerSec: number | null;
  /** Bulk (bandwidth) scenarios: megabytes per second; null elsewhere. */
  readonly mbPerSec: number | null;
  readonly p50us: number | null;
  readonly p99us: number | null;
  /** Runs that produced a measurement. */
  readonly runs: number;
  /** `lost`: some run lost or corrupted messages, so no rate is reported. */
  readonly status: 'ok' | 'lost' | 'failed' | 'missing';
  readonly reason?: string;
  readonly loss?: {
    readonly runs: number;
    readonly sent: number;
    readonly received: number;
    readonly bad: number;
  };
  /** The per-run values behind the medians. */
  readonly samples?: {
    readonly msgsPerSec: number[];
    readonly mbPerSec: number[];
    readonly p50us: number[];
    readonly p99us: number[];
  };
}

export interface RunOutcome {
  readonly measurement?: Measurement;
  readonly error?: Error;
}

const round = (value: number | undefined, digits = 1): number | null =>
  value === undefined ? null : Math.round(value * 10 ** digits) / 10 ** digits;

function base(scenario: Scenario, contender: Contender) {
  return {
    scenario: scenario.name,
    system: contender.system,
    ...(contender.transport !== undefined ? { transport: contender.transport } : {}),
  };
}

export function missingRecord(scenario: Scenario, contender: Contender, reason: string): ResultRecord {
  return {
    ...base(scenario, contender),
    msgsPerSec: null,
    mbPerSec: null,
    p50us: null,
    p99us: null,
    runs: 0,
    status: 'missing',
    reason,
  };
}

/** Folds the runs of one contender into its record: medians, or the loss, or the failure. */
export function summarise(
  scenario: Scenario,
  contender: Contender,
  outcomes: readonly RunOutcome[],
): ResultRecord {
  const measured = outcomes.flatMap((outcome) => (outcome.measurement ? [outcome.measurement] : []));
  const lossy = measured.filter((measurement) => measurement.loss !== undefined);
  const clean = measured.filter((measurement) => measurement.loss === undefined);
  const errors = outcomes.flatMap((outcome) => (outcome.error ? [outcome.error.message] : []));
  const pick = (key: 'msgsPerSec' | 'mbPerSec' | 'p50us' | 'p99us'): number[] =>
    clean.flatMap((measurement) => (measurement[key] !== undefined ? [measurement[key]!] : []));
  const samples = {
    msgsPerSec: pick('msgsPerSec'),
    mbPerSec: pick('mbPerSec'),
    p50us: pick('p50us'),
    p99us: pick('p99us'),
  };
  const rounded = {
    msgsPerSec: samples.msgsPerSec.map((value) => Math.round(value)),
    mbPerSec: samples.mbPerSec.map((value) => round(value)!),
    p50us: samples.p50us.map((value) => round(value)!),
    p99us: samples.p99us.map((value) => round(value)!),
  };
  const empty = { ...base(scenario, contender), msgsPerSec: null, mbPerSec: null, p50us: null, p99us: null };
  if (lossy.length > 0) {
    const total = (key: 'sent' | 'received' | 'bad'): number =>
      lossy.reduce((sum, measurement) => sum + measurement.loss![key], 0);
    return {
      ...empty,
      runs: measured.length,
      status: 'lost',
      loss: { runs: lossy.length, sent: total('sent'), received: total('received'), bad: total('bad') },
      ...(errors.length > 0 ? { reason: errors[0] } : {}),
      // The clean runs' figures stay visible, though no median is reported.
      samples: rounded,
    };
  }
  if (clean.length === 0) {
    return { ...empty, runs: 0, status: 'failed', reason: errors[0] ?? 'no run produced a measurement' };
  }
  return {
    ...base(scenario, contender),
    msgsPerSec: round(median(samples.msgsPerSec), 0),
    mbPerSec: round(median(samples.mbPerSec)),
    p50us: round(median(samples.p50us)),
    p99us: round(median(samples.p99us)),
    runs: clean.length,
    status: 'ok',
    ...(errors.length > 0 ? { reason: `${errors.length} run(s) failed: ${errors[0]}` } : {}),
    samples: rounded,
  };
}

/** netmachine's figure over the peer's, for the scenario's metric; undefined when either is missing. */
export interface Ratio {
  readonly scenario: string;
  readonly peer: string;
  /** throughput: netmachine ÷ peer (higher is better); latency: netmachine p50 ÷ peer p50 (lower is better). */
  readonly ratio: number | null;
  readonly bar: number | null;
  readonly met: boolean | null;
}

export function ratios(scenario: Scenario, records: readonly ResultRecord[]): Ratio[] {
  const ours = records.find((record) => record.system === 'netmachine');
  const value = (record: ResultRecord | undefined): number | null =>
    record === undefined
      ? null
      : scenario.metric === 'latency'
        ? record.p50us
        : (rateOf(scenario, record) ?? null);
  return records
    .filter((record) => record.system !== 'netmachine')
    .map((record) => {
      const mine = value(ours);
      const theirs = value(record);
      const ratio =
        mine !== null && theirs !== null && theirs > 0 ? Math.round((mine / theirs) * 1000) / 1000 : null;
      const bar = scenario.bars.find((candidate) => candidate.peer === record.system)?.ratio ?? null;
      const met =
        ratio === null || bar === null ? null : scenario.metric === 'latency' ? ratio <= bar : ratio >= bar;
      return { scenario: scenario.name, peer: record.system, ratio, bar, met };
    });
}
