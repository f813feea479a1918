/**
 * The audit log (SPEC §5): who did what, when, from where: deploys, rollbacks, lifecycle actions, settings
 * and token changes, logins, and token use (the first use in an hour of each token). A Redis stream,
 * capped at 100 000 entries and 90 days.
 */
import type { Context } from 'koa';
import type { Redis } from 'ioredis';
import type { AuditEntry } from '@slipway/contracts/auth';
import type { Principal } from './auth/accounts';

const STREAM = 'slipway:audit';
const MAX_ENTRIES = 100_000;
const KEEP_MS = 90 * 24 * 3600 * 1000;

export interface AuditInput {
  action: string;
  target?: string;
  outcome?: AuditEntry['outcome'];
  details?: Record<string, unknown>;
  /** Who, when there is no authenticated principal yet (a login attempt). */
  actor?: string;
}

export async function audit(redis: Redis, koa: Context, input: AuditInput): Promise<void> {
  const principal = koa.state.principal as Principal | undefined;
  await appendAudit(redis, {
    ts: new Date().toISOString(),
    actor: input.actor ?? principal?.user ?? 'anonymous',
    via: principal ? `${principal.via}:${principal.ref}` : 'none',
    ip: koa.ip,
    action: input.action,
    ...(input.target ? { target: input.target } : {}),
    outcome: input.outcome ?? 'ok',
    ...(input.details ? { details: input.details } : {}),
  });
}

export async function appendAudit(redis: Redis, entry: Omit<AuditEntry, 'id'>): Promise<void> {
  // Oldest entries go by count and by age (MINID trims by the stream id's time part).
  await redis
    .multi()
    .xadd(STREAM, 'MAXLEN', '~', MAX_ENTRIES, '*', 'e', JSON.stringify(entry))
    .xtrim(STREAM, 'MINID', '~', `${Date.now() - KEEP_MS}-0`)
    .exec()
    .catch(() => null);
}

export async function readAudit(redis: Redis, opts: { limit: number; actor?: string; action?: string }): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  let end = '+';
  // Newest first, in pages, until `limit` matching entries.
  while (out.length < opts.limit) {
    const page = await redis.xrevrange(STREAM, end, '-', 'COUNT', 500);
    if (!page.length) break;
    for (const [id, fields] of page) {
      const entry = { id, ...(JSON.parse(fields[1] ?? '{}') as Omit<AuditEntry, 'id'>) };
      if (opts.actor && entry.actor !== opts.actor) continue;
      if (opts.action && !entry.action.startsWith(opts.action)) continue;
      out.push(entry);
      if (out.length >= opts.limit) break;
    }
    const last = page.at(-1)![0];
    const [ms, seq] = last.split('-').map(Number) as [number, number];
    end = seq > 0 ? `${ms}-${seq - 1}` : `${ms - 1}-18446744073709551615`;
  }
  return out;
}
