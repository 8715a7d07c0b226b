export { normalise, thrown } from '../../../core/test/helpers.js';
