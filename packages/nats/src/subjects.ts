import type { NodeId } from '@netmachine/core';

/** The default first token of every subject the bridge uses. */
export const DEFAULT_SUBJECT_PREFIX = 'nm';

/**
 * The NATS subjects of one node. NodeIds are lower-case base32, so they are always one subject token.
 * Engine names may contain `.`, the token separator: it becomes `~`, which names never contain,
 * so the mapping stays one-to-one and a name can never reach into another engine's subjects.
 */
export class Subjects {
  /** Processes announce (attach, heartbeat, detach) here, as NATS requests. */
  readonly attach: string;
  /** Processes send, request, reply and publish here; the bridge verifies and injects into the router. */
  readonly out: string;
  private readonly enginePrefix: string;

  constructor(
    readonly node: NodeId,
    readonly prefix = DEFAULT_SUBJECT_PREFIX,
  ) {
    this.attach = `${prefix}.${node}.attach`;
    this.out = `${prefix}.${node}.out`;
    this.enginePrefix = `${prefix}.${node}.e.`;
  }

  /** Messages to engine `name`; its processes subscribe with queue group `queueGroup(name)`. */
  engine(name: string): string {
    return this.enginePrefix + engineToken(name);
  }

  /** One queue group per engine name: each message goes to one of the processes attached as `name`. */
  queueGroup(name: string): string {
    return engineToken(name);
  }
}

export function engineToken(name: string): string {
  return name.replaceAll('.', '~');
}
