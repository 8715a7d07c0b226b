import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type Chromium,
  chromiumMissing,
  launchChromium,
  withScreenshotOnFailure,
} from '@netmachine/browser-testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { replayHtml } from '../src/replay/replay-html.js';
import { runOverlayScenario } from '../src/scenarios/overlay.js';

describe.skipIf(chromiumMissing !== undefined)('the simulation replay page in chromium', () => {
  let chromium: Chromium;
  let dir: string;

  beforeAll(async () => {
    chromium = await launchChromium();
    dir = await mkdtemp(join(tmpdir(), 'sim-replay-'));
  }, 60_000);

  afterAll(async () => {
    await chromium?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loads from a file with no network and plays the overlay, the crash and the repair to the end', async () => {
    const result = runOverlayScenario({ nodes: 300, seed: 3, crashFractions: [0.5], recordFrames: 120 });
    const frames = result.runs[0]?.frames ?? [];
    expect(frames.length).toBeGreaterThan(5);
    const file = join(dir, 'replay.html');
    await writeFile(file, replayHtml(result, { frameMs: 40 }));

    const page = await chromium.browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) requests.push(r.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await withScreenshotOnFailure(page, 'sim-replay', async () => {
      await page.goto(pathToFileURL(file).href);
      await vi.waitFor(
        async () => expect(await page.locator('body').getAttribute('data-state')).toBe('ended'),
        { timeout: 20_000, interval: 100 },
      );
      expect(await page.locator('body').getAttribute('data-frame')).toBe(String(frames.length - 1));
      expect(await page.locator('#now').textContent()).toContain('after the crash');
      // Keyboard: the slider moves frame by frame.
      await page.locator('#time').focus();
      await page.keyboard.press('Home');
      await expect.poll(() => page.locator('body').getAttribute('data-frame')).toBe('0');
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
    });
    await page.close();
  }, 60_000);
});
