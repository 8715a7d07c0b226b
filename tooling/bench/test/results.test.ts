import { describe, expect, it } from 'vitest';
import { formatMarkdown } from '../src/markdown.js';
import { buildReport, formatTable } from '../src/report.js';
import { missingRecord, ratios, summarise } from '../src/results.js';
import { type Contender, QUICK, type Scenario } from '../src/scenario.js';
import { latencySummary, median } from '../src/stats.js';

const contender = (system: string, transport?: string): Contender => ({
  system,
  ...(transport !== undefined ? { transport } : {}),
  measure: async () => ({}),
});

const throughput: Scenario = {
  name: 'remote-unicast',
  description: 'test',
  metric: 'throughput',
  bars: [{ peer: 'nats', ratio: 1.2 }],
  subjects: [contender('netmachine', 'tls')],
  peers: [contender('nats')],
};

const latency: Scenario = {
  ...throughput,
  name: 'remote-request',
  metric: 'latency',
  bars: [{ peer: 'nats', ratio: 0.6 }],
};

describe('stats', () => {
  it('takes medians and nearest-rank percentiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(latencySummary(samples)).toEqual({ p50: 50, p99: 99 });
  });
});

describe('summarise', () => {
  it('reports the median of clean runs', () => {
    const record = summarise(throughput, contender('nats'), [
      { measurement: { msgsPerSec: 100 } },
      { measurement: { msgsPerSec: 300 } },
      { measurement: { msgsPerSec: 200 } },
    ]);
    expect(record).toMatchObject({ system: 'nats', msgsPerSec: 200, runs: 3, status: 'ok' });
  });

  it('reports the loss, not a rate, when any run lost messages', () => {
    const record = summarise(throughput, contender('nats'), [
      { measurement: { msgsPerSec: 100 } },
      { measurement: { loss: { sent: 10, received: 7, bad: 1 } } },
    ]);
    expect(record.status).toBe('lost');
    expect(record.msgsPerSec).toBeNull();
    expect(record.loss).toEqual({ runs: 1, sent: 10, received: 7, bad: 1 });
  });

  it('reports a failure when no run produced a measurement', () => {
    const record = summarise(throughput, contender('nats'), [{ error: new Error('boom') }]);
    expect(record).toMatchObject({ status: 'failed', reason: 'boom', runs: 0, msgsPerSec: null });
  });
});

describe('ratios', () => {
  it('compares throughput as ours over theirs, against the bar', () => {
    const records = [
      summarise(throughput, contender('netmachine', 'tls'), [{ measurement: { msgsPerSec: 600 } }]),
      summarise(throughput, contender('nats'), [{ measurement: { msgsPerSec: 400 } }]),
    ];
    expect(ratios(throughput, records)).toEqual([
      { scenario: 'remote-unicast', peer: 'nats', ratio: 1.5, bar: 1.2, met: true },
    ]);
    expect(formatTable([{ scenario: throughput, records }])).toContain('1.50×');
  });

  it('compares latency p50 where lower is better', () => {
    const records = [
      summarise(latency, contender('netmachine', 'tls'), [{ measurement: { p50us: 200, p99us: 400 } }]),
      summarise(latency, contender('nats'), [{ measurement: { p50us: 250, p99us: 900 } }]),
    ];
    expect(ratios(latency, records)[0]).toMatchObject({ ratio: 0.8, met: false });
  });

  it('compares bandwidth in mbPerSec, printed as MB/s', () => {
    const bandwidth: Scenario = { ...throughput, name: 'storage-fetch', metric: 'bandwidth', bars: [] };
    const records = [
      summarise(bandwidth, contender('netmachine', 'tls'), [{ measurement: { mbPerSec: 120 } }]),
      summarise(bandwidth, contender('raw-tls'), [{ measurement: { mbPerSec: 200 } }]),
    ];
    expect(records[1]).toMatchObject({ mbPerSec: 200, msgsPerSec: null, samples: { mbPerSec: [200] } });
    expect(ratios(bandwidth, records)[0]).toMatchObject({ peer: 'raw-tls', ratio: 0.6 });
    expect(formatTable([{ scenario: bandwidth, records }])).toContain('200 MB/s');
    const report = buildReport([{ scenario: bandwidth, records }], QUICK, [0.5, 0.5, 0.5]);
    expect(formatMarkdown(report, [bandwidth])).toContain('| storage-fetch | raw-tls | 200 MB/s | 0.60× |');
  });

  it('gives no ratio when netmachine is missing', () => {
    const records = [
      missingRecord(throughput, contender('netmachine', 'tls'), 'package @netmachine/router missing'),
      summarise(throughput, contender('nats'), [{ measurement: { msgsPerSec: 400 } }]),
    ];
    expect(ratios(throughput, records)[0]).toMatchObject({ ratio: null, met: null });
    expect(formatTable([{ scenario: throughput, records }])).toContain(
      'not available (package @netmachine/router missing)',
    );
  });
});

describe('markdown', () => {
  it('renders a recorded run as the README table, loss and missing subjects included', () => {
    const records = [
      summarise(throughput, contender('netmachine', 'tls'), [
        { measurement: { loss: { sent: 1000, received: 900, bad: 0 } } },
      ]),
      summarise(throughput, contender('nats'), [{ measurement: { msgsPerSec: 400_000 } }]),
    ];
    const report = buildReport([{ scenario: throughput, records }], QUICK, [0.5, 0.5, 0.5]);
    const table = formatMarkdown(report, [throughput]);
    expect(table).toContain('| remote-unicast | netmachine/tls | **lost** 100 of 1,000 (1 run(s)) |');
    expect(table).toContain('| remote-unicast | nats | 400,000 msgs/s | - | ≥ 1.2× |');
    expect(table).toContain('(quick pass)');
  });
});
