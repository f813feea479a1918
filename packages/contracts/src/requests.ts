import { z } from 'zod';
import { PasswordSchema, ScopeSchema, USERNAME_RE } from './auth';
import { APP_NAME_RE, VERSION_RE } from './names';

/**
 * What the API accepts: JSON bodies and query strings, parsed by the routes (`middleware/validate.ts`) and
 * described by the OpenAPI document (`openapi.ts`). Query values arrive as text: numbers are coerced.
 */

// ── access ────────────────────────────────────────────────────────────────────────────────────────
export const LoginBodySchema = z.object({ username: z.string().max(64), password: z.string().max(256) }).strict();

/** The first start's admin token and the admin's password (once). */
export const SetupBodySchema = z.object({ token: z.string().max(100), password: PasswordSchema }).strict();

export const NewUserBodySchema = z
  .object({ name: z.string().regex(USERNAME_RE, '2-32 lowercase letters, digits, ".", "_" or "-"'), role: ScopeSchema, password: PasswordSchema })
  .strict();

export const NewPasswordBodySchema = z.object({ password: PasswordSchema }).strict();

/** `user`: whose token (admins only, for someone else); its scope never exceeds that user's role. */
export const NewTokenBodySchema = z
  .object({
    name: z.string().min(1).max(64),
    scope: ScopeSchema,
    expiresInDays: z.number().int().min(1).max(3650).optional(),
    user: z.string().regex(USERNAME_RE).optional(),
  })
  .strict();

export const AuditQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  actor: z.string().max(64).optional(),
  action: z.string().max(64).optional(),
});

// ── deploys and apps ──────────────────────────────────────────────────────────────────────────────
/** `POST /api/deploys` is multipart: the archive, and the app and version when the archive does not say. */
export const DeployFormFieldsSchema = z.object({
  app: z.string('must be plain text').optional(),
  version: z.string('must be plain text').optional(),
});
export const DeployFormSchema = DeployFormFieldsSchema.extend({ archive: z.file() });

export const DeployListQuerySchema = z.object({
  app: z.string().regex(APP_NAME_RE, 'app must be a valid app name').optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** No version: the previous one. */
export const RollbackBodySchema = z.object({ version: z.string().regex(VERSION_RE, 'not a valid version').optional() }).strict();

/** Checked by the route itself, not parsed: anything but the app's own name is `400 confirmation_required`. */
export const DeleteAppQuerySchema = z.object({
  confirm: z.string().describe('the app name, repeated'),
  volumes: z.enum(['true', 'false']).optional().describe('true: its volumes go too (kept by default)'),
});

/** A volume restored from a `.tar.gz` (or `.tar`) of its contents, as the download gives it. */
export const VolumeFormSchema = z.object({ archive: z.file() });

// ── logs and history ──────────────────────────────────────────────────────────────────────────────
const isoTime = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 time')
  .transform((s) => new Date(s).toISOString())
  .describe('an ISO 8601 time');

export const LogHistoryQuerySchema = z.object({
  tail: z.coerce.number().int().min(1).max(10_000).default(500),
  since: isoTime.optional(),
  until: isoTime.optional(),
  /** Text (case-insensitive), or `/regex/flags` (run in linear time: see services/api/src/log-search.ts). */
  q: z.string().max(200).optional(),
  version: z.string().regex(VERSION_RE).optional(),
  stream: z.string().max(512).optional(),
  /** One of the app's instances (0 is the first). */
  instance: z.coerce.number().int().min(0).max(9).optional(),
  format: z.enum(['json', 'text']).default('json'),
});

export const LogLiveQuerySchema = z.object({
  version: z.string().regex(VERSION_RE).optional(),
  stream: z.string().max(512).optional(),
});

/** pino's level names, lowest first; `services/api/src/own-logs.ts` holds their numbers. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const OwnLogsQuerySchema = z.object({
  tail: z.coerce.number().int().min(1).max(5000).default(200),
  level: z.enum(LOG_LEVELS).default('info'),
});

const DURATION = /^(\d{1,4})(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30m`, `24h`, `7d` → milliseconds. */
export const DurationSchema = z
  .string()
  .regex(DURATION, 'a duration like 30m, 24h or 7d')
  .transform((s) => {
    const [, n, unit] = DURATION.exec(s)!;
    return Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
  });

// Defaults are given as text (`prefault`), parsed like a sent value: the same milliseconds, and a readable default in the document.
export const SeriesQuerySchema = z.object({
  range: DurationSchema.prefault('24h'),
  step: z.enum(['1m', '1h']).optional(),
});

export const TrafficQuerySchema = z.object({
  range: DurationSchema.prefault('7d'),
  step: z.enum(['1m', '1h']).default('1h'),
  app: z.string().regex(APP_NAME_RE).optional(),
});

/** `GET /api/queue?app=`: one app's jobs only. */
export const QueueQuerySchema = z.object({
  app: z.string().regex(APP_NAME_RE, 'app must be a valid app name').optional(),
});
