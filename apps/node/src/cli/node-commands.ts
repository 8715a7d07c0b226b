import { access, mkdir } from 'node:fs/promises';
import { formatNodeAdvert, KeyPair, parseNodeAdvert, readKeyFile, writeKeyFile } from '@netmachine/core';
import { signOwnAdvert } from '@netmachine/node';
import { readConfig, readConfigInput, writeConfig } from '../config.js';
import { ControlClient } from '../control/client.js';
import { NodeDirectoryExistsError } from '../errors.js';
import { pinFreePorts } from '../free-ports.js';
import { nodePaths } from '../paths.js';
import { print } from './output.js';

export interface InitOptions {
  dir: string;
  listen?: string[];
  name?: string;
  json?: boolean;
}

/** Makes a key (0600) and a config in a new state directory, and prints the node's advert. */
export async function initCommand(options: InitOptions): Promise<void> {
  const paths = nodePaths(options.dir);
  if (await exists(paths.key)) throw new NodeDirectoryExistsError(paths.dir);
  const listen = await pinFreePorts(options.listen ?? ['tls://127.0.0.1:0', 'quic://127.0.0.1:0']);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const key = KeyPair.generate();
  // Validate before writing anything that could half-initialise the directory.
  const config = { ...(options.name ? { name: options.name } : {}), listen, peers: [] };
  await writeConfig(paths.config, config);
  await writeKeyFile(paths.key, key);
  const advert = formatNodeAdvert(signOwnAdvert(key, listen, options.name));
  print(
    { id: key.id, dir: paths.dir, listen, advert },
    options.json === true,
    (v: { advert: string }) => v.advert,
  );
}

/** Prints this node's advert: the running node's, or one signed now from the config. */
export async function advertCommand(options: { dir: string; json?: boolean }): Promise<void> {
  const paths = nodePaths(options.dir);
  let advert: string;
  try {
    const client = await ControlClient.connect(paths.controlSocket);
    try {
      advert = await client.call<string>('advert');
    } finally {
      client.close();
    }
  } catch {
    const config = await readConfig(paths.config);
    const key = await readKeyFile(paths.key);
    advert = formatNodeAdvert(signOwnAdvert(key, config.listen, config.name));
  }
  const parsed = parseNodeAdvert(advert);
  print(
    { id: parsed.id, version: parsed.version, addrs: parsed.addrs, advert },
    options.json === true,
    (v: { advert: string }) => v.advert,
  );
}

/** Validates an advert's signature and adds (or updates) the peer in the config. */
export async function peerAddCommand(
  advertText: string,
  options: { dir: string; trust?: number; ephemeral?: boolean; json?: boolean },
): Promise<void> {
  const paths = nodePaths(options.dir);
  const advert = parseNodeAdvert(advertText.trim());
  const config = await readConfigInput(paths.config);
  const key = await readKeyFile(paths.key);
  if (advert.id === key.id) throw new Error('that advert is this node’s own');
  const peers = (config.peers ?? []).filter((p) => parseNodeAdvert(p.advert).id !== advert.id);
  peers.push({
    advert: advertText.trim(),
    permanent: options.ephemeral !== true,
    ...(options.trust !== undefined ? { trust: options.trust } : {}),
  });
  await writeConfig(paths.config, { ...config, peers });
  print(
    { added: advert.id, addrs: advert.addrs.map((a) => a.url) },
    options.json === true,
    (v: { added: string }) => `added peer ${v.added}`,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
