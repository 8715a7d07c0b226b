import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

describe('pnpm sim', () => {
  it('runs the overlay scenario, prints a table, one JSON object last, and writes the SVG plot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
    try {
      const svgPath = join(dir, 'overlay.svg');
      const htmlPath = join(dir, 'overlay.html');
      const { stdout } = await run(
        process.execPath,
        [
          '--conditions=@netmachine/source',
          '--import',
          'tsx',
          cli,
          'overlay',
          '--nodes',
          '300',
          '--seed',
          '4',
          '--json',
          '--svg',
          svgPath,
          '--html',
          htmlPath,
        ],
        { timeout: 60_000 },
      );
      const lines = stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^scenario\s+overlay$/);
      const summary = JSON.parse(lines.at(-1) as string);
      expect(summary).toMatchObject({ nodes: 300, seed: 4, crashFraction: 0.5, crashFraction80: 0.8 });
      for (const key of [
        'connected',
        'activeViewMin',
        'activeViewMax',
        'connectedAfterCrash',
        'connectedAfterCrash80',
      ]) {
        expect(typeof summary[key]).toBe('number');
      }
      expect(summary.simMessagesPerSec).toBeGreaterThan(0);
      expect(summary.traceHash).toMatch(/^[0-9a-f]{16}$/);
      const svg = await readFile(svgPath, 'utf8');
      expect(svg).toMatch(/^<svg /);
      expect(svg.match(/<path /g)?.length).toBe(4); // connected and active view, for each crash fraction
      // The replay page is one file: no external script, style or fetch (replay.browser.test.ts plays it).
      const html = await readFile(htmlPath, 'utf8');
      expect(html).toContain('id="replay-data"');
      expect(html).not.toMatch(/<script [^>]*src=|<link /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('runs the pubsub-tree scenario and ends with one JSON object holding the headline figures', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--conditions=@netmachine/source',
        '--import',
        'tsx',
        cli,
        'pubsub-tree',
        '--nodes',
        '80',
        '--seed',
        '2',
        '--json',
      ],
      { timeout: 60_000 },
    );
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^scenario\s+pubsub-tree$/);
    const summary = JSON.parse(lines.at(-1) as string);
    for (const key of [
      'nodes',
      'events',
      'delivery',
      'rmr',
      'maxHops',
      'p50Hops',
      'crashFraction',
      'deliveryAfterCrash',
      'deliveryAfterRepair',
    ]) {
      expect(summary).toHaveProperty(key);
    }
    expect(summary.nodes).toBe(80);
    expect(summary.crashFraction).toBe(0.3);
    expect(summary.delivery).toBe(1);
  });

  it('runs the discovery scenario with the figures on the last line, the same for the same seed', async () => {
    const args = [
      '--conditions=@netmachine/source',
      '--import',
      'tsx',
      cli,
      'discovery',
      '--nodes',
      '100',
      '--domains',
      '10',
      '--periods',
      '12',
      '--lookups',
      '20',
      '--seed',
      '5',
      '--json',
    ];
    const [a, b] = await Promise.all([
      run(process.execPath, args, { timeout: 120_000 }),
      run(process.execPath, args, { timeout: 120_000 }),
    ]);
    const last = (stdout: string) => stdout.trimEnd().split('\n').at(-1) as string;
    expect(last(a.stdout)).toBe(last(b.stdout));
    const summary = JSON.parse(last(a.stdout));
    for (const key of [
      'nodes',
      'domains',
      'byzantineFraction',
      'byzantineShareInSamples',
      'byzantineShareBaseline',
      'clusteredFraction',
      'lookupSuccess',
      'lookupHopsP50',
      'lookupHopsP99',
      'blipEpsilon',
      'optedOutLeaked',
    ])
      expect(summary).toHaveProperty(key);
    expect(summary.nodes).toBe(100);
    expect(summary.lookups).toBe(20);
    expect(a.stdout).toMatch(/wallSeconds/);
  }, 150_000);

  it('refuses an unknown scenario with a usage message and exit code 2', async () => {
    const failure = await run(
      process.execPath,
      ['--conditions=@netmachine/source', '--import', 'tsx', cli, 'nope'],
      {
        timeout: 60_000,
      },
    ).catch((error: { code: number; stderr: string }) => error);
    expect((failure as { code: number }).code).toBe(2);
    expect((failure as { stderr: string }).stderr).toContain('unknown scenario nope');
  });
  it('refuses --html for a scenario that records no replay instead of ignoring it', async () => {
    const failure = await run(
      process.execPath,
      [
        '--conditions=@netmachine/source',
        '--import',
        'tsx',
        cli,
        'pubsub-tree',
        '--nodes',
        '50',
        '--html',
        'x.html',
      ],
      { timeout: 60_000 },
    ).catch((error: { code: number; stderr: string }) => error);
    expect((failure as { code: number }).code).toBe(2);
    expect((failure as { stderr: string }).stderr).toContain('overlay scenario only');
  });
});
