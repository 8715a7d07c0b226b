/**
 * Loaded with `--import` into every process of a `relay-trace` run (BENCH_TRACE_DIR set): records,
 * on the shared monotonic clock, when this process starts a socket write (W), when that write call
 * returns (w) and when a socket hands it data (D). On exit it writes them, with its role (the first
 * argument: client, server, or none for the relay), to `<BENCH_TRACE_DIR>/<pid>.json`. Bounded: the
 * first 600,000 events are kept.
 */
import { writeFileSync } from 'node:fs';
import { Socket } from 'node:net';

const MAX_EVENTS = 600_000;
/** Event codes in the trace file (`relay-trace` reads them). */
const WRITE_START = 1;
const WRITE_END = 2;
const DATA = 3;

const dir = process.env.BENCH_TRACE_DIR;
if (dir !== undefined) {
  const kinds = new Uint8Array(MAX_EVENTS);
  const times = new Float64Array(MAX_EVENTS);
  let count = 0;
  const record = (kind: number): void => {
    if (count >= MAX_EVENTS) return;
    kinds[count] = kind;
    times[count++] = Number(process.hrtime.bigint()) / 1000;
  };
  const write = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, ...args: unknown[]): boolean {
    record(WRITE_START);
    const below = (write as (...a: unknown[]) => boolean).apply(this, args);
    record(WRITE_END);
    return below;
  } as typeof write;
  const emit = Socket.prototype.emit;
  Socket.prototype.emit = function (this: Socket, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data') record(DATA);
    return (emit as (...a: unknown[]) => boolean).call(this, event, ...args);
  } as typeof emit;
  process.on('exit', () => {
    const role = process.argv[2] === 'client' || process.argv[2] === 'server' ? process.argv[2] : 'relay';
    const trace = {
      role,
      kinds: Array.from(kinds.subarray(0, count)),
      times: Array.from(times.subarray(0, count)),
    };
    writeFileSync(`${dir}/${process.pid}.json`, JSON.stringify(trace));
  });
}
