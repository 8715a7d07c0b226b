import '../polyfills.js';
import { roles } from '../roles/index.js';
import { processControl } from './control.js';
import { type ControlMessage, Inbox, type RunMessage } from './messages.js';
import { type ProbeRequest, probeReport, watchGc } from './probe.js';

// A worker process: plays the one role the parent names, reporting over IPC, then exits.

const inbox = new Inbox();
const control = processControl(inbox);

function fail(error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error));
  const message: ControlMessage = { type: 'error', data: { message: err.message, stack: err.stack } };
  if (process.send === undefined || !process.connected) process.exit(1);
  process.send(message, () => process.exit(1));
}

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
process.on('disconnect', () => process.exit(0));

async function play(run: RunMessage['data']): Promise<void> {
  const role = roles[run.role];
  if (role === undefined) throw new Error(`unknown role ${run.role}`);
  await role(run.params, control);
}

// BENCH_VERBOSE: the parent probes workers at the start and end of the measured window.
if (process.env.BENCH_VERBOSE) watchGc();

process.on('message', (message: ControlMessage) => {
  if (message.type === 'probe') {
    // Answered here, whatever the role is awaiting: the probe must not wait behind it.
    if (process.connected)
      process.send?.({
        type: 'probe',
        data: probeReport(message.data as ProbeRequest),
      } satisfies ControlMessage);
    return;
  }
  if (message.type !== 'run') {
    inbox.put(message);
    return;
  }
  play((message as RunMessage).data).then(() => {
    if (process.send === undefined || !process.connected) process.exit(0);
    process.send({ type: 'exit' } satisfies ControlMessage, () => process.exit(0));
  }, fail);
});
