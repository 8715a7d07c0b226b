export { DISCOVERY_PROTOCOLS } from './machines/protocols.js';
