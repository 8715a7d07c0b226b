export { decodesOrRejects, isUint, normalise, thrown } from '../../../core/test/helpers.js';
