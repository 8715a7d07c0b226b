import type { NodeId } from '@netmachine/core';
import { gatedRouter, type RunnerRouter } from '@netmachine/overlay';
import type { Router } from '@netmachine/router';

/**
 * The router as an overlay's runner sees it. The overlay may name a member whose advert (its
 * addresses) travels in an announcement beside the overlay's own messages and is not in the
 * directory yet: `ensureAdvert` stores it first (it returns a promise then, undefined when there is
 * nothing to do), so the message is not dropped as undeliverable.
 */
export function advertFirstRouter(
  router: Router,
  ensureAdvert: (node: NodeId) => Promise<unknown> | undefined,
): RunnerRouter {
  return gatedRouter(router, (node) => ensureAdvert(node));
}
