import { describe, expect, it } from 'vitest';
import { AppSettingsPatchSchema, AppSettingsSchema } from '../src/settings';
import { acmeCanIssue } from '../src/tls';

describe('HTTPS contracts', () => {
  it('asks an ACME CA only for names it could validate', () => {
    for (const name of ['shop.example.com', 'a.b.example.org', 'localhost.example.com']) expect(acmeCanIssue(name), name).toBe(true);
    for (const name of ['hello.localhost', 'localhost', '127.0.0.1', '::1']) expect(acmeCanIssue(name), name).toBe(false);
  });

  it('takes httpsRedirect as a boolean, off by default', () => {
    expect(AppSettingsSchema.parse({}).httpsRedirect).toBe(false);
    expect(AppSettingsPatchSchema.parse({ httpsRedirect: true })).toEqual({ httpsRedirect: true });
    expect(AppSettingsPatchSchema.safeParse({ httpsRedirect: 'yes' }).success).toBe(false);
  });
});
