import type { NodeAdvert, NodeId } from '@netmachine/core';
import { SharedLinks } from '@netmachine/overlay';
import type { DomainContext } from './context.js';
import { NotAMemberError } from './errors.js';
import type { MemberExchange } from './member-exchange.js';
import type { DomainState } from './membership.js';
import type { DomainMessenger } from './messenger.js';
import { DomainOverlay } from './overlay.js';
import { memberInfoToWire } from './records.js';
import { advertFirstRouter } from './runner-router.js';

/** How long an overlay connect waits for the peer's advert to arrive. */
const ADVERT_WAIT_MS = 3000;

/**
 * Every domain's overlay on this node: started for each domain it is a member of, over connections
 * shared between the overlays (a link stays up while any of them wants it), with the member checks
 * the overlays ask for and the view changes they report.
 */
export class DomainOverlays {
  private readonly links: SharedLinks;

  constructor(
    private readonly ctx: DomainContext,
    private readonly messenger: DomainMessenger,
    private readonly exchange: MemberExchange,
  ) {
    this.links = new SharedLinks({
      connect: (node, o) => this.connectMember(node, o),
      disconnect: (node) => this.ctx.options.links.disconnect(node),
    });
  }

  /** Starts the domain's overlay unless it has one. */
  async start(state: DomainState): Promise<void> {
    if (state.overlay !== undefined) return;
    const { options } = this.ctx;
    const overlay = new DomainOverlay(
      {
        domain: state.id,
        router: advertFirstRouter(options.router, (node) => {
          const advert = this.pendingAdvert(node);
          return advert && options.directory.offerNodeAdvert(advert).catch(() => false);
        }),
        transport: options.links,
        links: this.links,
        config: options.overlay,
        logger: this.ctx.logger,
      },
      {
        isMember: (node) => state.members.has(node) || state.admitted.has(node),
        verifyClaim: (node) => this.verifyClaim(state, node),
        refused: (node, dropped) => {
          for (let i = 0; i < dropped; i++)
            this.ctx.refuse('not-a-member', new NotAMemberError(state.id, node), state.id, node);
        },
        added: (node) => this.peerAdded(state, node),
        removed: (node) => {
          if (!state.active.delete(node)) return;
          this.ctx.counters.viewRemovals++;
          const lost = !options.links.connectedNodes().includes(node);
          this.ctx.events.emit({
            type: 'PeerRemovedFromView',
            domain: state.id,
            node,
            reason: lost ? 'disconnected' : 'replaced',
          });
          // A peer lost with its connection counts against it: after a few such losses it is forgotten.
          if (lost && state.fail(node))
            this.ctx.events.emit({ type: 'MemberRemoved', domain: state.id, node, reason: 'failed' });
        },
      },
    );
    state.overlay = overlay;
    await overlay.start();
  }

  /** A member's advert this node holds with its statement but not yet in the directory. */
  private pendingAdvert(node: NodeId): NodeAdvert | undefined {
    if (this.ctx.options.directory.node(node)?.advert !== undefined) return undefined;
    for (const state of this.ctx.states.values()) {
      const advert = state.members.get(node)?.advert;
      if (advert !== undefined) return advert;
    }
    return undefined;
  }

  /**
   * Connects an overlay peer. The overlay may name a member whose advert (its addresses) is still on
   * its way, in the announcement that travels beside the overlay's own messages: the advert kept with
   * the member's statement is used, or the connect waits a little for it.
   */
  private async connectMember(node: NodeId, options?: { permanent?: boolean }): Promise<void> {
    const directory = this.ctx.options.directory;
    for (let waited = 0; directory.node(node)?.advert === undefined && waited < ADVERT_WAIT_MS; ) {
      const known = this.pendingAdvert(node);
      if (known !== undefined) {
        await directory.offerNodeAdvert(known).catch(() => false);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
      waited += 50;
    }
    return this.ctx.options.links.connect(node, options);
  }

  /** Asks a peer that spoke in the overlay for its statement (it lists itself first). */
  private async verifyClaim(state: DomainState, node: NodeId): Promise<boolean> {
    if (state.removedAt(node) !== undefined) return false;
    const reply = await this.messenger.ask(node, { t: 'members', domain: state.id });
    if (reply.t !== 'members') return false;
    for (const pair of reply.members.slice(0, 1)) this.exchange.ingestPair(state, pair, node);
    return state.members.has(node);
  }

  private peerAdded(state: DomainState, node: NodeId): void {
    state.active.add(node);
    state.succeed(node);
    this.ctx.counters.viewAdds++;
    this.ctx.events.emit({ type: 'PeerAddedToView', domain: state.id, node });
    if (state.ownInfo !== undefined)
      this.messenger.sendTo(node, { t: 'neighbor', domain: state.id, info: memberInfoToWire(state.ownInfo) });
    this.messenger.sendTo(node, { t: 'sync', domain: state.id, members: this.exchange.sample(state, node) });
  }
}
