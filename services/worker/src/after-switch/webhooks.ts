/**
 * Deploy webhooks (SPEC §4, issue 4): per app and global (SLIPWAY_WEBHOOK_URLS), a JSON body signed with
 * HMAC-SHA256 (SLIPWAY_WEBHOOK_SECRET), delivered by a queue of their own with retries and backoff, so a
 * receiver that is slow or down never delays a deploy.
 * Issue 12: a URL is logged only redacted (it often carries a token), and only public targets are reached
 * unless SLIPWAY_WEBHOOK_ALLOW_PRIVATE=true — judged on the address connected to, after DNS.
 */
import { createHmac } from 'node:crypto';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Deploy } from '@slipway/contracts/deploy';
import { redactUrl } from '@slipway/contracts/secrets';
import { publicOnlyLookup, refusedTarget, TargetRefusedError } from '@slipway/runtime/webhook-target';
import type { WorkerContext } from '../context';

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
      const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
      const fields = { url: redactUrl(job.data.url), event: job.data.event, attempt: job.attemptsMade, err: scrub(err.message, job.data.url) };
      this.ctx.log[final ? 'warn' : 'debug'](fields, final ? 'webhook gave up' : 'webhook failed, will retry');
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
    try {
      const status = await post(job.data.url, headers, job.data.body, this.ctx.settings.webhookAllowPrivate);
      if (status < 200 || status >= 300) throw new Error(`answered ${status}`);
      this.ctx.log.debug({ url: redactUrl(job.data.url), event: job.data.event, status }, 'webhook delivered');
    } catch (err) {
      // Retrying cannot make a refused target acceptable: the job ends at once.
      if (err instanceof TargetRefusedError) throw new UnrecoverableError(`target refused: ${err.message}`);
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.worker?.close(), this.queue.close()]);
  }
}

/**
 * One POST without following redirects. Node's own fetch refuses URLs with userinfo and cannot pin the
 * address it connects to; http.request sends userinfo as Basic auth and takes a checking `lookup`.
 */
export function post(raw: string, headers: Record<string, string>, body: string, allowPrivate: boolean): Promise<number> {
  // A literal address is never looked up, so it is judged here.
  const refused = allowPrivate ? null : refusedTarget(raw);
  if (refused) return Promise.reject(new TargetRefusedError(refused));
  const url = new URL(raw);
  const options: RequestOptions = {
    method: 'POST',
    headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    // A fresh connection each time: a pooled one would skip the lookup that checks the address.
    agent: false,
    ...(url.username || url.password ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` } : {}),
    ...(allowPrivate ? {} : { lookup: publicOnlyLookup as RequestOptions['lookup'] }),
  };
  url.username = '';
  url.password = '';
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, options, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    // The whole exchange, not each pause: a receiver dripping bytes cannot hold a delivery slot.
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end(body);
  });
}

/** An error message as logged: a URL it quotes is shown redacted. */
function scrub(message: string, url: string): string {
  return message.split(url).join(redactUrl(url)).replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"']+/gi, (u) => redactUrl(u));
}
