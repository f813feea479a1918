/**
 * Slipway's own CA (SLIPWAY_TLS=internal): HTTPS with no outside party, for air-gapped installs and
 * development. The root is made once and kept under the data dir (0600); users trust it by downloading
 * `GET /api/tls/ca.pem`. Its key never leaves this process and its folder.
 */
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { writePrivate } from './files';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as never);

/** ECDSA P-256: every client of the last ten years speaks it, and a key takes a millisecond to make. */
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const CA_YEARS = 10;
/** Clocks of clients run a little behind: a certificate is valid from a minute before it is made. */
const BACKDATE_MS = 60_000;
/** …or a tenth of its lifetime when that is shorter, so the renewal still comes at two thirds of it. */
const backdate = (lifetimeMs: number) => Math.min(BACKDATE_MS, lifetimeMs / 10);

export interface IssuedCertificate {
  /** The certificate chain, leaf first (PEM). */
  certPem: string;
  keyPem: string;
}

export class InternalCa {
  private constructor(
    readonly certPem: string,
    private readonly cert: x509.X509Certificate,
    private readonly key: CryptoKey,
  ) {}

  /** The CA kept in `dir`, or a new one written there. */
  static async open(dir: string): Promise<InternalCa> {
    const certFile = path.join(dir, 'ca.pem');
    const keyFile = path.join(dir, 'ca-key.pem');
    const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8').catch(() => null), readFile(keyFile, 'utf8').catch(() => null)]);
    if (certPem && keyPem) return new InternalCa(certPem, new x509.X509Certificate(certPem), await importKey(keyPem));

    const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=Slipway local CA ${randomBytes(3).toString('hex')}, O=Slipway`,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + CA_YEARS * 365 * 24 * 3600_000),
      signingAlgorithm: ALG,
      keys: keys as CryptoKeyPair,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as CryptoKey),
      ],
    });
    const pem = cert.toString('pem');
    // The key first: a CA certificate without its key would be taken for a whole CA at the next start.
    await writePrivate(keyFile, await exportKey(keys.privateKey as CryptoKey));
    await writePrivate(certFile, pem);
    return new InternalCa(pem, cert, keys.privateKey as CryptoKey);
  }

  /** A certificate for one host name, valid for `lifetimeMs`. */
  async issue(name: string, lifetimeMs: number): Promise<IssuedCertificate> {
    const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${name}`,
      issuer: this.cert.subject,
      notBefore: new Date(now - backdate(lifetimeMs)),
      notAfter: new Date(now + lifetimeMs),
      signingAlgorithm: ALG,
      publicKey: keys.publicKey as CryptoKey,
      signingKey: this.key,
      extensions: [
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: name }]),
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        await x509.AuthorityKeyIdentifierExtension.create(this.cert),
      ],
    });
    return { certPem: cert.toString('pem'), keyPem: await exportKey(keys.privateKey as CryptoKey) };
  }

  /** Whether a kept certificate was signed by this CA (a CA made again orphans the old ones). */
  signed(certPem: string): boolean {
    try {
      const [leaf, ca] = [new X509Certificate(certPem), new X509Certificate(this.certPem)];
      return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
    } catch {
      return false;
    }
  }
}

/** A positive 128-bit serial (RFC 5280 §4.1.2.2: unique per CA, at most 20 octets). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  return bytes.toString('hex');
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']) as Promise<CryptoKey>;
}
