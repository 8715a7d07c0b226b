export * from './certificate.js';
export * from './memory-transport.js';
