export {
  type BlipCounts,
  type BlipParams,
  BlipParamsError,
  blipCounts,
  blipFilter,
  blipFilterBytes,
  blipFlipProbability,
  blipPositions,
  blipSimilarity,
  checkBlipParams,
  DEFAULT_BLIP_PARAMS,
  MAX_BLIP_BITS,
  MAX_BLIP_HASHES,
} from './blip.js';
export { DISCOVERY_PROTOCOLS } from './machines/protocols.js';
