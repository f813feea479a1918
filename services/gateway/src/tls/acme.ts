/**
 * Certificates from an ACME CA (SLIPWAY_TLS=acme: Let's Encrypt by default, any RFC 8555 directory at
 * SLIPWAY_ACME_URL) with acme-client, by HTTP-01. The CA fetches each answer from the gateway's HTTP port;
 * the answers go through Redis so whichever gateway the CA reaches can give them.
 */
import { readFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import path from 'node:path';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import type { Redis } from 'ioredis';
import { dropChallenge, putChallenge } from '@slipway/records/tls';
import { writePrivate } from './files';
import type { IssuedCertificate } from './internal-ca';

export interface AcmeOptions {
  /** Where the account key is kept (0600). */
  dir: string;
  directoryUrl: string;
  email: string | undefined;
  /** A private ACME server's CA, trusted for the directory besides the system's roots. */
  caFile: string | undefined;
  redis: Redis;
}

export class AcmeIssuer {
  /** The account, registered once: orders placed at once would each register it, and the CA refuses the second. */
  private account: Promise<unknown> | null = null;

  private constructor(
    private readonly client: acme.Client,
    private readonly opts: AcmeOptions,
  ) {}

  static async open(opts: AcmeOptions): Promise<AcmeIssuer> {
    if (opts.caFile) {
      const extra = await readFile(opts.caFile, 'utf8');
      acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, extra] });
    }
    const keyFile = path.join(opts.dir, 'acme-account.pem');
    let accountKey = await readFile(keyFile, 'utf8').catch(() => null);
    if (!accountKey) {
      accountKey = (await acme.crypto.createPrivateEcdsaKey()).toString();
      await writePrivate(keyFile, accountKey);
    }
    return new AcmeIssuer(new acme.Client({ directoryUrl: opts.directoryUrl, accountKey }), opts);
  }

  async issue(name: string): Promise<IssuedCertificate> {
    await this.registered();
    const [key, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, await acme.crypto.createPrivateEcdsaKey());
    const { redis, email } = this.opts;
    const certPem = await this.client.auto({
      csr,
      ...(email ? { email } : {}),
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // acme-client would fetch the answer itself first, at port 80 of a name that may resolve elsewhere
      // from here (split DNS, a NAT): the CA's own check is the one that counts.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01') throw new Error(`the CA offered ${challenge.type}; Slipway answers http-01 only`);
        await putChallenge(redis, challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        await dropChallenge(redis, challenge.token);
      },
    });
    return { certPem, keyPem: key.toString() };
  }

  private registered(): Promise<unknown> {
    const { email } = this.opts;
    this.account ??= this.client.createAccount({ termsOfServiceAgreed: true, ...(email ? { contact: [`mailto:${email}`] } : {}) }).catch((err: unknown) => {
      this.account = null;
      throw err;
    });
    return this.account;
  }
}
