import type Router from '@koa/router';
import { apiRouter } from './router';
import type { LogLinesAnswer } from '@slipway/contracts/responses';
import type { LogLine } from '@slipway/contracts/logs';
import { LogHistoryQuerySchema, LogLiveQuerySchema } from '@slipway/contracts/requests';
import { readLogs } from '@slipway/records/app-logs';
import { existingApp } from '../apps';
import type { ApiContext } from '../context';
import { logMatcher } from '../log-search';
import { requireRedis } from '../middleware/redis-guard';
import { query } from '../middleware/validate';

export function logRoutes(ctx: ApiContext): Router {
  const router = apiRouter();
  router.use(requireRedis(ctx.redis));

  const app = (raw: string | undefined) => existingApp(ctx, raw);

  // History, newest `tail` matching lines (oldest first); kept after the containers are gone.
  router.get('/api/apps/:name/logs', async (koa) => {
    const name = await app(koa.params.name);
    const q = query(koa, LogHistoryQuerySchema);
    const lines = await readLogs(ctx.settings.dataDir, name, {
      tail: q.tail,
      since: q.since,
      until: q.until,
      version: q.version,
      stream: q.stream,
      instance: q.instance,
      match: q.q ? logMatcher(q.q) : undefined,
    });
    if (q.format === 'text') {
      koa.type = 'text/plain; charset=utf-8';
      koa.attachment(`${name}-logs.txt`);
      koa.body = lines.map((l) => `${l.ts} ${l.version} ${l.stream} ${l.text}`).join('\n') + (lines.length ? '\n' : '');
      return;
    }
    koa.body = { lines } satisfies LogLinesAnswer;
  });

  // Live, from the worker's one collector stream per container, fanned out through Redis pub/sub.
  router.get('/api/apps/:name/logs/stream', async (koa) => {
    const name = await app(koa.params.name);
    const filter = query(koa, LogLiveQuerySchema);
    const sse = ctx.sse.open(koa);
    const key = `${filter.version ?? ''}\n${filter.stream ?? ''}`;
    sse.onClose(
      ctx.hub.onLogs(name, (batch) => {
        const text = serialized(batch, key, (l) => (!filter.version || l.version === filter.version) && (!filter.stream || l.stream === filter.stream));
        if (text) sse.sendRaw(text);
      }),
    );
  });

  return router;
}

/**
 * A batch goes to every viewer: it is turned into SSE text once per distinct filter, not once per viewer,
 * so a hundred viewers cost a hundred writes of the same string.
 */
const cache = new WeakMap<LogLine[], Map<string, string>>();
function serialized(batch: LogLine[], key: string, keep: (l: LogLine) => boolean): string {
  let byKey = cache.get(batch);
  if (!byKey) cache.set(batch, (byKey = new Map()));
  let text = byKey.get(key);
  if (text === undefined) {
    text = batch
      .filter(keep)
      .map((l) => `event: log\ndata: ${JSON.stringify(l)}\n\n`)
      .join('');
    byKey.set(key, text);
  }
  return text;
}
