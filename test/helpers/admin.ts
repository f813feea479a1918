/**
 * After the admin's password is set, the first-start token (SLIPWAY_ADMIN_TOKEN in tests) has ended, and
 * so has every token made with it (SPEC §5). Tests that go on as admin sign in and make a token of their own.
 */
import { tokens } from './api';

export interface SignedIn {
  cookie: string;
  csrf: string;
}

export async function signIn(base: string, username: string, password: string): Promise<SignedIn> {
  const res = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }), signal: AbortSignal.timeout(30_000) });
  if (res.status !== 200) throw new Error(`signing in as ${username}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { csrf: string };
  return { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: body.csrf };
}

/** A token made signed in as `username` (a root: nothing ends it but its own revocation or expiry). */
export async function tokenSignedIn(base: string, username: string, password: string, scope = 'admin'): Promise<string> {
  const { cookie, csrf } = await signIn(base, username, password);
  const res = await fetch(`${base}/api/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-slipway-csrf': csrf, origin: base },
    body: JSON.stringify({ name: `tests-${scope}`, scope }),
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status !== 201) throw new Error(`making a token as ${username}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** Sets the admin password with the first-start token, then makes the test's API calls use a token of the admin's own. */
export async function setUpAdmin(base: string, firstStartToken: string, password: string): Promise<string> {
  const res = await fetch(`${base}/api/auth/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: firstStartToken, password }), signal: AbortSignal.timeout(30_000) });
  if (res.status !== 200) throw new Error(`setup: ${res.status} ${await res.text()}`);
  return adoptAdminToken(base, password);
}

/** After a setup done elsewhere (the panel): the test's calls to `base` go on with a token the admin made. */
export async function adoptAdminToken(base: string, password: string): Promise<string> {
  const token = await tokenSignedIn(base, 'admin', password);
  tokens.set(base, token);
  return token;
}
