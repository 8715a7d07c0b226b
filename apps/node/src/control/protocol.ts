/**
 * The control protocol: newline-delimited JSON over a unix socket that only the node's user can
 * open. One request per line; a response (or a stream of events, then a response) per request id.
 */
export interface ControlRequest {
  readonly id: number;
  readonly op: string;
  readonly args?: Record<string, unknown>;
}

export type ControlResponse =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { code: string; message: string } }
  | { readonly id: number; readonly event: unknown };

/** A line longer than this closes the connection: the endpoint never buffers without bound. */
export const MAX_CONTROL_LINE = 4 * 1024 * 1024;

/** Splits a byte stream into lines, refusing over-long ones. */
export class LineSplitter {
  private pending = '';

  constructor(private readonly onLine: (line: string) => void) {}

  /** Returns false when a line exceeded MAX_CONTROL_LINE (the caller closes the connection). */
  push(chunk: string): boolean {
    this.pending += chunk;
    let index = this.pending.indexOf('\n');
    while (index >= 0) {
      const line = this.pending.slice(0, index);
      this.pending = this.pending.slice(index + 1);
      if (line.length > 0) this.onLine(line);
      index = this.pending.indexOf('\n');
    }
    return this.pending.length <= MAX_CONTROL_LINE;
  }
}
