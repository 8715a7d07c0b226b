import type { ControlMessage, Inbox } from './messages.js';

/** A role's side of the IPC channel to the parent. */
export interface Control {
  emit(type: string, data?: unknown): void;
  next<T>(type: string, timeoutMs?: number): Promise<T>;
}

/** Roles run until the parent sends `stop` (or longer): generous, but never forever. */
const DEFAULT_TIMEOUT_MS = 10 * 60_000;

export function processControl(inbox: Inbox): Control {
  return {
    emit(type, data) {
      process.send?.({ type, data } satisfies ControlMessage);
    },
    next(type, timeoutMs = DEFAULT_TIMEOUT_MS) {
      return inbox.next(type, timeoutMs);
    },
  };
}
