import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';

/** Debian's chromium; tests never download a browser. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Why browser tests skip, or undefined when they run. Outside CI a machine without chromium skips them
 * with this message; in CI (`CI` set) a missing browser is a failure, not a skip.
 */
export const chromiumMissing: string | undefined =
  existsSync(CHROMIUM) || process.env.CI
    ? undefined
    : `browser tests skipped: no chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
if (chromiumMissing) console.warn(chromiumMissing);

export interface Chromium {
  /** A context with a fresh profile (its own --user-data-dir). */
  readonly browser: BrowserContext;
  close(): Promise<void>;
}

/** Headless chromium with a fresh profile and nothing that reaches the network by itself. */
export async function launchChromium(): Promise<Chromium> {
  const { chromium } = await import('playwright-core');
  const profile = await mkdtemp(join(tmpdir(), 'nm-chromium-'));
  // playwright passes the fresh profile as --user-data-dir itself.
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Runs `body`; when it fails, saves a screenshot of the page next to the test reports first. */
export async function withScreenshotOnFailure(page: Page, name: string, body: () => Promise<void>) {
  try {
    await body();
  } catch (error) {
    const file = join(process.cwd(), '.tmp', 'browser-failures', `${name}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.error(`browser test failed; screenshot: ${file}`);
    throw error;
  }
}
