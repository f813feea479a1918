/** The issuer SLIPWAY_TLS names, and the gateway's certificates from it. */
import path from 'node:path';
import type { Redis } from 'ioredis';
import { publishCa } from '@slipway/records/tls';
import { dataPaths, type Settings } from '@slipway/runtime/config';
import type { Logger } from '@slipway/runtime/logger';
import { AcmeIssuer } from './acme';
import { Certificates, type Issuer } from './certificates';
import { privateDir } from './files';
import { InternalCa } from './internal-ca';

export async function openCertificates(settings: Readonly<Settings>, redis: Redis, log: Logger): Promise<Certificates> {
  const dir = dataPaths(settings.dataDir).tls;
  await privateDir(dir);
  let issuer: Issuer;
  if (settings.tls === 'internal') {
    const ca = await InternalCa.open(dir);
    await publishCa(redis, ca.certPem);
    issuer = { kind: 'internal', issue: (name) => ca.issue(name, settings.tlsInternalMs), accepts: (pem) => ca.signed(pem) };
  } else {
    const acme = await AcmeIssuer.open({ dir, directoryUrl: settings.acmeUrl, email: settings.acmeEmail, caFile: settings.acmeCaFile, redis });
    issuer = { kind: 'acme', issue: (name) => acme.issue(name), accepts: () => true };
  }
  return Certificates.open(issuer, path.join(dir, 'certs'), redis, log);
}
