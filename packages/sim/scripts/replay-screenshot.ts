// Screenshot of a replay page at its last frame, for the docs:
//   pnpm sim overlay --nodes 10000 --crash 0.5 --html /tmp/replay.html
//   node --import tsx packages/sim/scripts/replay-screenshot.ts /tmp/replay.html docs/map-sim-replay.png
import { pathToFileURL } from 'node:url';
import { launchChromium } from '@netmachine/browser-testing';

const [file, out] = process.argv.slice(2);
if (!file || !out) throw new Error('usage: replay-screenshot.ts REPLAY.html OUT.png');
const chromium = await launchChromium();
try {
  const page = await chromium.browser.newPage();
  await page.setViewportSize({ width: 1200, height: 800 });
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-state="ended"]', { state: 'attached', timeout: 60_000 });
  await page.locator('#time').focus();
  await page.keyboard.press('End');
  await page.screenshot({ path: out });
} finally {
  await chromium.close();
}
