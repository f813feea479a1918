/**
 * bench/auth: what authentication adds to a request. The API reports the time it spent identifying the
 * caller in a Server-Timing header (`auth;dur=`); this reads it over 2 000 `GET /api/apps` with a bearer
 * token and with a session cookie, next to the whole request's latency.
 *
 *   npx tsx bench/auth.ts [requests=2000]
 */
import { Agent, request } from 'node:http';
import { setUpAdmin } from '../test/helpers/admin';
import { upload, waitForDeploy } from '../test/helpers/api';
import { fixtureTgz } from '../test/helpers/archives';
import { startSlipway } from '../test/helpers/slipway';
import { saveResult } from './lib';

const requests = Number(process.argv[2] ?? 2000);
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function timed(url: URL, headers: Record<string, string>): Promise<{ total: number; auth: number }> {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        const auth = Number(/auth;dur=([\d.]+)/.exec(String(res.headers['server-timing'] ?? ''))?.[1] ?? NaN);
        if (res.statusCode !== 200) return reject(new Error(`answered ${res.statusCode}`));
        resolve({ total: performance.now() - began, auth });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function measure(url: URL, headers: Record<string, string>) {
  const totals: number[] = [];
  const auths: number[] = [];
  for (let i = 0; i < requests; i++) {
    const { total, auth } = await timed(url, headers);
    totals.push(total);
    auths.push(auth);
  }
  const q = (xs: number[], p: number) => Number([...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]!.toFixed(3));
  return { requestP50Ms: q(totals, 0.5), authP50Ms: q(auths, 0.5), authP99Ms: q(auths, 0.99), authShareOfP50: `${((q(auths, 0.5) / q(totals, 0.5)) * 100).toFixed(0)} %` };
}

const slipway = await startSlipway({ env: { SLIPWAY_LOG_LEVEL: 'warn' } });
try {
  for (const name of ['one', 'two', 'three']) {
    const res = await upload(slipway.url, await fixtureTgz('hello', { name, version: '1.0.0' }), `${name}.tgz`);
    await waitForDeploy(slipway.url, res.body.deploy.id);
  }
  // The first-start token ends with the password: the token measured is one the admin made signed in.
  const token = await setUpAdmin(slipway.url, slipway.token, 'bench-password-123');
  const login = await fetch(`${slipway.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'bench-password-123' }) });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const url = new URL(`${slipway.url}/api/apps`);
  const result = {
    date: new Date().toISOString(),
    requests,
    token: await measure(url, { authorization: `Bearer ${token}` }),
    session: await measure(url, { cookie }),
  };
  console.log(JSON.stringify(result, null, 2));
  await saveResult('auth', result);
} finally {
  agent.destroy();
  await slipway.stop();
}
process.exit(0);
