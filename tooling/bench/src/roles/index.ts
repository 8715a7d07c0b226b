import type { Control } from '../process/control.js';
import { connectClient, connectServer } from './connect.js';
import { local } from './local.js';
import { idleHub, idlePeers, soakReceiver, soakSender } from './memory.js';
import { echoServer, requestClient } from './request.js';
import { receiver, sender } from './unicast.js';
import { signer, verifier } from './verify.js';

// biome-ignore lint/suspicious/noExplicitAny: each role validates its own parameters from the parent
type Role = (params: any, control: Control) => Promise<void>;

/** Every role a worker process can play, by the name the parent uses. */
export const roles: Record<string, Role> = {
  receiver,
  sender,
  'echo-server': echoServer,
  'request-client': requestClient,
  'connect-server': connectServer,
  'connect-client': connectClient,
  local,
  verifier,
  signer,
  'idle-hub': idleHub,
  'idle-peers': idlePeers,
  'soak-receiver': soakReceiver,
  'soak-sender': soakSender,
};
