import {
  type Chromium,
  chromiumMissing,
  launchChromium,
  withScreenshotOnFailure,
} from '@netmachine/browser-testing';
import type { NodeId } from '@netmachine/core';
import { type DomainService, domains } from '@netmachine/domain';
import { type PubSubEngine, pubsub } from '@netmachine/pubsub';
import { tls } from '@netmachine/transport-tls';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { domainViews } from '../src/map/domain-views.js';
import { PeerLinks } from '../src/map/peer-links.js';
import type { MapSnapshot } from '../src/map/snapshot.js';
import { pubsubTopics } from '../src/map/topics.js';
import { MetricsServer } from '../src/metrics.js';
import { createNode, type NetmachineNode } from '../src/node.js';
import { nodeStatus } from '../src/status.js';

// The map page in a real browser against a real three-node network on loopback.
describe.skipIf(chromiumMissing !== undefined)('the node map page in chromium', () => {
  let chromium: Chromium;
  type Node = NetmachineNode<{ pubsub: PubSubEngine; domains: DomainService }>;
  const nodes: Node[] = [];
  let metrics: MetricsServer;
  let traffic: NodeJS.Timeout | undefined;
  let links: PeerLinks | undefined;

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const node = await createNode({
        config: { name: `n${i + 1}`, listen: ['tls://127.0.0.1:0'] },
        transports: [tls()],
        services: { pubsub: pubsub(), domains: domains() },
      });
      if (i === 0) links = new PeerLinks(node.peers.events);
      await node.start();
      nodes.push(node);
    }
    const [a, b, c] = nodes as [Node, Node, Node];
    await a.addPeer(b.advert, { permanent: true });
    await a.addPeer(c.advert, { permanent: true });
    metrics = new MetricsServer('127.0.0.1:0', () => nodeStatus(a), a.logger, {
      mapIntervalMs: 250,
      links: (peer) => links?.get(peer as NodeId),
      topics: () => pubsubTopics(a.services.pubsub, a.id),
      domains: () => domainViews(a.services.domains),
    });
    await metrics.start();
    chromium = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    clearInterval(traffic);
    await chromium?.close();
    await metrics?.stop();
    links?.close();
    for (const node of nodes) await node.stop();
  });

  const count = async (page: Page, testid: string) =>
    Number((await page.getByTestId(testid).textContent())?.replace(/,/g, ''));

  it('shows the two peers, moving counts, and drops a killed peer', async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    const page = await chromium.browser.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') violations.push(m.text());
    });
    await withScreenshotOnFailure(page, 'node-map', async () => {
      const response = await page.goto(`http://${metrics.address}/map`);
      expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
      await expect.poll(() => page.locator('#peers tr').count()).toBe(2);
      await expect.poll(() => count(page, 'peer-count')).toBe(2);
      const rows = await page
        .locator('#peers tr')
        .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-peer')));
      expect(rows.sort()).toEqual([b.id, c.id].sort());
      // a dialled both: each row says so, and over which transport
      await expect.poll(() => page.locator('#peers tr', { hasText: 'by us' }).count()).toBe(2);
      expect(await page.locator('#peers tr', { hasText: 'tls' }).count()).toBe(2);

      const client = a.client('map-test');
      traffic = setInterval(() => {
        for (const peer of [b, c]) {
          if (peer.running) client.request({ node: peer.id, name: 'router' }, 'ping').catch(() => {});
        }
      }, 20);
      const before = await count(page, 'sent');
      await vi.waitFor(async () => expect(await count(page, 'sent')).toBeGreaterThan(before + 5), {
        timeout: 20_000,
        interval: 100,
      });
      const later = await count(page, 'sent');
      await vi.waitFor(async () => expect(await count(page, 'sent')).toBeGreaterThan(later), {
        timeout: 20_000,
        interval: 100,
      });

      // Per-peer rates: a's requests to each peer show as messages and bytes out a second on its row.
      const peerRates = async (peer: Node, column: number) => {
        const cell = await page
          .locator(`#peers tr[data-peer="${peer.id}"] td:nth-child(${column})`)
          .textContent();
        return (cell ?? '').split(' · ').map((n) => Number(n.replace(/,/g, '')));
      };
      for (const peer of [b, c]) {
        await vi.waitFor(
          async () => {
            const [msgsIn, msgsOut] = await peerRates(peer, 7);
            const [bytesIn, bytesOut] = await peerRates(peer, 8);
            expect(msgsOut).toBeGreaterThan(0);
            expect(msgsIn).toBeGreaterThan(0); // the replies
            expect(bytesOut).toBeGreaterThan(0);
            expect(bytesIn).toBeGreaterThan(0);
          },
          { timeout: 20_000, interval: 100 },
        );
      }

      // A topic a publishes and b subscribes to shows with its one subscriber node.
      const { topic } = a.services.pubsub.createTopic({ publisher: 'map-test' });
      b.client('watcher', () => {}).subscribe(topic);
      await expect
        .poll(() => page.locator(`#topics tr[data-topic="${topic}"] td:nth-child(3)`).textContent())
        .toBe('1');
      // Events a publishes show as a rate on the publisher's own row.
      const publishing = setInterval(() => client.publish(topic, 'tick'), 20);
      try {
        await expect
          .poll(async () =>
            Number(
              (
                (await page.locator(`#topics tr[data-topic="${topic}"] td:nth-child(4)`).textContent()) ?? ''
              ).replace(/,/g, ''),
            ),
          )
          .toBeGreaterThan(0);
      } finally {
        clearInterval(publishing);
      }

      // A domain a created and b joined shows with b in a's active view.
      const { id: domain } = await a.services.domains.create({ name: 'research' });
      await b.services.domains.join(a.services.domains.ticket(domain));
      await expect
        .poll(() => page.locator(`#domains p[data-domain="${domain}"]`).textContent())
        .toMatch(/research .* active view 1 \(/);

      if (process.env.MAP_SCREENSHOTS) {
        await page.setViewportSize({ width: 1200, height: 760 });
        await page.locator('#graph').focus();
        await page.keyboard.press('ArrowRight');
        await page.screenshot({ path: `${process.env.MAP_SCREENSHOTS}/map-node.png` });
      }

      await c.stop();
      await vi.waitFor(
        async () => {
          const shown = await page
            .locator('#peers tr')
            .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-peer')));
          expect(shown).toEqual([b.id]);
        },
        { timeout: 20_000, interval: 100 },
      );
      expect(violations.filter((v) => /Content Security Policy/i.test(v))).toEqual([]);
    });
    await page.close();
  }, 60_000);

  it('draws the nodes it knows of without a link on a lighter second ring', async () => {
    // A real snapshot with three extra edges (domain members or publishers this node has no link to).
    const real = (await (await fetch(`http://${metrics.address}/map.json`)).json()) as MapSnapshot;
    const known = ['far-member-1', 'far-member-2', 'far-publisher'];
    const snapshot = { ...real, edges: [...real.edges, ...known.map((id) => [real.self.id, id])] };
    const page = await chromium.browser.newPage();
    await withScreenshotOnFailure(page, 'node-map-second-ring', async () => {
      await page.route('**/map/events', (route) =>
        route.fulfill({
          headers: { 'content-type': 'text/event-stream' },
          body: `event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`,
        }),
      );
      await page.goto(`http://${metrics.address}/map`);
      // Pixels in the second ring's colour (#8fb3d9); the test has no DOM types, so the probe is a string.
      const outerPixels = () =>
        page.evaluate<number>(`(() => {
          const canvas = document.getElementById('graph');
          const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          let n = 0;
          for (let i = 0; i < data.length; i += 4) {
            if (data[i] === 0x8f && data[i + 1] === 0xb3 && data[i + 2] === 0xd9) n++;
          }
          return n;
        })()`);
      await expect.poll(outerPixels).toBeGreaterThan(3 * 20);
    });
    await page.close();
  }, 30_000);
});
