/**
 * HTTPS (issue 16, SPEC §1): what the gateway says of its certificates. A status names a host name, who
 * issued its certificate and until when; the certificate and its key never leave the gateway's data dir.
 */
import { z } from 'zod';

export const TlsModeSchema = z.enum(['off', 'internal', 'acme']);
export type TlsMode = z.infer<typeof TlsModeSchema>;

export const CertificateStatusSchema = z.object({
  name: z.string(),
  /** `pending`: wanted, not issued yet; `failed`: the last attempt failed (`error`), tried again later. */
  state: z.enum(['valid', 'pending', 'failed']),
  issuer: z.enum(['internal', 'acme']),
  notBefore: z.string().nullable(),
  notAfter: z.string().nullable(),
  /** When it is renewed (two thirds of its lifetime). */
  renewAt: z.string().nullable(),
  error: z.string().optional(),
  updatedAt: z.string(),
});
export type CertificateStatus = z.infer<typeof CertificateStatusSchema>;

/** Lifetime passed before a certificate is renewed: Let's Encrypt's 90 days renew with 30 left, as certbot does. */
export const RENEW_AFTER = 2 / 3;

/** Names an ACME CA cannot validate over the Internet: the internal CA still serves them. */
export function acmeCanIssue(name: string): boolean {
  return !/(^|\.)localhost$/.test(name) && !/^[\d.]+$/.test(name) && !name.includes(':');
}
