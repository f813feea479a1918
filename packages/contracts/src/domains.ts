/**
 * Custom domains (issue 16, SPEC §4): host names an app answers on through the gateway, beside
 * `<app>.<SLIPWAY_DOMAIN>`. Each belongs to one app at most (`409 domain_taken`).
 */
import { z } from 'zod';

/** RFC 1123 host names, lowercase, with a dot (a bare `localhost` or `intranet` is a name, not a domain here). */
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
export const DOMAIN_RE = new RegExp(`^(?=.{4,253}$)${LABEL}(?:\\.${LABEL})+$`);

export const DomainSchema = z
  .string()
  .transform((d) => d.trim().toLowerCase().replace(/\.$/, ''))
  .pipe(z.string().regex(DOMAIN_RE, 'a host name such as "shop.example.com" (letters, digits, dashes and dots; no scheme, port or path)'));

export const DomainsSchema = z
  .array(DomainSchema)
  .max(20)
  .refine((domains) => new Set(domains).size === domains.length, 'a domain is listed twice');

/** A domain under Slipway's own suffix would shadow `<app>.<SLIPWAY_DOMAIN>` names: never a custom one. */
export function isUnderSuffix(domain: string, suffix: string): boolean {
  const s = suffix.toLowerCase();
  return domain === s || domain.endsWith(`.${s}`);
}
