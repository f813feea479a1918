/**
 * The audit log (SPEC §5): who did what, when, from where: deploys, rollbacks, lifecycle actions, settings
 * and token changes, logins, and token use (the first use in an hour of each token). A Redis stream,
 * capped at 100 000 entries and 90 days.
 */
import type { Context } from 'koa';
import type { Redis } from 'ioredis';
import type { AuditEntry } from '@slipway/contracts/auth';
import type { Logger } from '@slipway/runtime/logger';
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

/** Where the audit goes, and where a failure to write it is said. */
export interface AuditSink {
  redis: Redis;
  log: Logger;
}

export async function audit(sink: AuditSink, koa: Context, input: AuditInput): Promise<void> {
  const principal = koa.state.principal as Principal | undefined;
  await appendAudit(sink, {
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

/** Never throws: the action it records has happened; a lost entry is logged (without its details) instead. */
export async function appendAudit(sink: AuditSink, entry: Omit<AuditEntry, 'id'>): Promise<void> {
  // Oldest entries go by count and by age (MINID trims by the stream id's time part).
  await sink.redis
    .multi()
    .xadd(STREAM, 'MAXLEN', '~', MAX_ENTRIES, '*', 'e', JSON.stringify(entry))
    .xtrim(STREAM, 'MINID', '~', `${Date.now() - KEEP_MS}-0`)
    .exec()
    .catch((err: Error) => sink.log.error({ action: entry.action, actor: entry.actor, err: err.message }, 'could not write an audit entry'));
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
