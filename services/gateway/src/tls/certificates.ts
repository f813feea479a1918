/**
 * The gateway's certificates (issue 16): one per host name an app answers on, obtained as soon as the name
 * is known (an app registered, a domain claimed) so that no request waits for issuance, kept on disk
 * (0600) across restarts, and renewed when two thirds of its lifetime have passed. A renewed certificate
 * replaces the old one for new connections; open ones keep theirs, so a renewal fails no request.
 */
import { X509Certificate } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Redis } from 'ioredis';
import { acmeCanIssue, RENEW_AFTER, type CertificateStatus } from '@slipway/contracts/tls';
import { keys } from '@slipway/records/redis';
import { forgetCertificate, recordCertificate } from '@slipway/records/tls';
import type { Logger } from '@slipway/runtime/logger';
import { writePrivate } from './files';
import type { IssuedCertificate } from './internal-ca';

export interface Issuer {
  kind: 'internal' | 'acme';
  issue(name: string): Promise<IssuedCertificate>;
  /** Whether a certificate kept on disk is still this issuer's to serve. */
  accepts(certPem: string): boolean;
}

interface Held {
  context: SecureContext;
  notBefore: number;
  notAfter: number;
  renewAt: number;
  timer: NodeJS.Timeout;
}

/** setTimeout's longest wait; a renewal further off is re-checked then. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const RETRY_MIN_MS = 30_000;
const RETRY_MAX_MS = 3600_000;
/** Host names as the route table holds them; each becomes a file name, so nothing else is taken. */
const HOST_NAME = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/;

export class Certificates {
  private readonly held = new Map<string, Held>();
  private wanted = new Set<string>();
  private readonly working = new Map<string, Promise<void>>();
  private readonly retries = new Map<string, { count: number; timer: NodeJS.Timeout }>();
  private closed = false;

  private constructor(
    private readonly issuer: Issuer,
    private readonly dir: string,
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {}

  /** Certificates kept in `dir` by `issuer`, loaded; expired ones and those of another CA are left out. */
  static async open(issuer: Issuer, dir: string, redis: Redis, log: Logger): Promise<Certificates> {
    const store = new Certificates(issuer, path.join(dir, issuer.kind), redis, log);
    const files = await readdir(store.dir).catch(() => [] as string[]);
    for (const file of files.filter((f) => f.endsWith('.pem'))) {
      const name = file.slice(0, -'.pem'.length);
      try {
        const text = await readFile(path.join(store.dir, file), 'utf8');
        const certPem = text.slice(text.indexOf('-----BEGIN CERTIFICATE-----'));
        const fresh = Date.parse(new X509Certificate(certPem).validTo) > Date.now();
        if (fresh && issuer.accepts(certPem)) store.hold(name, { keyPem: text.slice(0, text.indexOf('-----BEGIN CERTIFICATE-----')), certPem });
      } catch (err) {
        log.warn({ name, err: (err as Error).message }, 'a kept certificate could not be read; a new one is obtained');
      }
    }
    return store;
  }

  /** For the HTTPS server's SNI: the name's certificate, or a refused handshake. */
  readonly sni = (servername: string, done: (err: Error | null, context?: SecureContext) => void): void => {
    const name = servername.toLowerCase();
    const held = this.held.get(name);
    if (held) return done(null, held.context);
    // The internal CA issues in a millisecond: a name seen before its route announcement is served at once.
    if (this.wanted.has(name) && this.issuer.kind === 'internal') {
      void this.obtain(name).then(() => {
        const now = this.held.get(name);
        done(now ? null : new Error(`no certificate for ${name} yet`), now?.context);
      });
      return;
    }
    done(new Error(this.wanted.has(name) ? `no certificate for ${name} yet` : `no app answers on ${name}`));
  };

  /** The names to hold certificates for: new ones are obtained, those no longer named are dropped. */
  want(names: Iterable<string>): void {
    if (this.closed) return;
    const next = new Set([...names].filter((n) => HOST_NAME.test(n) && (this.issuer.kind === 'internal' || acmeCanIssue(n))));
    for (const name of new Set([...this.wanted, ...this.held.keys()])) {
      if (!next.has(name)) void this.drop(name).catch((err: Error) => this.log.warn({ name, err: err.message }, 'could not forget a certificate no app needs'));
    }
    this.wanted = next;
    for (const name of next) if (!this.held.has(name) && !this.retries.has(name)) void this.obtain(name);
  }

  /** Statuses of names no gateway wants any more (an app deleted while the gateway was down). */
  async forgetOthers(): Promise<void> {
    const recorded = await this.redis.hkeys(keys.certificates);
    for (const name of recorded) if (!this.wanted.has(name)) await forgetCertificate(this.redis, name);
  }

  close(): void {
    this.closed = true;
    for (const held of this.held.values()) clearTimeout(held.timer);
    for (const retry of this.retries.values()) clearTimeout(retry.timer);
  }

  private obtain(name: string): Promise<void> {
    const running = this.working.get(name);
    if (running) return running;
    // Never rejects: Redis away while a status is written must not take the gateway down with it.
    const work = this.issueAndKeep(name)
      .catch((err: Error) => this.log.warn({ name, err: err.message }, 'certificate work failed; tried again at the next change or reload'))
      .finally(() => this.working.delete(name));
    this.working.set(name, work);
    return work;
  }

  private async issueAndKeep(name: string): Promise<void> {
    const began = Date.now();
    const current = this.held.get(name);
    if (!current) await this.record(name, { state: 'pending' });
    try {
      const issued = await this.issuer.issue(name);
      if (!this.wanted.has(name) || this.closed) return;
      await writePrivate(this.file(name), issued.keyPem + issued.certPem);
      this.hold(name, issued);
      this.clearRetry(name);
      this.log.info({ name, issuer: this.issuer.kind, ms: Date.now() - began, renewed: Boolean(current) }, current ? 'certificate renewed' : 'certificate issued');
    } catch (err) {
      const message = (err as Error).message.slice(0, 500);
      const count = (this.retries.get(name)?.count ?? 0) + 1;
      const waitMs = Math.min(RETRY_MIN_MS * 2 ** (count - 1), RETRY_MAX_MS);
      this.clearRetry(name);
      const timer = setTimeout(() => {
        this.retries.delete(name);
        if (this.wanted.has(name)) void this.obtain(name);
      }, waitMs);
      timer.unref();
      this.retries.set(name, { count, timer });
      this.log.warn({ name, issuer: this.issuer.kind, err: message, retryInS: Math.round(waitMs / 1000) }, current ? 'certificate renewal failed; the current one is served meanwhile' : 'certificate could not be obtained');
      // A certificate still valid stays "valid": the failure shows in the log and the next attempt.
      if (!current) await this.record(name, { state: 'failed', error: message });
    }
  }

  private hold(name: string, issued: IssuedCertificate): void {
    const cert = new X509Certificate(issued.certPem);
    const notBefore = Date.parse(cert.validFrom);
    const notAfter = Date.parse(cert.validTo);
    const renewAt = notBefore + (notAfter - notBefore) * RENEW_AFTER;
    clearTimeout(this.held.get(name)?.timer);
    const timer = setTimeout(() => this.renewIfDue(name), Math.min(Math.max(renewAt - Date.now(), 0), MAX_TIMER_MS));
    timer.unref();
    this.held.set(name, { context: createSecureContext({ key: issued.keyPem, cert: issued.certPem }), notBefore, notAfter, renewAt, timer });
    void this.record(name, { state: 'valid' }).catch((err: Error) => this.log.warn({ name, err: err.message }, 'could not record a certificate\'s status'));
  }

  private renewIfDue(name: string): void {
    const held = this.held.get(name);
    if (!held || this.closed) return;
    if (Date.now() < held.renewAt) {
      held.timer = setTimeout(() => this.renewIfDue(name), Math.min(held.renewAt - Date.now(), MAX_TIMER_MS));
      held.timer.unref();
      return;
    }
    void this.obtain(name);
  }

  private async drop(name: string): Promise<void> {
    clearTimeout(this.held.get(name)?.timer);
    this.held.delete(name);
    this.clearRetry(name);
    await rm(this.file(name), { force: true });
    await forgetCertificate(this.redis, name);
  }

  private clearRetry(name: string): void {
    clearTimeout(this.retries.get(name)?.timer);
    this.retries.delete(name);
  }

  private file(name: string): string {
    // Only HOST_NAME names are wanted: letters, digits, dots and dashes, never a path.
    return path.join(this.dir, `${name}.pem`);
  }

  private async record(name: string, change: Pick<CertificateStatus, 'state' | 'error'>): Promise<void> {
    const held = this.held.get(name);
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    await recordCertificate(this.redis, {
      name,
      issuer: this.issuer.kind,
      notBefore: iso(held?.notBefore),
      notAfter: iso(held?.notAfter),
      renewAt: iso(held?.renewAt),
      ...change,
      updatedAt: new Date().toISOString(),
    });
  }
}
