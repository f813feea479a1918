/**
 * Settings of SPEC §1, read once at start from an injectable env and frozen.
 * A bad value stops the start with a message naming the setting.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { parseTrustedProxies } from './proxies';
import { redactUrl } from '@slipway/contracts/secrets';
import { refusedTarget } from './webhook-target';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const host = z
  .string()
  .trim()
  .min(1)
  .regex(/^[A-Za-z0-9.:\-\[\]]+$/, 'must be a host name or IP address');

const decimal = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, 'must be a number')
    .transform(Number)
    .pipe(z.number().min(min).max(max));

/** An IPv4 range of /8 to /24, carved into /24 networks. */
const ipv4Pool = z
  .string()
  .trim()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/, 'must be an IPv4 range like 10.213.0.0/16')
  .refine((v) => v.split(/[./]/).slice(0, 4).every((n) => Number(n) <= 255) && Number(v.split('/')[1]) >= 8 && Number(v.split('/')[1]) <= 24, 'must be an IPv4 range from /8 to /24');

const proxyList = z.string().transform((text, ctx) => {
  const parsed = parseTrustedProxies(text);
  if (parsed.ok) return parsed.list;
  ctx.addIssue({ code: 'custom', message: parsed.problem });
  return z.NEVER;
});

const urlList = z
  .string()
  .transform((s) => s.split(',').map((u) => u.trim()).filter(Boolean))
  .pipe(z.array(z.url({ protocol: /^https?$/ })));

/** name → [schema, default, meaning]; the README's settings table is this list. */
const SETTINGS = {
  PORT: [int(1, 65535), '8080', 'API and panel port'],
  HOST: [host, '127.0.0.1', 'API and panel address'],
  SLIPWAY_GATEWAY_PORT: [int(1, 65535), '8081', 'stable entry to every app'],
  SLIPWAY_GATEWAY_HOST: [host, '127.0.0.1', 'address the gateway listens on (0.0.0.0 to serve other machines)'],
  SLIPWAY_DOMAIN: [host, 'localhost', 'apps answer at <app>.<domain>'],
  SLIPWAY_HTTPS_PORT: [int(1, 65535), '8443', 'the gateway\'s HTTPS entry (443 in production), when SLIPWAY_TLS is not off'],
  SLIPWAY_TLS: [z.enum(['off', 'internal', 'acme']), 'off', 'off; internal: certificates from Slipway\'s own CA (its root at GET /api/tls/ca.pem); acme: from SLIPWAY_ACME_URL by HTTP-01 on the gateway\'s HTTP port'],
  SLIPWAY_TLS_INTERNAL_DAYS: [decimal(0.0001, 397), '90', 'lifetime of a certificate from the internal CA; renewed when two thirds of it have passed'],
  SLIPWAY_ACME_URL: [z.url({ protocol: /^https?$/ }), 'https://acme-v02.api.letsencrypt.org/directory', 'the ACME directory (SLIPWAY_TLS=acme)'],
  SLIPWAY_ACME_EMAIL: [z.email().optional(), undefined, 'contact of the ACME account'],
  SLIPWAY_ACME_CA_FILE: [z.string().min(1).optional(), undefined, 'PEM file of a CA to trust for the ACME directory, besides the system\'s (a private ACME server)'],
  REDIS_URL: [z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(), undefined, 'Redis; unset starts an embedded one'],
  DOCKER_HOST: [z.string().min(1).optional(), undefined, 'engine to drive; unset is the local socket'],
  SLIPWAY_DATA_DIR: [z.string().min(1), './data', 'uploads, unpacked trees, logs'],
  SLIPWAY_BIND: [host, '127.0.0.1', 'host address app ports are published on'],
  SLIPWAY_ADMIN_TOKEN: [z.string().min(16, 'must be at least 16 characters').optional(), undefined, 'bearer token of the first admin'],
  SLIPWAY_CONCURRENCY: [int(1, 64), '2', 'deploys built at once'],
  SLIPWAY_KEEP_VERSIONS: [int(2, 1000), '5', 'images kept per app'],
  SLIPWAY_HEALTH_TIMEOUT_S: [int(1, 3600), '30', 'time a new version has to become healthy'],
  SLIPWAY_MAX_UPLOAD_MB: [int(1, 1024 * 1024), '512', 'larger uploads get 413'],
  SLIPWAY_MAX_UNPACKED_MB: [int(1, 1024 * 1024), '2048', 'unpacked size cap'],
  SLIPWAY_MAX_FILES: [int(1, 10_000_000), '100000', 'unpacked file-count cap'],
  SLIPWAY_IMAGE_PREFIX: [z.string().regex(/^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*\/$/, 'must be a lowercase repository path ending in "/"'), 'slipway/', 'prefix of app images'],
  SLIPWAY_BUILD_TIMEOUT_S: [int(1, 24 * 3600), '900', 'a longer build fails'],
  SLIPWAY_BUILD_MEMORY_MB: [int(64, 1024 * 1024), '2048', 'memory of a build step (no swap)'],
  SLIPWAY_BUILD_CPUS: [decimal(0.1, 1024), '2', 'CPUs of a build step'],
  SLIPWAY_BUILD_PIDS: [int(32, 4_194_304), '1024', 'processes and threads of one build at once (engines with the cgroupfs driver: docs/security.md)'],
  SLIPWAY_NETWORK_POOL: [ipv4Pool, '10.213.0.0/16', 'addresses of the per-app and build networks, a /24 each'],
  SLIPWAY_WATCH_S: [int(0, 3600), '20', 'post-switch watch window'],
  SLIPWAY_STOP_GRACE_S: [int(0, 3600), '10', 'time a container gets to stop'],
  SLIPWAY_SAMPLE_S: [int(1, 3600), '10', 'metrics sampling interval'],
  SLIPWAY_LOG_RETENTION_MB: [int(1), '1024', 'log history kept (size)'],
  SLIPWAY_LOG_RETENTION_DAYS: [int(1), '14', 'log history kept (age)'],
  SLIPWAY_WEBHOOK_URLS: [urlList, '', 'global deploy webhooks'],
  SLIPWAY_WEBHOOK_SECRET: [z.string().optional(), undefined, 'HMAC-SHA256 key of webhooks'],
  SLIPWAY_WEBHOOK_ALLOW_PRIVATE: [z.enum(['true', 'false'], 'must be true or false').transform((v) => v === 'true'), 'false', 'let webhooks reach loopback, private and link-local addresses'],
  SLIPWAY_ROLE: [z.enum(['all', 'api', 'worker', 'gateway']), 'all', 'what this process runs: all three services (the default) or one of them'],
  SLIPWAY_RUN_AS: [z.string().regex(/^[a-z_][a-z0-9_-]*$/, 'must be a user name').optional(), undefined, 'started as root, run as this user (the worker also in the Docker socket\'s group); the image sets node'],
  SLIPWAY_ORCHESTRATOR: [z.enum(['docker', 'swarm']), 'docker', 'docker or swarm'],
  SLIPWAY_REGISTRY: [z.string().regex(/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/, 'a registry address like registry.example.com:5000').optional(), undefined, 'registry swarm nodes pull from'],
  SLIPWAY_REGISTRY_USER: [z.string().trim().min(1).optional(), undefined, 'user name on SLIPWAY_REGISTRY, for the pushes, every node\'s pulls and tag deletion'],
  SLIPWAY_REGISTRY_PASSWORD: [z.string().min(1).optional(), undefined, 'password (or access token) of SLIPWAY_REGISTRY_USER'],
  SLIPWAY_BASE_IMAGE: [z.string().min(1), 'node:20-slim', 'base image of the Node template'],
  SLIPWAY_SITE_IMAGE: [z.string().min(1), 'nginx:stable-bookworm', 'image that serves static sites and front-end builds (nginx, run as uid 1000)'],
  SLIPWAY_SSE_MAX_TOTAL: [int(1, 1_000_000), '2000', 'event streams (SSE) open at once'],
  SLIPWAY_SSE_MAX_PER_CLIENT: [int(1, 1_000_000), '200', 'event streams open at once per client address'],
  SLIPWAY_TRUSTED_PROXIES: [proxyList, '', 'addresses (IPs or CIDRs, comma-separated) whose X-Forwarded-* headers are believed'],
  SLIPWAY_LOG_LEVEL: [z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info', 'Slipway\'s own log level'],
} as const;

type Key = keyof typeof SETTINGS;
type Raw = { [K in Key]: z.output<(typeof SETTINGS)[K][0]> };

export interface Settings {
  port: number;
  host: string;
  gatewayPort: number;
  gatewayHost: string;
  domain: string;
  httpsPort: number;
  tls: 'off' | 'internal' | 'acme';
  /** Lifetime of an internal CA's certificate, in ms. */
  tlsInternalMs: number;
  acmeUrl: string;
  acmeEmail: string | undefined;
  acmeCaFile: string | undefined;
  redisUrl: string | undefined;
  dockerHost: string | undefined;
  dataDir: string;
  bind: string;
  adminToken: string | undefined;
  concurrency: number;
  keepVersions: number;
  healthTimeoutMs: number;
  maxUploadBytes: number;
  maxUnpackedBytes: number;
  maxFiles: number;
  imagePrefix: string;
  buildTimeoutMs: number;
  buildMemoryBytes: number;
  buildCpus: number;
  buildPids: number;
  /** IPv4 range the app and build networks get their /24 subnets from. */
  networkPool: string;
  watchMs: number;
  stopGraceS: number;
  sampleMs: number;
  logRetentionBytes: number;
  logRetentionDays: number;
  webhookUrls: string[];
  webhookSecret: string | undefined;
  /** Webhooks may target loopback, private and link-local addresses (off: they are refused as written and after DNS). */
  webhookAllowPrivate: boolean;
  role: 'all' | 'api' | 'worker' | 'gateway';
  runAs: string | undefined;
  orchestrator: 'docker' | 'swarm';
  registry: string | undefined;
  /** Credentials on `registry`; never logged or answered. */
  registryAuth: Readonly<{ username: string; password: string }> | undefined;
  baseImage: string;
  siteImage: string;
  logLevel: string;
  sseMaxTotal: number;
  sseMaxPerClient: number;
  /** SLIPWAY_TRUSTED_PROXIES as `address/prefix` entries; check an address with `isTrusted` (./proxies). */
  trustedProxies: readonly string[];
  /**
   * Which Slipway installation owns a container or image (label io.slipway.instance): derived from the data
   * dir and image prefix, so two installations (or test runs) sharing one engine never touch each other's.
   */
  instance: string;
}

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SettingsError';
  }
}

const MB = 1024 * 1024;

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Readonly<Settings> {
  const problems: string[] = [];
  const raw = {} as Record<Key, unknown>;
  for (const key of Object.keys(SETTINGS) as Key[]) {
    const [schema, fallback] = SETTINGS[key];
    const given = env[key];
    const value = given === undefined || given === '' ? fallback : given;
    const parsed = (schema as z.ZodType).safeParse(value);
    if (parsed.success) raw[key] = parsed.data;
    else problems.push(`${key}=${shownValue(key, given)}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  if (!problems.length && raw.SLIPWAY_WEBHOOK_ALLOW_PRIVATE !== true) {
    for (const url of raw.SLIPWAY_WEBHOOK_URLS as string[]) {
      const why = refusedTarget(url);
      if (why) problems.push(`SLIPWAY_WEBHOOK_URLS: ${redactUrl(url)} is refused (${why}); set SLIPWAY_WEBHOOK_ALLOW_PRIVATE=true to allow it`);
    }
  }
  if (!problems.length && (raw.SLIPWAY_REGISTRY_USER === undefined) !== (raw.SLIPWAY_REGISTRY_PASSWORD === undefined)) {
    problems.push('SLIPWAY_REGISTRY_USER and SLIPWAY_REGISTRY_PASSWORD: set both or neither');
  }
  if (!problems.length && raw.SLIPWAY_REGISTRY_USER !== undefined && raw.SLIPWAY_REGISTRY === undefined) {
    problems.push('SLIPWAY_REGISTRY_USER: needs SLIPWAY_REGISTRY, the registry it logs in to');
  }
  if (problems.length) throw new SettingsError(problems);
  const r = raw as Raw;
  return Object.freeze({
    port: r.PORT,
    host: r.HOST,
    gatewayPort: r.SLIPWAY_GATEWAY_PORT,
    gatewayHost: r.SLIPWAY_GATEWAY_HOST,
    domain: r.SLIPWAY_DOMAIN,
    httpsPort: r.SLIPWAY_HTTPS_PORT,
    tls: r.SLIPWAY_TLS,
    tlsInternalMs: Math.round(r.SLIPWAY_TLS_INTERNAL_DAYS * 24 * 3600_000),
    acmeUrl: r.SLIPWAY_ACME_URL,
    acmeEmail: r.SLIPWAY_ACME_EMAIL,
    acmeCaFile: r.SLIPWAY_ACME_CA_FILE,
    redisUrl: r.REDIS_URL,
    dockerHost: r.DOCKER_HOST,
    dataDir: path.resolve(r.SLIPWAY_DATA_DIR),
    bind: r.SLIPWAY_BIND,
    adminToken: r.SLIPWAY_ADMIN_TOKEN,
    concurrency: r.SLIPWAY_CONCURRENCY,
    keepVersions: r.SLIPWAY_KEEP_VERSIONS,
    healthTimeoutMs: r.SLIPWAY_HEALTH_TIMEOUT_S * 1000,
    maxUploadBytes: r.SLIPWAY_MAX_UPLOAD_MB * MB,
    maxUnpackedBytes: r.SLIPWAY_MAX_UNPACKED_MB * MB,
    maxFiles: r.SLIPWAY_MAX_FILES,
    imagePrefix: r.SLIPWAY_IMAGE_PREFIX,
    buildTimeoutMs: r.SLIPWAY_BUILD_TIMEOUT_S * 1000,
    buildMemoryBytes: r.SLIPWAY_BUILD_MEMORY_MB * MB,
    buildCpus: r.SLIPWAY_BUILD_CPUS,
    buildPids: r.SLIPWAY_BUILD_PIDS,
    networkPool: r.SLIPWAY_NETWORK_POOL,
    watchMs: r.SLIPWAY_WATCH_S * 1000,
    stopGraceS: r.SLIPWAY_STOP_GRACE_S,
    sampleMs: r.SLIPWAY_SAMPLE_S * 1000,
    logRetentionBytes: r.SLIPWAY_LOG_RETENTION_MB * MB,
    logRetentionDays: r.SLIPWAY_LOG_RETENTION_DAYS,
    webhookUrls: r.SLIPWAY_WEBHOOK_URLS,
    webhookSecret: r.SLIPWAY_WEBHOOK_SECRET,
    webhookAllowPrivate: r.SLIPWAY_WEBHOOK_ALLOW_PRIVATE,
    orchestrator: r.SLIPWAY_ORCHESTRATOR,
    registry: r.SLIPWAY_REGISTRY,
    registryAuth: r.SLIPWAY_REGISTRY_USER && r.SLIPWAY_REGISTRY_PASSWORD ? Object.freeze({ username: r.SLIPWAY_REGISTRY_USER, password: r.SLIPWAY_REGISTRY_PASSWORD }) : undefined,
    role: r.SLIPWAY_ROLE,
    runAs: r.SLIPWAY_RUN_AS,
    baseImage: r.SLIPWAY_BASE_IMAGE,
    siteImage: r.SLIPWAY_SITE_IMAGE,
    logLevel: r.SLIPWAY_LOG_LEVEL,
    sseMaxTotal: r.SLIPWAY_SSE_MAX_TOTAL,
    sseMaxPerClient: r.SLIPWAY_SSE_MAX_PER_CLIENT,
    trustedProxies: Object.freeze(r.SLIPWAY_TRUSTED_PROXIES),
    instance: createHash('sha256').update(`${path.resolve(r.SLIPWAY_DATA_DIR)}|${r.SLIPWAY_IMAGE_PREFIX}`).digest('hex').slice(0, 12),
  });
}

/** Settings that hold credentials: a bad value is named, never echoed (the message reaches logs and terminals). */
const SECRET_SETTINGS = new Set<string>(['REDIS_URL', 'SLIPWAY_ADMIN_TOKEN', 'SLIPWAY_WEBHOOK_URLS', 'SLIPWAY_WEBHOOK_SECRET', 'SLIPWAY_REGISTRY_PASSWORD']);

function shownValue(key: string, given: string | undefined): string {
  return SECRET_SETTINGS.has(key) && given !== undefined ? `(${given.length} characters, not shown)` : JSON.stringify(given);
}

/** Settings of a service process (api, worker, gateway): they all need Redis, which `npm start` supplies. */
export function loadServiceSettings(service: string, env: NodeJS.ProcessEnv = process.env): Readonly<Settings> & { redisUrl: string } {
  const settings = loadSettings(env);
  if (!settings.redisUrl) throw new SettingsError([`REDIS_URL: the ${service} needs it (npm start sets it to the embedded Redis)`]);
  return settings as Readonly<Settings> & { redisUrl: string };
}

/** For a process's entry point: a bad setting prints what is wrong and exits 2, without a stack trace. */
export function settingsOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    console.error(`[slipway] ${err.message}\nNothing was started. Fix the setting(s) above; see README.md#settings.`);
    process.exit(2);
  }
}

/** For docs and `--help`: every setting with its default and meaning. */
export function describeSettings(): Array<{ name: string; default: string | undefined; meaning: string }> {
  return (Object.keys(SETTINGS) as Key[]).map((name) => ({
    name,
    default: SETTINGS[name][1],
    meaning: SETTINGS[name][2],
  }));
}

/** Where things live under the data dir. */
export function dataPaths(dataDir: string) {
  return {
    uploads: path.join(dataDir, 'uploads'),
    archives: path.join(dataDir, 'archives'),
    cluster: path.join(dataDir, 'cluster'),
    redis: path.join(dataDir, 'redis'),
    logs: path.join(dataDir, 'logs'),
    /** The internal CA, the ACME account and the certificates, all 0600 (issue 16). */
    tls: path.join(dataDir, 'tls'),
    /** Volume archives made for a download, deleted once sent. */
    exports: path.join(dataDir, 'exports'),
  };
}
