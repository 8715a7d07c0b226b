import { NetmachineError } from '@netmachine/core';

/** A configuration file that is missing, unreadable or invalid; names the field and the problem. */
export class ConfigError extends NetmachineError {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super('ERR_CONFIG', `invalid configuration ${file}:\n  ${problems.join('\n  ')}`);
  }
}

/** The control endpoint of a node could not be reached (not running, or another user's). */
export class ControlUnavailableError extends NetmachineError {
  constructor(
    readonly socket: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_CONTROL_UNAVAILABLE', `no running node answers on ${socket}`, options);
  }
}

/** A request to the control endpoint failed on the node's side. */
export class ControlRequestError extends NetmachineError {
  constructor(
    readonly remoteCode: string,
    message: string,
  ) {
    super('ERR_CONTROL_REQUEST', `${remoteCode}: ${message}`);
  }
}

/** A state directory holds a node already (`init` refuses to overwrite a key). */
export class NodeDirectoryExistsError extends NetmachineError {
  constructor(readonly dir: string) {
    super('ERR_NODE_DIR_EXISTS', `${dir} already holds a node (key file present)`);
  }
}

/** A package the config asks for (a transport or service) is not installed. */
export class OptionalPackageMissingError extends NetmachineError {
  constructor(
    readonly packageName: string,
    options?: { cause?: unknown },
  ) {
    super(
      'ERR_OPTIONAL_PACKAGE_MISSING',
      `${packageName} is not installed (add it to use what the config names)`,
      options,
    );
  }
}

/** A control request needs a service this node does not run. */
export class ServiceNotRunningError extends NetmachineError {
  constructor(readonly service: string) {
    super('ERR_SERVICE_NOT_RUNNING', `this node does not run the ${service} service`);
  }
}

/** `netmachine map` asked a node whose metrics endpoint (which serves the map) is off. */
export class MapUnavailableError extends NetmachineError {
  constructor() {
    super('ERR_MAP_UNAVAILABLE', 'this node runs without its metrics endpoint (metrics: false), so no map');
  }
}
