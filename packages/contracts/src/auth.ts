import { z } from 'zod';

/** SPEC §5: `read` sees apps, logs and metrics; `deploy` also deploys and rolls back; `admin` manages users, tokens and settings. */
export const SCOPES = ['read', 'deploy', 'admin'] as const;
export const ScopeSchema = z.enum(SCOPES);
export type Scope = z.infer<typeof ScopeSchema>;

/** A scope includes the ones below it. */
export function scopeAllows(held: Scope, needed: Scope): boolean {
  return SCOPES.indexOf(held) >= SCOPES.indexOf(needed);
}

/** Who may call a route: anyone, anyone signed in (whatever the scope), or a scope and those above it. */
export type Access = Scope | 'public' | 'signed-in';

/** The panel's session cookie, and the header its requests that change something carry (SPEC §5). */
export const SESSION_COOKIE = 'slipway_session';
export const CSRF_HEADER = 'x-slipway-csrf';

export const USERNAME_RE = /^[a-z0-9][a-z0-9._-]{1,31}$/;

export const UserSchema = z.object({
  name: z.string(),
  role: ScopeSchema,
  createdAt: z.string(),
  hasPassword: z.boolean(),
});
export type User = z.infer<typeof UserSchema>;

export const TokenInfoSchema = z.object({
  id: z.string(),
  name: z.string(),
  user: z.string(),
  scope: ScopeSchema,
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  /** The first characters, to tell tokens apart; never enough to use one. */
  prefix: z.string(),
  /** The token this one was minted with (revoking it revokes this one); null when made signed in. */
  parent: z.string().nullable().optional(),
  /** The first-start admin token, which ends when the admin sets a password. */
  firstStart: z.literal(true).optional(),
});
export type TokenInfo = z.infer<typeof TokenInfoSchema>;

export const PasswordSchema = z.string().min(10, 'at least 10 characters').max(256);

export const AuditEntrySchema = z.object({
  id: z.string(),
  ts: z.string(),
  actor: z.string(),
  via: z.string(),
  ip: z.string(),
  action: z.string(),
  target: z.string().optional(),
  outcome: z.enum(['ok', 'denied', 'failed']),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;
