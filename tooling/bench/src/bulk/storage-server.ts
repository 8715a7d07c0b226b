// The serving side of storage-fetch: a storage node over TLS that puts FILE into its lmdb store under
// DIR, prints one JSON line {advert, reference} once the put is durable, and serves until SIGTERM.
import { formatReference } from '@netmachine/storage';
import { startStorageNode } from './storage-node.js';

const [dir, file] = process.argv.slice(2);
if (dir === undefined || file === undefined) throw new Error('usage: storage-server DIR FILE');
const node = await startStorageNode(dir);
const reference = await node.services.storage.put(file);
process.stdout.write(
  `${JSON.stringify({ advert: node.advertText, reference: formatReference(reference) })}\n`,
);
process.once('SIGTERM', () => {
  node.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
