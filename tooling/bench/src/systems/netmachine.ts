import type { SystemFactory } from './types.js';

/**
 * netmachine as a benchmarked system. Filled in as the packages land; until then the parent reports
 * the subject as missing and never starts a worker for it.
 */
export const netmachine: SystemFactory = async () => {
  throw new Error('netmachine subject not implemented yet');
};
