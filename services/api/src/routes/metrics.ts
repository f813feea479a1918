import type Router from '@koa/router';
import { apiRouter } from './router';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { DURATION_BUCKETS_S, readCounters } from '@slipway/records/counters';
import { readLatest } from '@slipway/records/metrics';
import { REQUEST_TOTALS } from '@slipway/records/traffic-history';
import type { ApiContext } from '../context';

/**
 * `GET /metrics` in Prometheus text format. The API process's own metrics come from prom-client; the rest
 * (queue, deploys, apps, gateway, host) is read from Redis at scrape time, where the worker and gateway
 * keep it, so the figures are the whole installation's, not this process's.
 */
export function metricsRoutes(ctx: ApiContext): Router {
  const registry = new Registry();
  // The event-loop delay histogram samples on a libuv timer at this resolution: prom-client's 10 ms default
  // woke the process 100 times a second, most of Slipway's idle CPU. A stall worth seeing lasts longer.
  collectDefaultMetrics({ register: registry, prefix: 'slipway_api_', eventLoopMonitoringPrecision: 100 });

  new Gauge({
    name: 'slipway_queue_jobs',
    help: 'Deploy jobs by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await ctx.queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n ?? 0);
    },
  });
  new Counter({
    name: 'slipway_deploys_total',
    help: 'Finished deploys, rollbacks and restarts by outcome',
    labelNames: ['kind', 'status'],
    registers: [registry],
    async collect() {
      const { outcomes } = await readCounters(ctx.redis);
      this.reset();
      for (const [label, n] of Object.entries(outcomes)) {
        const [kind = '', status = ''] = label.split('|');
        this.inc({ kind, status }, Number(n));
      }
    },
  });
  const appGauge = (name: string, help: string, field: string) =>
    new Gauge({
      name,
      help,
      labelNames: ['app'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const app of await ctx.store.listAppNames()) {
          const latest = await readLatest(ctx.redis, `app:${app}`);
          if (latest && typeof latest[field] === 'number') this.set({ app }, latest[field] as number);
        }
      },
    });
  appGauge('slipway_app_cpu_percent', 'CPU of the app\'s current container (100 = one core)', 'cpuPercent');
  appGauge('slipway_app_memory_bytes', 'Memory of the app\'s current container', 'memoryBytes');
  appGauge('slipway_app_memory_limit_bytes', 'Memory limit of the app\'s current container', 'memoryLimitBytes');
  new Counter({
    name: 'slipway_gateway_requests_total',
    help: 'Requests answered by the gateway, per app and class',
    labelNames: ['app', 'class'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [label, n] of Object.entries(await ctx.redis.hgetall(REQUEST_TOTALS))) {
        const [app = '', kind = ''] = label.split('|');
        this.inc({ app, class: kind === 'errors5xx' ? '5xx' : 'all' }, Number(n));
      }
    },
  });
  new Gauge({
    name: 'slipway_host',
    help: 'The machine, as last sampled by the worker',
    labelNames: ['metric'],
    registers: [registry],
    async collect() {
      const latest = await readLatest(ctx.redis, 'host');
      this.reset();
      for (const [metric, v] of Object.entries(latest ?? {})) if (typeof v === 'number') this.set({ metric }, v);
    },
  });

  const router = apiRouter();
  router.get('/metrics', async (koa) => {
    koa.type = registry.contentType;
    koa.body = (await registry.metrics()) + (await durationHistogram(ctx));
  });
  return router;
}

/**
 * Deploy durations as a Prometheus histogram. The buckets are counted in Redis by the workers, which
 * prom-client cannot take as given, so this one metric is rendered here.
 */
async function durationHistogram(ctx: ApiContext): Promise<string> {
  const { durations } = await readCounters(ctx.redis);
  const labels = new Set(Object.keys(durations).map((k) => k.split('|').slice(0, 2).join('|')));
  const out = ['# HELP slipway_deploy_duration_seconds Time from start to end of finished deploys', '# TYPE slipway_deploy_duration_seconds histogram'];
  for (const label of labels) {
    const [kind, status] = label.split('|');
    const l = `kind="${kind}",status="${status}"`;
    for (const bound of [...DURATION_BUCKETS_S.map(String), '+Inf']) {
      out.push(`slipway_deploy_duration_seconds_bucket{${l},le="${bound}"} ${Number(durations[`${label}|${bound}`] ?? 0)}`);
    }
    out.push(`slipway_deploy_duration_seconds_sum{${l}} ${Number(durations[`${label}|sum`] ?? 0)}`);
    out.push(`slipway_deploy_duration_seconds_count{${l}} ${Number(durations[`${label}|+Inf`] ?? 0)}`);
  }
  return `${out.join('\n')}\n`;
}
