// A listener of the transport under test in its own process, for the compliance suite's cross-process
// cases: it echoes what it receives, prefixed with `echo:`, to the callers it accepts.
// Argument: JSON {module, factory, options, listenAddress, allowed}. Prints one JSON line
// {address, node} once listening; closes its transport and exits on SIGTERM.
import { KeyPair, noopLogger, type Transport, type TransportContext } from '@netmachine/core';

interface Spec {
  /** URL of the module that exports the transport factory. */
  readonly module: string;
  /** Its export: `(options) => (context) => Transport`. */
  readonly factory: string;
  readonly options?: Record<string, unknown>;
  readonly listenAddress: string;
  /** The only node accepted. */
  readonly allowed: string;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
const exported = (await import(spec.module)) as Record<
  string,
  (options?: Record<string, unknown>) => (context: TransportContext) => Transport
>;
const makeFactory = exported[spec.factory];
if (makeFactory === undefined) throw new Error(`${spec.module} has no export ${spec.factory}`);
const keyPair = KeyPair.generate();
const transport = makeFactory(spec.options)({ keyPair, logger: noopLogger });
const listener = await transport.listen(
  spec.listenAddress,
  (connection) => {
    connection.setHandlers({
      onData: (chunk) => connection.write(Buffer.concat([Buffer.from('echo:'), chunk])),
      onDrain: () => {},
      onClose: () => {},
    });
  },
  { acceptPeer: (node) => node === spec.allowed },
);
process.stdout.write(`${JSON.stringify({ address: listener.addresses[0], node: keyPair.id })}\n`);
process.on('SIGTERM', () => {
  void transport.close().then(() => process.exit(0));
});
