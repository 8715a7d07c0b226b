export { BatchSigner, type BatchSignerOptions, signBatch, type UnsignedEvent } from './batch-signer.js';
export { type BatchCheck, BatchVerifier, type BatchVerifierOptions } from './batch-verifier.js';
export { MalformedTreeEventError } from './errors.js';
export {
  BATCH_CONTEXT,
  decodeTreeEvent,
  MAX_TREE_PAYLOAD,
  type TreeEvent,
  type TreeEventFields,
  treeEventId,
} from './tree-event.js';
