import { describe, expect, it } from 'vitest';
import { runAnycastScenario } from './processes.js';

// Three member processes in the default suite; twelve, with four killed, behind NETMACHINE_SCALE=1
// (`pnpm test:scale`).
describe('a domain of member processes over TLS', () => {
  it('3 processes: a non-member anycasts through a SIGKILL of the serving member', async () => {
    const run = await runAnycastScenario({
      count: 3,
      kills: 1,
      killEvery: 20,
      requestsAfter: 40,
      inFlight: 4,
    });
    expect(run.answered).toBe(run.requests);
    expect(run.killed).toHaveLength(1);
    expect(run.failovers).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it.runIf(process.env.NETMACHINE_SCALE === '1')(
    '12 processes: 4 members killed mid-stream, every request answered, views repaired',
    async () => {
      const run = await runAnycastScenario({
        count: 12,
        kills: 4,
        killEvery: 100,
        requestsAfter: 400,
        inFlight: 8,
      });
      expect(run.answered).toBe(run.requests);
      expect(run.killed).toHaveLength(4);
      process.stdout.write(
        `${JSON.stringify({ requests: run.requests, answered: run.answered, killed: run.killed.length, failovers: run.failovers, servers: [...run.servedBy.values()] })}\n`,
      );
    },
    300_000,
  );
});
