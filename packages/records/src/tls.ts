/**
 * What the gateways share through Redis about HTTPS (issue 16): each certificate's status (for the API and
 * the panel), the internal CA's root (public: GET /api/tls/ca.pem), and the ACME HTTP-01 answers, so any
 * gateway can answer the CA's validation. Keys and certificates stay in the gateway's data dir.
 */
import type { Redis } from 'ioredis';
import { CertificateStatusSchema, type CertificateStatus } from '@slipway/contracts/tls';
import { keys } from './redis';

/** A CA validates within minutes; an answer left behind by a crashed gateway goes by itself. */
const CHALLENGE_TTL_S = 3600;

export async function recordCertificate(redis: Redis, status: CertificateStatus): Promise<void> {
  await redis.hset(keys.certificates, status.name, JSON.stringify(status));
}

export async function forgetCertificate(redis: Redis, name: string): Promise<void> {
  await redis.hdel(keys.certificates, name);
}

/** The statuses of these names, in order; `undefined` where the gateway has not taken the name up yet. */
export async function readCertificates(redis: Redis, names: string[]): Promise<Array<CertificateStatus | undefined>> {
  if (!names.length) return [];
  const raw = await redis.hmget(keys.certificates, ...names);
  return raw.map((text) => {
    if (!text) return undefined;
    const parsed = CertificateStatusSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  });
}

export async function publishCa(redis: Redis, pem: string): Promise<void> {
  await redis.set(keys.tlsCa, pem);
}

export async function readCa(redis: Redis): Promise<string | null> {
  return redis.get(keys.tlsCa);
}

export async function putChallenge(redis: Redis, token: string, keyAuthorization: string): Promise<void> {
  await redis.set(keys.acmeChallenge(token), keyAuthorization, 'EX', CHALLENGE_TTL_S);
}

export async function readChallenge(redis: Redis, token: string): Promise<string | null> {
  return redis.get(keys.acmeChallenge(token));
}

export async function dropChallenge(redis: Redis, token: string): Promise<void> {
  await redis.del(keys.acmeChallenge(token));
}
