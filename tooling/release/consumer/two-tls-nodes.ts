import {
  KeyPair,
  type NodeAdvert,
  type NodeDirectory,
  type NodeId,
  type NodeRecordView,
  signNodeAdvert,
  TRUST_DEFAULT,
  verifyNodeAdvert,
} from '@netmachine/core';
import { Router } from '@netmachine/router';
import { TransportEngine } from '@netmachine/transport';
import { tls } from '@netmachine/transport-tls';

// Known nodes: signed adverts (addresses + key), kept when newer. @netmachine/identity-store persists them.
class Directory implements NodeDirectory {
  readonly #records = new Map<NodeId, NodeRecordView>();
  node(id: NodeId) {
    return this.#records.get(id);
  }
  async offerNodeAdvert(advert: NodeAdvert) {
    verifyNodeAdvert(advert);
    if ((this.#records.get(advert.id)?.advert?.version ?? 0) >= advert.version) return false;
    this.#records.set(advert.id, { id: advert.id, advert, trust: TRUST_DEFAULT });
    return true;
  }
}

async function startNode() {
  const keyPair = KeyPair.generate();
  const directory = new Directory();
  const router = new Router({ node: keyPair.id });
  const transport = new TransportEngine({
    keyPair,
    directory,
    transports: [tls()],
    listen: ['tls://127.0.0.1:0'],
  });
  router.setNodeSender(transport);
  transport.setSink(router);
  await transport.start();
  const addrs = transport.listenAddresses.map((url) => ({ url, weight: 1 }));
  const advert = signNodeAdvert(keyPair, { addrs, version: 1, created: Date.now() });
  await directory.offerNodeAdvert(advert);
  return { router, transport, directory, advert };
}

const a = await startNode();
const b = await startNode();
await a.directory.offerNodeAdvert(b.advert); // a can now dial b, and pins b's key
b.router.spawn('echo', (msg, ctx) => ctx.reply(msg, { echoed: msg.body }));
const reply = await a.router.client('cli').request({ node: b.advert.id, name: 'echo' }, 'hello');
console.log(JSON.stringify(reply.body)); // {"echoed":"hello"}
for (const node of [a, b]) {
  await node.router.stop();
  await node.transport.stop();
}
