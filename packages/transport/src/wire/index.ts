// The node-to-node wire protocol: frames, the handshake, and the Message frame encoder and decoder.
// For tools that speak the protocol directly (hostile-peer tests, benchmarks) and for packages that
// encode a body once for many links (pubsub's fan-out, through `packPlain`).

export { decodeLinkFrame, encodeMessageFrame } from '../link-frames.js';
export {
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  encodeRawFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  type FrameHandler,
  type FrameSpanHandler,
} from './frame-codec.js';
export {
  FramePool,
  type FramePoolOptions,
  type FramePoolStats,
  MIN_POOLED_FRAME_BYTES,
  sharedFramePool,
} from './frame-pool.js';
export { FrameSlab } from './frame-slab.js';
export {
  type ConnectErrorKind,
  type ConnectReply,
  type ConnectRequest,
  decodeAdvertFrameBody,
  decodeConnectReply,
  decodeConnectRequest,
  decodeFrameBody,
  decodeGoodbye,
  decodePing,
  decodeWireMessage,
  encodeAdvertFrameBody,
  encodeConnectReply,
  encodeConnectRequest,
  encodeGoodbye,
  FrameTag,
  type Goodbye,
  messageFromWire,
  messageToWire,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
  RELAY_FRAME_ENGINE,
  RELAY_FRAME_PROTOCOL,
  type WireMessage,
} from './frames.js';
export { LinkAddresses } from './link-addresses.js';
export { decodeMessageAt } from './message-frame.js';
export { packPlain } from './msgpack-writer.js';
export {
  MAX_POOLED_SLAB_BYTES,
  MIN_SLAB_BYTES,
  SlabPool,
  type SlabPoolOptions,
  type SlabPoolStats,
  sharedSlabPool,
} from './slab-pool.js';
