import { readFile, rename, writeFile } from 'node:fs/promises';
import { ADVERT_LIMITS, parseNodeAdvert } from '@netmachine/core';
import * as v from 'valibot';
import { ConfigError } from './errors.js';

/** A URL scheme: which one a node serves is decided by the transports it is given (see createNode). */
const SCHEME = /^[a-z][a-z0-9+.-]*$/;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function isTransportUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return SCHEME.test(url.protocol.slice(0, -1)) && url.hostname !== '';
  } catch {
    return false;
  }
}

function isLoopbackHostPort(text: string): boolean {
  const match = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):(\d{1,5})$/.exec(text);
  return match !== null && Number(match[2]) <= 65535;
}

function isValidAdvert(text: string): boolean {
  try {
    parseNodeAdvert(text);
    return true;
  } catch {
    return false;
  }
}

const Url = v.pipe(
  v.string(),
  v.maxLength(ADVERT_LIMITS.urlLength),
  v.check(isTransportUrl, 'expected a transport URL such as tls://127.0.0.1:7100 or quic://127.0.0.1:7101'),
);
const Uint = v.pipe(v.number(), v.integer(), v.minValue(0));
const Positive = v.pipe(v.number(), v.integer(), v.minValue(1));

const PeerSchema = v.strictObject({
  advert: v.pipe(v.string(), v.check(isValidAdvert, 'expected a validly signed NodeAdvert (nmadvert1.…)')),
  /** Keep a connection up at all times (re-established after a loss). */
  permanent: v.optional(v.boolean(), true),
  trust: v.optional(v.pipe(Uint, v.maxValue(255)), 128),
});

const KeyText = v.pipe(v.string(), v.regex(/^[a-z2-7]{52}$/, 'expected a 52-character base32 key'));
const EngineName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9._:/-]{1,64}$/, 'expected an engine name'));

/**
 * A domain this node runs: one it created (its key file, relative to the state directory), one it
 * joins by ticket (with the secret or invite its policy asks for), or one it only knows (to send
 * anycast requests to its members).
 */
const DomainSchema = v.union([
  v.strictObject({
    create: v.strictObject({
      name: v.pipe(v.string(), v.maxLength(ADVERT_LIMITS.nameLength)),
      key: v.string(),
      policy: v.optional(v.picklist(['open', 'invite', 'allow', 'secret']), 'open'),
      /** Nodes allowed to join (policy allow) or to sign invites (policy invite). */
      nodes: v.optional(v.array(KeyText), []),
      protocols: v.optional(v.array(EngineName), []),
      secret: v.optional(v.string()),
    }),
  }),
  v.strictObject({
    join: v.pipe(v.string(), v.startsWith('nmdomain1.', 'expected a domain ticket (nmdomain1.…)')),
    secret: v.optional(v.string()),
    invite: v.optional(v.pipe(v.string(), v.startsWith('nminvite1.', 'expected an invite (nminvite1.…)'))),
  }),
  v.strictObject({
    know: v.pipe(v.string(), v.startsWith('nmdomain1.', 'expected a domain ticket (nmdomain1.…)')),
  }),
]);

export type DomainConfig = v.InferOutput<typeof DomainSchema>;

const RateSchema = v.strictObject({ messagesPerSecond: Positive, bytesPerSecond: Positive });

/**
 * Relays: what this node offers others (whom it relays for, at what rates), the relays it uses
 * (kept linked, advertised as `relay://<id>`), and whether its own listen addresses are advertised
 * (false for a node that cannot accept inbound connections).
 */
const RelaySchema = v.strictObject({
  offer: v.optional(
    v.strictObject({
      policy: v.union([
        v.literal('anyone'),
        v.strictObject({ allow: v.pipe(v.array(KeyText), v.minLength(1)) }),
        v.strictObject({ domains: v.pipe(v.array(KeyText), v.minLength(1)) }),
      ]),
      perSource: v.optional(RateSchema),
      total: v.optional(RateSchema),
      maxSources: v.optional(Positive),
      maxServed: v.optional(Positive),
      multiHop: v.optional(v.boolean(), false),
    }),
  ),
  use: v.optional(v.array(KeyText), []),
  advertiseListen: v.optional(v.boolean(), true),
});

export const ConfigSchema = v.strictObject({
  name: v.optional(v.pipe(v.string(), v.maxLength(ADVERT_LIMITS.nameLength))),
  listen: v.optional(v.pipe(v.array(Url), v.maxLength(ADVERT_LIMITS.addrs)), ['tls://127.0.0.1:0']),
  /** Transports to try, in order, when neither the message nor the node record says otherwise. */
  transports: v.optional(
    v.array(v.pipe(v.string(), v.regex(SCHEME, 'expected a transport scheme such as tls'))),
    ['tls', 'quic'],
  ),
  peers: v.optional(v.array(PeerSchema), []),
  /** Sign and verify every message, not only those that cross a third party. */
  strict: v.optional(v.boolean(), false),
  control: v.optional(v.strictObject({ socket: v.optional(v.string(), 'control.sock') }), {}),
  metrics: v.optional(
    v.union([
      v.literal(false),
      v.strictObject({
        listen: v.optional(
          v.pipe(
            v.string(),
            v.check(isLoopbackHostPort, 'metrics listen only on loopback, e.g. 127.0.0.1:9464'),
          ),
          '127.0.0.1:0',
        ),
      }),
    ]),
    {},
  ),
  log: v.optional(v.strictObject({ level: v.optional(v.picklist(LOG_LEVELS), 'info') }), {}),
  limits: v.optional(
    v.strictObject({
      maxConnections: v.optional(Positive),
      maxPendingHandshakes: v.optional(Positive),
      queuePerNode: v.optional(Positive),
      idleTimeoutMs: v.optional(Positive),
      requestTimeoutMs: v.optional(Positive),
    }),
    {},
  ),
  nats: v.optional(
    v.pipe(
      v.strictObject({
        /** Every server of the cluster the node may use; it fails over among them. */
        servers: v.pipe(
          v.array(v.pipe(v.string(), v.check(isNatsUrl, 'expected nats://host:port or tls://host:port'))),
          v.minLength(1),
        ),
        /** Engine name → the public key(s) (52-char base32) a process must sign with to attach as it. */
        engines: v.optional(v.record(v.string(), v.union([v.string(), v.array(v.string())])), {}),
        /** The first token of every subject the node uses (default `nm`). */
        subjectPrefix: v.optional(
          v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]+$/, 'one subject token: letters, digits, _ and -')),
        ),
        /** The NATS server's own access control: user + pass, token, nkey seed file or credentials file. */
        user: v.optional(v.pipe(v.string(), v.minLength(1))),
        pass: v.optional(v.string()),
        token: v.optional(v.pipe(v.string(), v.minLength(1))),
        nkeySeedFile: v.optional(v.pipe(v.string(), v.minLength(1))),
        credentialsFile: v.optional(v.pipe(v.string(), v.minLength(1))),
      }),
      v.rawCheck(({ dataset, addIssue }) => {
        if (!dataset.typed) return;
        const nats = dataset.value;
        const methods = [
          nats.user !== undefined || nats.pass !== undefined ? 'user' : undefined,
          nats.token !== undefined ? 'token' : undefined,
          nats.nkeySeedFile !== undefined ? 'nkeySeedFile' : undefined,
          nats.credentialsFile !== undefined ? 'credentialsFile' : undefined,
        ].filter((m) => m !== undefined);
        if (methods.length > 1)
          addIssue({
            message: `one way to authenticate to NATS, not ${methods.join(' + ')}`,
            path: [pathItem(nats, methods[1] === 'user' ? 'pass' : (methods[1] as string))],
          });
        if ((nats.user === undefined) !== (nats.pass === undefined))
          addIssue({
            message: 'user and pass go together',
            path: [pathItem(nats, nats.user === undefined ? 'user' : 'pass')],
          });
      }),
    ),
  ),
  storage: v.optional(v.strictObject({ quotaBytes: v.optional(Positive) }), {}),
  domains: v.optional(v.array(DomainSchema), []),
  relay: v.optional(RelaySchema, {}),
});

function isNatsUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'nats:' || url.protocol === 'tls:') && url.hostname !== '' && url.port !== '';
  } catch {
    return false;
  }
}

/** A path item for an issue on `key` of the nats section (valibot names fields by these). */
function pathItem(input: Record<string, unknown>, key: string) {
  return { type: 'object', origin: 'value', input, key, value: input[key] } as const;
}

export type NodeConfig = v.InferOutput<typeof ConfigSchema>;
export type NodeConfigInput = v.InferInput<typeof ConfigSchema>;

/** Validates a parsed config object; every problem names its field. */
export function validateConfig(value: unknown, file = '<config>'): NodeConfig {
  const result = v.safeParse(ConfigSchema, value);
  if (result.success) return result.output;
  throw new ConfigError(
    file,
    result.issues.map((issue) => `${v.getDotPath(issue) ?? '(root)'}: ${issue.message}`),
  );
}

export async function readConfig(file: string): Promise<NodeConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`cannot read: ${(error as Error).message}`]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(file, [`not valid JSON: ${(error as Error).message}`]);
  }
  return validateConfig(value, file);
}

/** Writes atomically (temp file + rename), so a crash never leaves half a config. */
export async function writeConfig(file: string, config: NodeConfigInput): Promise<void> {
  validateConfig(config, file);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

export async function readConfigInput(file: string): Promise<NodeConfigInput> {
  await readConfig(file);
  return JSON.parse(await readFile(file, 'utf8')) as NodeConfigInput;
}
