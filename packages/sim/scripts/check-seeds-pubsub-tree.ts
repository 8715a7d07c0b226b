// Runs the pubsub-tree scenario for seeds 1..5 (--first, --seeds, --nodes; default 10,000 nodes) and checks
// the bars: delivery = 1, rmr ≤ 0.1, maxHops ≤ 2·log2(nodes), deliveryAfterCrash ≥ 0.99,
// deliveryAfterRepair = 1. Not part of the default test suite (minutes per seed):
// `pnpm --filter @netmachine/sim check:seeds:pubsub-tree`.
import { parseArgs } from 'node:util';
import { pubsubTreeCost, pubsubTreeSummary, runPubsubTreeScenario } from '../src/scenarios/pubsub-tree.js';

const { values } = parseArgs({
  options: { nodes: { type: 'string' }, seeds: { type: 'string' }, first: { type: 'string' } },
});
const nodes = Number(values.nodes ?? 10_000);
const seeds = Number(values.seeds ?? 5);
const first = Number(values.first ?? 1);
let failures = 0;
process.stdout.write(
  '| seed | delivery | rmr | maxHops | p50Hops | after crash | after repair | wall s | trace hash |\n',
);
process.stdout.write('|---|---|---|---|---|---|---|---|---|\n');
for (let seed = first; seed < first + seeds; seed++) {
  const result = runPubsubTreeScenario({ nodes, seed });
  const s = pubsubTreeSummary(result);
  const cost = pubsubTreeCost(result);
  const ok =
    s.delivery === 1 &&
    (s.rmr as number) <= 0.1 &&
    (s.maxHops as number) <= 2 * Math.log2(nodes) &&
    (s.deliveryAfterCrash as number) >= 0.99 &&
    s.deliveryAfterRepair === 1;
  if (!ok) failures++;
  process.stdout.write(
    `| ${seed} | ${s.delivery} | ${s.rmr} | ${s.maxHops} | ${s.p50Hops} | ${s.deliveryAfterCrash} | ${s.deliveryAfterRepair} | ${cost.wallSeconds} | ${s.traceHash}${ok ? '' : ' FAIL'} |\n`,
  );
  process.stdout.write(`${JSON.stringify(s)}\n`);
}
process.stdout.write(`${JSON.stringify({ nodes, seeds: `${first}..${first + seeds - 1}`, failures })}\n`);
process.exitCode = failures === 0 ? 0 : 1;
