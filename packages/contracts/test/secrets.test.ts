import { describe, expect, it } from 'vitest';
import { isSecretEnv, looksSecret, redactUrl, shannonEntropy } from '../src/secrets';
import { MASK, maskSettings, restoreMasked, DEFAULT_SETTINGS } from '../src/settings';

const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n';

describe('secrets in env, by name or by value (issue 12)', () => {
  it.each([
    ['DB_PASS', 'hunter2'],
    ['DB_PWD', 'hunter2'],
    ['GITHUB_PAT', 'abc'],
    ['SMTP_PASSWORD', 'x'],
    ['STRIPE_SECRET', 'x'],
    ['SLACK_TOKEN', 'x'],
    ['apiKey', 'x'],
    ['SIGNING_KEY', 'x'],
    ['GCP_CREDENTIALS', 'x'],
    ['BASIC_AUTH', 'x'],
    ['SENTRY_DSN', 'https://public@sentry.example.com/1'],
    ['DATABASE_URL', 'postgres://db/x'],
    // By value, whatever the name.
    ['POSTGRES_URL', 'postgres://u:p4ss@db:5432/x'],
    ['AMQP_URL', 'amqp://guest:guest@rabbit/'],
    ['UPSTREAM', 'https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/o/r.git'],
    ['ODD_URL', 'mysql://root:pa/ss@db/x'],
    ['HOOK', 'https://hooks.example.com/in?token=abc123'],
    ['SLACK_HOOK', 'https://hooks.slack.com/services/T0000/B0000/Xy7Qk2LmN9pR4sTvW8zA3bCd'],
    ['TLS', PEM],
    ['SOMETHING', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
    ['SOMETHING', 'a3f9c2e7b1d04f8a9c6e5b2d7f1a0c3e'],
    ['SOMETHING', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWhlcmU'],
    ['SOMETHING', 'Bearer Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA'],
  ])('masks %s=%s', (name, value) => expect(isSecretEnv(name, value)).toBe(true));

  it.each([
    ['NODE_ENV', 'production'],
    ['PORT', '3000'],
    ['LOG_LEVEL', 'debug'],
    ['API_URL', 'https://api.example.com/v1/items'],
    ['PROFILE', 'https://medium.com/@someone/a-post'],
    ['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin'],
    ['GREETING', 'hello again'],
    ['AUTHOR', 'Ada Lovelace'],
    ['REGION', 'production-eu-west-1'],
    ['DATA_DIR', '/var/lib/my_app/uploads/2024'],
    ['NODE_OPTIONS', '--max-old-space-size=4096'],
    ['TZ', 'Europe/Paris'],
    ['FEATURES', 'search,checkout,new-billing-flow'],
  ])('leaves %s=%s in clear', (name, value) => expect(isSecretEnv(name, value)).toBe(false));

  it('measures entropy in bits per character', () => {
    expect(shannonEntropy('aaaa')).toBe(0);
    expect(shannonEntropy('abcd')).toBe(2);
    expect(looksSecret('')).toBe(false);
  });

  it('masks secret env values in the settings answer, and a masked value sent back keeps the stored one', () => {
    const env = { NODE_ENV: 'production', DB_PASS: 'hunter2', POSTGRES_URL: 'postgres://u:p4ss@db/x' };
    const shown = maskSettings({ ...DEFAULT_SETTINGS, env }).env;
    expect(shown).toEqual({ NODE_ENV: 'production', DB_PASS: MASK, POSTGRES_URL: MASK });
    expect(restoreMasked({ ...shown, NODE_ENV: 'staging' }, env)).toEqual({ NODE_ENV: 'staging', DB_PASS: 'hunter2', POSTGRES_URL: 'postgres://u:p4ss@db/x' });
    // A mask for a variable that was never stored is not a value: it is refused rather than stored as bullets.
    expect(() => restoreMasked({ NEW_SECRET: MASK }, env)).toThrow(/NEW_SECRET/);
  });
});

describe('webhook URLs below admin and in logs', () => {
  it.each([
    ['https://hooks.example.com/in?token=abc123', 'https://hooks.example.com/in?••••••••'],
    ['https://user:pw@hooks.example.com/in', 'https://hooks.example.com/in'],
    ['https://hooks.slack.com/services/T0000/B0000/Xy7Qk2LmN9pR4sTvW8zA3bCd', 'https://hooks.slack.com/services/T0000/B0000/••••••••'],
    ['http://10.0.0.5:8080/hook#frag', 'http://10.0.0.5:8080/hook'],
    ['not a url', '••••••••'],
  ])('shows %s as %s', (url, shown) => expect(redactUrl(url)).toBe(shown));

  it('hides webhooks from settings shown below admin', () => {
    const settings = { ...DEFAULT_SETTINGS, webhooks: ['https://x.example.com/h?key=s3cr3t'] };
    expect(maskSettings(settings, { scope: 'read' }).webhooks).toEqual(['https://x.example.com/h?••••••••']);
    expect(maskSettings(settings, { scope: 'admin' }).webhooks).toEqual(settings.webhooks);
  });
});
