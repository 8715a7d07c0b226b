export type {
  Machine,
  MachineInput,
  MachineOutput,
  MessageDecoder,
  Millis,
  PeerId,
  ProtocolDefinition,
  Rng,
} from './protocol.js';
export { pick, seededRng, shuffleInPlace, Xoshiro128 } from './rng.js';
