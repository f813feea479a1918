/**
 * Deploy webhooks (SPEC §4, issue 4): per app and global (SLIPWAY_WEBHOOK_URLS), a JSON body signed with
 * HMAC-SHA256 (SLIPWAY_WEBHOOK_SECRET), delivered by a queue of their own with retries and backoff, so a
 * receiver that is slow or down never delays a deploy.
 */
import { createHmac } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Deploy } from '@slipway/contracts/deploy';
import type { WorkerContext } from './context';

export const WEBHOOK_QUEUE = 'slipway-webhooks';
const TIMEOUT_MS = 5_000;

export interface WebhookJob {
  url: string;
  event: string;
  body: string;
}

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class Webhooks {
  private readonly queue: Queue<WebhookJob>;
  private worker: Worker<WebhookJob> | null = null;

  constructor(
    private readonly ctx: WorkerContext,
    connection: Redis,
  ) {
    this.queue = new Queue<WebhookJob>(WEBHOOK_QUEUE, { connection });
  }

  /** Queues one delivery per URL; returns at once. */
  async deployFinished(deploy: Deploy): Promise<void> {
    const settings = await this.ctx.store.getSettings(deploy.app);
    const urls = [...new Set([...settings.webhooks, ...this.ctx.settings.webhookUrls])];
    if (!urls.length) return;
    const event = `${deploy.kind}.${deploy.status}`;
    const body = JSON.stringify({ event, deploy, sentAt: new Date().toISOString() });
    await this.queue.addBulk(
      urls.map((url) => ({
        name: event,
        data: { url, event, body },
        opts: { attempts: 6, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: 1000, removeOnFail: 5000 },
      })),
    );
  }

  start(connection: Redis): void {
    this.worker = new Worker<WebhookJob>(WEBHOOK_QUEUE, (job) => this.deliver(job), { connection, concurrency: 4 });
    this.worker.on('error', () => {});
    this.worker.on('failed', (job, err) => {
      if (!job) return;
      const final = job.attemptsMade >= (job.opts.attempts ?? 1);
      this.ctx.log[final ? 'warn' : 'debug']({ url: job.data.url, event: job.data.event, attempt: job.attemptsMade, err: err.message }, final ? 'webhook gave up' : 'webhook failed, will retry');
    });
  }

  private async deliver(job: Job<WebhookJob>): Promise<void> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'Slipway-Webhook/1',
      'x-slipway-event': job.data.event,
      'x-slipway-delivery': String(job.id),
    };
    const secret = this.ctx.settings.webhookSecret;
    if (secret) headers['x-slipway-signature'] = signature(secret, job.data.body);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    try {
      const res = await fetch(job.data.url, { method: 'POST', headers, body: job.data.body, signal: abort.signal, redirect: 'manual' });
      await res.arrayBuffer().catch(() => null);
      if (res.status < 200 || res.status >= 300) throw new Error(`answered ${res.status}`);
      this.ctx.log.debug({ url: job.data.url, event: job.data.event, status: res.status }, 'webhook delivered');
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.worker?.close(), this.queue.close()]);
  }
}
