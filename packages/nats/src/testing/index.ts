export { NatsCluster, type NatsClusterOptions } from './nats-cluster.js';
export { NatsServer, type NatsServerOptions } from './nats-server.js';
