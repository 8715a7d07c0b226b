import { NetmachineError } from '@netmachine/core';
import { ConfigError, ControlUnavailableError } from '../errors.js';

/** Exit codes scripts can rely on. */
export const ExitCode = {
  Ok: 0,
  /** The operation failed: timeout, unknown destination, refused, … */
  Failed: 1,
  /** Bad usage, invalid config, invalid advert or key. */
  Invalid: 2,
  /** No running node answers on the control socket. */
  NotRunning: 3,
} as const;

/** Thrown by commands to end with a message and an exit code. */
export class CliExit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof CliExit) return error.code;
  if (error instanceof ControlUnavailableError) return ExitCode.NotRunning;
  if (error instanceof ConfigError) return ExitCode.Invalid;
  if (error instanceof NetmachineError) {
    return /SCHEMA|INVALID|MALFORMED|IDENTITY|KEY_FILE|SIGNATURE|ADVERT/.test(error.code)
      ? ExitCode.Invalid
      : ExitCode.Failed;
  }
  return ExitCode.Failed;
}

/** A body given on the command line: JSON when it parses as JSON, else the string itself. */
export function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function print(value: unknown, json: boolean, human?: (v: never) => string): void {
  const out = json || human === undefined ? JSON.stringify(value) : human(value as never);
  process.stdout.write(`${out}\n`);
}
