import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ExitCode, exitCodeFor } from './output.js';

// Commands load their modules when run: `--help` or `status` need not load transports and stores.
const control = () => import('./control-commands.js');
const nodeCommands = () => import('./node-commands.js');
const domainCommands = () => import('./domain-commands.js');

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function integer(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const dirOption = () => new Option('-d, --dir <dir>', 'the node’s state directory').makeOptionMandatory();
const jsonOption = () => new Option('--json', 'machine-readable output');

export function buildProgram(): Command {
  const program = new Command('netmachine')
    .description('Run and talk to a netmachine node')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('init')
    .description('make a key (mode 0600) and a config in a new state directory; print the node’s advert')
    .addOption(dirOption())
    .option(
      '-l, --listen <url>',
      'listen address, repeatable (default tls and quic on free loopback ports)',
      collect,
    )
    .option('-n, --name <name>', 'a human name for the node')
    .addOption(jsonOption())
    .action(async (o) => (await nodeCommands()).initCommand(o));

  program
    .command('advert')
    .description('print this node’s signed NodeAdvert (one pasteable line)')
    .addOption(dirOption())
    .addOption(jsonOption())
    .action(async (o) => (await nodeCommands()).advertCommand(o));

  const peer = program.command('peer').description('manage known peers');
  peer
    .command('add')
    .description('verify a NodeAdvert and add the node to the config')
    .argument('<advert>', 'the peer’s advert (nmadvert1.…)')
    .addOption(dirOption())
    .option('--trust <n>', 'trust 0–255 (0 bans)', integer)
    .option('--ephemeral', 'connect on demand instead of keeping a permanent connection')
    .addOption(jsonOption())
    .action(async (advert, o) => (await nodeCommands()).peerAddCommand(advert, o));

  program
    .command('start')
    .description('run the node in the foreground; SIGINT/SIGTERM stop it cleanly')
    .addOption(dirOption())
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS))
    .action(async (o) => (await import('./start.js')).startCommand(o));

  program
    .command('status')
    .description('show a running node’s state')
    .addOption(dirOption())
    .addOption(jsonOption())
    .action(async (o) => (await control()).statusCommand(o));

  program
    .command('map')
    .description('print the URL of a running node’s live map page (loopback only; opens nothing)')
    .addOption(dirOption())
    .addOption(jsonOption())
    .action(async (o) => (await control()).mapCommand(o));

  program
    .command('send')
    .description('send a message (BODY is JSON, or else a string) to an engine: NAME or NAME@NODE')
    .argument('<dst>')
    .argument('<body>')
    .addOption(dirOption())
    .option('--protocol <name>', 'protocol name of the body')
    .addOption(jsonOption())
    .action(async (dst, body, o) => (await control()).sendCommand(dst, body, o));

  program
    .command('request')
    .description('send a request and print the reply body (DST NAME@domain:DOMAIN: any member running NAME)')
    .argument('<dst>')
    .argument('<body>')
    .addOption(dirOption())
    .option('--protocol <name>', 'protocol name of the body')
    .option('--timeout <ms>', 'reply timeout in ms', integer)
    .addOption(jsonOption())
    .action(async (dst, body, o) => (await control()).requestCommand(dst, body, o));

  const topic = program.command('topic').description('manage topics');
  topic
    .command('create')
    .description('create a topic published by this node’s control engine; print its id')
    .addOption(dirOption())
    .addOption(jsonOption())
    .action(async (o) => (await control()).topicCreateCommand(o));

  program
    .command('pub')
    .description('publish BODY to a topic created on this node')
    .argument('<topic>')
    .argument('<body>')
    .addOption(dirOption())
    .addOption(jsonOption())
    .action(async (t, body, o) => (await control()).pubCommand(t, body, o));

  program
    .command('sub')
    .description('print a topic’s events as JSON lines')
    .argument('<topic>')
    .addOption(dirOption())
    .option('-c, --count <n>', 'exit after N events', integer)
    .addOption(jsonOption())
    .action(async (t, o) => (await control()).subCommand(t, o));

  const domain = program.command('domain').description('create, join and inspect domains');
  domain
    .command('create')
    .description(
      'make a domain key (0600) and add the domain to the config; print its ticket if the node runs',
    )
    .addOption(dirOption())
    .requiredOption('-n, --name <name>', 'the domain’s name')
    .addOption(
      new Option('--policy <policy>', 'who may join')
        .choices(['open', 'invite', 'allow', 'secret'])
        .default('open'),
    )
    .option('--node <id>', 'a node allowed to join (allow) or to sign invites (invite); repeatable', collect)
    .option('--protocol <engine>', 'an engine the domain runs (anycast reaches it); repeatable', collect)
    .option('--secret <text>', 'the shared secret (policy secret)')
    .addOption(jsonOption())
    .action(async (o) => (await domainCommands()).domainCreateCommand(o));
  domain
    .command('join')
    .description('join a domain by its ticket (kept in the config: the node rejoins when it starts)')
    .argument('<ticket>', 'the domain’s ticket (nmdomain1.…)')
    .addOption(dirOption())
    .option('--secret <text>', 'the shared secret (policy secret; only a proof is sent)')
    .option('--invite <token>', 'an invite (nminvite1.…) for an invite-only domain')
    .option('--observe', 'only learn the domain’s members, to send them anycast requests')
    .addOption(jsonOption())
    .action(async (ticket, o) => (await domainCommands()).domainJoinCommand(ticket, o));
  domain
    .command('leave')
    .description('leave a domain (a signed leave goes to the members) and drop it from the config')
    .argument('<domain>')
    .addOption(dirOption())
    .addOption(jsonOption())
    .action(async (d, o) => (await domainCommands()).domainLeaveCommand(d, o));
  domain
    .command('list')
    .description('the domains this node is in or knows, with their views')
    .addOption(dirOption())
    .addOption(jsonOption())
    .action(async (o) => (await domainCommands()).domainListCommand(o));
  domain
    .command('members')
    .description('the members of a domain this node knows (active view first)')
    .argument('<domain>')
    .addOption(dirOption())
    .addOption(jsonOption())
    .action(async (d, o) => (await domainCommands()).domainMembersCommand(d, o));
  domain
    .command('ticket')
    .description('print a domain’s ticket (its signed advert and its seeds’ adverts)')
    .argument('<domain>')
    .addOption(dirOption())
    .addOption(jsonOption())
    .action(async (d, o) => (await domainCommands()).domainTicketCommand(d, o));
  domain
    .command('invite')
    .description('sign an invite to an invite-only domain (needs the domain key or an admin node)')
    .argument('<domain>')
    .addOption(dirOption())
    .option('--for <node>', 'the one node the invite admits')
    .addOption(jsonOption())
    .action(async (d, o) => (await domainCommands()).domainInviteCommand(d, o));

  program
    .command('put')
    .description('store FILE in the node’s block store; print its reference (the capability to read it)')
    .argument('<file>')
    .addOption(dirOption())
    .addOption(jsonOption())
    .action(async (file, o) => (await control()).putCommand(file, o));

  program
    .command('get')
    .description('fetch an object by reference from peers, verifying every chunk, and write it to --out')
    .argument('<reference>', 'nmref1.…')
    .addOption(dirOption())
    .requiredOption('-o, --out <file>', 'where to write the object')
    .option('--from <node>', 'fetch from this node (repeatable; default: every connected node)', collect)
    .addOption(jsonOption())
    .action(async (ref, o) => (await control()).getCommand(ref, o));

  program
    .command('demo')
    .description('run a three-node network on loopback and show traffic flowing (Ctrl-C stops it)')
    .option('--duration <seconds>', 'stop after this many seconds', integer)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('warn'))
    .addOption(jsonOption())
    .action(async (o) => (await import('./demo.js')).demoCommand(o));

  return program;
}

/** Runs the command line; resolves with the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Invalid;
    }
    process.stderr.write(`netmachine: ${(error as Error).message}\n`);
    return exitCodeFor(error);
  }
}
