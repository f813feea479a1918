import { VolumeInfoSchema } from './volumes';
import { CertificateStatusSchema, TlsModeSchema } from './tls';
import { z } from 'zod';
import { AppDetailSchema, AppSummarySchema } from './app';
import { AuditEntrySchema, ScopeSchema, TokenInfoSchema, UserSchema } from './auth';
import { DeploySchema } from './deploy';
import { QueueJobSchema } from './job';
import { LogLineSchema } from './logs';
import { LOG_LEVELS } from './requests';

/**
 * What the API answers, as the OpenAPI document (`openapi.ts`) describes it. The routes check their bodies
 * against these types with `satisfies`, except the few built from untyped metric points (stats, series,
 * system), whose fields are written out here from `@slipway/records/metrics`. Most answers wrap one record or
 * a list of them under a name: `{deploy}`, `{apps: […]}`.
 */

// ── access ────────────────────────────────────────────────────────────────────────────────────────
export const AuthStatusAnswerSchema = z.object({ setupRequired: z.boolean() });
export type AuthStatusAnswer = z.infer<typeof AuthStatusAnswerSchema>;

const SessionUserSchema = z.object({ name: z.string(), role: ScopeSchema });

/** Login and setup: the session cookie is set, and `csrf` goes in `X-Slipway-CSRF` of cookie requests that change something. */
export const SignedInAnswerSchema = z.object({ user: SessionUserSchema, csrf: z.string() });
export type SignedInAnswer = z.infer<typeof SignedInAnswerSchema>;

export const MeAnswerSchema = z.object({ user: SessionUserSchema, via: z.enum(['token', 'session']), csrf: z.string().optional() });
export type MeAnswer = z.infer<typeof MeAnswerSchema>;

export const UsersAnswerSchema = z.object({ users: z.array(UserSchema) });
export type UsersAnswer = z.infer<typeof UsersAnswerSchema>;
export const UserAnswerSchema = z.object({ user: UserSchema });
export type UserAnswer = z.infer<typeof UserAnswerSchema>;
export const TokensAnswerSchema = z.object({ tokens: z.array(TokenInfoSchema) });
export type TokensAnswer = z.infer<typeof TokensAnswerSchema>;

/** The token itself is shown this once: only its SHA-256 is kept. */
export const TokenCreatedAnswerSchema = z.object({ token: z.string(), info: TokenInfoSchema, note: z.string() });
export type TokenCreatedAnswer = z.infer<typeof TokenCreatedAnswerSchema>;

export const AuditAnswerSchema = z.object({ entries: z.array(AuditEntrySchema) });
export type AuditAnswer = z.infer<typeof AuditAnswerSchema>;

// ── health ────────────────────────────────────────────────────────────────────────────────────────
/** `ok` is `redis && docker`; `docker`, `workers` from the workers' heartbeats. Answered with 503 when not ok. */
export const HealthAnswerSchema = z.object({ ok: z.boolean(), redis: z.boolean(), docker: z.boolean(), workers: z.number().int(), gateways: z.number().int() });
export type HealthAnswer = z.infer<typeof HealthAnswerSchema>;

// ── deploys and apps ──────────────────────────────────────────────────────────────────────────────
export const DeployAnswerSchema = z.object({ deploy: DeploySchema });
export type DeployAnswer = z.infer<typeof DeployAnswerSchema>;
export const DeploysAnswerSchema = z.object({ deploys: z.array(DeploySchema) });
export type DeploysAnswer = z.infer<typeof DeploysAnswerSchema>;

export const AppsAnswerSchema = z.object({ apps: z.array(AppSummarySchema) });
export type AppsAnswer = z.infer<typeof AppsAnswerSchema>;
export const AppAnswerSchema = z.object({ app: AppDetailSchema });
export type AppAnswer = z.infer<typeof AppAnswerSchema>;
/** Start and stop answer the app's summary once done. */
export const AppSummaryAnswerSchema = z.object({ app: AppSummarySchema });
export type AppSummaryAnswer = z.infer<typeof AppSummaryAnswerSchema>;

/** A start, stop, delete or volume restore still running after its wait: it goes on in the worker. */
export const OperationAnswerSchema = z.object({
  operation: z.object({ id: z.string(), action: z.enum(['start', 'stop', 'delete', 'volume-export', 'volume-restore']), status: z.literal('queued') }),
});
export type OperationAnswer = z.infer<typeof OperationAnswerSchema>;
export const DeletedAnswerSchema = z.object({ deleted: z.string() });
export type DeletedAnswer = z.infer<typeof DeletedAnswerSchema>;
export const VolumesAnswerSchema = z.object({ volumes: z.array(VolumeInfoSchema) });
export type VolumesAnswer = z.infer<typeof VolumesAnswerSchema>;
export const VolumeAnswerSchema = z.object({ volume: VolumeInfoSchema });
export type VolumeAnswer = z.infer<typeof VolumeAnswerSchema>;
/** The app's host names and their certificates; `httpsPort` null when SLIPWAY_TLS is off. */
export const CertificatesAnswerSchema = z.object({ tls: TlsModeSchema, httpsPort: z.number().nullable(), certificates: z.array(CertificateStatusSchema) });
export type CertificatesAnswer = z.infer<typeof CertificatesAnswerSchema>;

// ── logs, stats, the machine ──────────────────────────────────────────────────────────────────────
export const LogLinesAnswerSchema = z.object({ lines: z.array(LogLineSchema) });
export type LogLinesAnswer = z.infer<typeof LogLinesAnswerSchema>;

const ContainerStatsSchema = z.object({
  cpuPercent: z.number(),
  memoryBytes: z.number(),
  memoryLimitBytes: z.number(),
  netRxBytes: z.number(),
  netTxBytes: z.number(),
  blockReadBytes: z.number(),
  blockWriteBytes: z.number(),
  pids: z.number(),
});

/**
 * The last sample of the app's current containers, added up; byte counts since they started. With several
 * `instances`, each one's own in `instances` (by index).
 */
export const AppStatsAnswerSchema = z.object({
  stats: ContainerStatsSchema.nullable(),
  sampledAt: z.string().nullable(),
  instances: z.array(z.object({ index: z.number().int(), stats: ContainerStatsSchema.nullable(), sampledAt: z.string().nullable() })),
});
export type AppStatsAnswer = z.infer<typeof AppStatsAnswerSchema>;

/** Gauges are means of the samples in a point, byte counts what moved during it (`@slipway/records/metrics` APP_FIELDS). */
export const AppSeriesAnswerSchema = z.object({
  series: z.array(
    z.object({
      ts: z.string(),
      cpuPercent: z.number(),
      memoryBytes: z.number(),
      memoryLimitBytes: z.number(),
      pids: z.number(),
      netRxBytes: z.number(),
      netTxBytes: z.number(),
      blockReadBytes: z.number(),
      blockWriteBytes: z.number(),
    }),
  ),
});
export type AppSeriesAnswer = z.infer<typeof AppSeriesAnswerSchema>;

/** The same for the machine (`@slipway/records/metrics` HOST_FIELDS). */
export const HostSeriesAnswerSchema = z.object({
  series: z.array(
    z.object({
      ts: z.string(),
      cpuPercent: z.number(),
      load1: z.number(),
      memUsedBytes: z.number(),
      memTotalBytes: z.number(),
      diskUsedBytes: z.number(),
      diskTotalBytes: z.number(),
      netRxBytes: z.number(),
      netTxBytes: z.number(),
    }),
  ),
});
export type HostSeriesAnswer = z.infer<typeof HostSeriesAnswerSchema>;

export const SwarmNodeSchema = z.object({
  id: z.string(),
  hostname: z.string(),
  role: z.string(),
  /** active | pause | drain */
  availability: z.string(),
  /** ready | down | unknown | disconnected */
  state: z.string(),
  address: z.string(),
});
export type SwarmNode = z.infer<typeof SwarmNodeSchema>;

const LimitSchema = z.object({ soft: z.string(), hard: z.string(), unit: z.string() });

export const SystemAnswerSchema = z.object({
  system: z.object({
    hostname: z.string(),
    os: z.object({ platform: z.string(), distro: z.string(), release: z.string(), arch: z.string() }),
    kernel: z.string(),
    uptimeS: z.number(),
    cpu: z.object({ model: z.string(), cores: z.number(), physicalCores: z.number(), speedGHz: z.number(), percent: z.number().nullable() }),
    load: z.object({ load1: z.number(), load5: z.number(), load15: z.number() }),
    memory: z.object({ totalBytes: z.number(), usedBytes: z.number(), availableBytes: z.number() }),
    swap: z.object({ totalBytes: z.number(), usedBytes: z.number() }),
    /** Real filesystems (no container's overlay, nothing mounted inside Docker's data root); `dockerRoot`: the one that holds it. */
    disks: z.array(z.object({ mount: z.string(), fs: z.string(), type: z.string(), sizeBytes: z.number(), usedBytes: z.number(), usePercent: z.number(), dockerRoot: z.boolean() })),
    network: z.array(z.object({ iface: z.string(), ip4: z.string(), ip6: z.string(), mac: z.string(), speedMbps: z.number().nullable(), up: z.boolean() })),
    /** As the worker last reported it; null before its first report. */
    docker: z.record(z.string(), z.unknown()).nullable(),
    /** Under Swarm: the nodes as the worker saw them in the last few seconds (null in docker mode). */
    nodes: z.array(SwarmNodeSchema).nullable(),
    /** `sysctl`: Linux parameters (null where unreadable); `limits`: the API process's, from /proc/self/limits. */
    params: z.object({ sysctl: z.record(z.string(), z.string().nullable()), limits: z.record(z.string(), LimitSchema) }),
  }),
});
export type SystemAnswer = z.infer<typeof SystemAnswerSchema>;

/** Slipway's own log lines, with whatever other fields the line was logged with. */
export const OwnLogLinesAnswerSchema = z.object({
  lines: z.array(z.looseObject({ time: z.string(), level: z.enum(LOG_LEVELS), service: z.string(), msg: z.string() })),
});
export type OwnLogLinesAnswer = z.infer<typeof OwnLogLinesAnswerSchema>;

// ── queue, traffic ────────────────────────────────────────────────────────────────────────────────
export const QueueAnswerSchema = z.object({
  counts: z.object({ waiting: z.number(), active: z.number(), completed: z.number(), failed: z.number(), delayed: z.number() }),
  jobs: z.array(QueueJobSchema),
});
export type QueueAnswer = z.infer<typeof QueueAnswerSchema>;

/** Per app and point, only points that saw requests; latency percentiles are bucket bounds. */
export const TrafficAnswerSchema = z.object({
  series: z.array(z.object({ ts: z.string(), app: z.string(), requests: z.number(), errors5xx: z.number(), p50Ms: z.number(), p95Ms: z.number() })),
});
export type TrafficAnswer = z.infer<typeof TrafficAnswerSchema>;
