/**
 * What counts as a secret in an app's settings (issue 12): names alone miss `POSTGRES_URL=postgres://u:pw@…`
 * or a token pasted under any name, so values are judged too. Pure, and free of Node APIs: the panel may use it.
 * Erring towards masking is cheap (the value still reaches the container); a leak is not.
 */
export const MASK = '••••••••';

/** Name words that mean a secret (`DB_PASS`, `apiKey`, `GITHUB_PAT`), matched per word so `PATH` or `AUTHOR` stay clear. */
const SECRET_WORDS = new Set([
  'PASS', 'PASSWD', 'PASSWORD', 'PASSWORDS', 'PWD', 'PASSPHRASE', 'SECRET', 'SECRETS', 'TOKEN', 'TOKENS', 'KEY', 'KEYS', 'APIKEY',
  'PAT', 'CREDENTIAL', 'CREDENTIALS', 'CREDS', 'AUTH', 'OAUTH', 'AUTHTOKEN', 'AUTHORIZATION', 'PRIVATE', 'SESSION', 'COOKIE',
  'SALT', 'DSN', 'SIGNATURE', 'MONGO',
]);
/** Inside a longer word too (`DBPASSWORD`, `CLIENTSECRET`). */
const SECRET_PARTS = /(PASSW|SECRET|TOKEN|CREDENTIAL|PASSPHRASE|APIKEY|PRIVATEKEY)/;
/** Names that held connection strings before values were judged: kept masked whatever they hold. */
const SECRET_NAMES = new Set(['DATABASE_URL', 'REDIS_URL']);

function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
    .split(/[^A-Z0-9]+/)
    .filter(Boolean);
}

export function isSecretName(name: string): boolean {
  const upper = name.toUpperCase();
  return SECRET_NAMES.has(upper) || SECRET_PARTS.test(upper.replace(/[^A-Z0-9]/g, '')) || words(name).some((w) => SECRET_WORDS.has(w));
}

/** Bits per character of the string's own character distribution. */
export function shannonEntropy(s: string): number {
  if (!s) return 0;
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** Prefixes of well-known credentials (GitHub, GitLab, Slack, Stripe, npm, AWS, Slipway's own). */
const KNOWN_TOKEN = /^(gh[pousr]_|github_pat_|glpat-|xox[abprs]-|sk_(live|test)_|rk_live_|npm_|slw_|AKIA[0-9A-Z]{12,}|eyJ[\w-]+\.eyJ)/;

/**
 * A token that looks generated rather than written: long, in a base64/hex alphabet, mixing character
 * classes, and close to random. Hex needs more length (its alphabet caps entropy at 4 bits).
 */
export function looksRandom(token: string, minLength = 20): boolean {
  if (token.length < minLength || !/^[A-Za-z0-9+/=_.~-]+$/.test(token)) return false;
  if (KNOWN_TOKEN.test(token)) return true;
  const hex = /^[0-9a-f]+$/i.test(token);
  if (hex) return token.length >= 32 && shannonEntropy(token) >= 3;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/].filter((re) => re.test(token)).length;
  // Words joined by separators ("production-eu-west-1") have many separators and little randomness.
  const separators = (token.match(/[-_.]/g) ?? []).length;
  if (classes < 2 || separators > token.length / 8) return false;
  return shannonEntropy(token) >= (classes === 3 ? 3.5 : 4);
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** `scheme://user:pass@host`, `scheme://token@host`, even with an unencoded `/` in the password. */
function urlHasCredentials(value: string): boolean {
  const rest = value.replace(SCHEME, '');
  const authority = rest.split(/[/?#]/, 1)[0] ?? '';
  if (authority.includes('@')) return true;
  const at = rest.lastIndexOf('@');
  if (at < 0) return false;
  const before = rest.slice(0, at);
  const colon = before.indexOf(':');
  return colon >= 0 && !before.slice(0, colon).includes('/');
}

function queryHasSecret(value: string): boolean {
  const query = value.split('#', 1)[0]!.split('?').slice(1).join('?');
  return query.split('&').some((pair) => {
    const [name = '', val = ''] = pair.split('=');
    return (isSecretName(decodeSafe(name)) && val !== '') || looksRandom(decodeSafe(val));
  });
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** A value that is a secret whatever its name: a PEM block, a URL carrying credentials, a generated token. */
export function looksSecret(value: string): boolean {
  if (!value) return false;
  if (/-----BEGIN [A-Z0-9 ]+-----/.test(value)) return true;
  if (SCHEME.test(value.trim())) {
    const url = value.trim();
    if (urlHasCredentials(url) || queryHasSecret(url)) return true;
    const path = url.replace(SCHEME, '').split(/[?#]/, 1)[0]!;
    return path.split('/').some((segment) => looksRandom(decodeSafe(segment)));
  }
  return value.split(/[\s,;:=&?#@'"()<>[\]{}|\\]+/).some((token) => looksRandom(token) || token.split('/').some((piece) => looksRandom(piece)));
}

export function isSecretEnv(name: string, value: string): boolean {
  return isSecretName(name) || looksSecret(value);
}

/**
 * A URL as shown to those who may not hold its secrets and as written to logs: scheme, host, port and
 * path, without userinfo or fragment; the query and token-like path segments replaced by MASK.
 */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return MASK;
  }
  if (!url.host) return MASK;
  const path = url.pathname
    .split('/')
    .map((segment) => (looksRandom(decodeSafe(segment)) ? MASK : segment))
    .join('/');
  return `${url.protocol}//${url.host}${path}${url.search ? `?${MASK}` : ''}`;
}
