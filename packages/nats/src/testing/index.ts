export { NatsServer, type NatsServerOptions } from './nats-server.js';
