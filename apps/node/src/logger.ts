import type { Logger } from '@netmachine/core';
import pino from 'pino';
import pretty from 'pino-pretty';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/**
 * The app's logger: structured JSON, pretty-printed when stderr is a terminal. Logs go to stderr so
 * that command output on stdout stays parseable.
 */
export function createLogger(
  level: LogLevel = 'info',
  options: { pretty?: boolean } = {},
): Logger & pino.Logger {
  const usePretty = options.pretty ?? process.stderr.isTTY === true;
  const stream = usePretty ? pretty({ destination: 2, colorize: true, sync: true }) : pino.destination(2);
  return pino({ level, base: undefined }, stream);
}
