/**
 * Who owns which custom domain (issue 16): one hash, changed by one script so two apps claiming the same
 * domain at once cannot both get it. The gateways hold a copy, reloaded when told on the domains channel.
 */
import type { Redis } from 'ioredis';
import { keys } from './redis';

/** Claims `domains` for `app` and releases the app's others, or changes nothing and names the first taken one. */
const CLAIM = `
for i = 2, #ARGV do
  local owner = redis.call('HGET', KEYS[1], ARGV[i])
  if owner and owner ~= ARGV[1] then return {ARGV[i], owner} end
end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i + 1] == ARGV[1] then
    local kept = false
    for j = 2, #ARGV do if ARGV[j] == all[i] then kept = true end end
    if not kept then redis.call('HDEL', KEYS[1], all[i]) end
  end
end
for i = 2, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], ARGV[1]) end
return {}
`;

export async function claimDomains(redis: Redis, app: string, domains: string[]): Promise<{ domain: string; owner: string } | null> {
  const taken = (await redis.eval(CLAIM, 1, keys.domains, app, ...domains)) as string[];
  if (taken.length) return { domain: taken[0]!, owner: taken[1]! };
  await redis.publish(keys.domainsChannel, app);
  return null;
}

export async function releaseDomains(redis: Redis, app: string): Promise<void> {
  await claimDomains(redis, app, []);
  await setHttpsRedirect(redis, app, false);
}

/** The app's `httpsRedirect` setting, where the gateways read it (they never read settings). */
export async function setHttpsRedirect(redis: Redis, app: string, on: boolean): Promise<void> {
  const changed = on ? await redis.sadd(keys.httpsRedirects, app) : await redis.srem(keys.httpsRedirects, app);
  if (changed) await redis.publish(keys.domainsChannel, app);
}

/** Apps whose plain-HTTP requests go to HTTPS. */
export async function readHttpsRedirects(redis: Redis): Promise<Set<string>> {
  return new Set(await redis.smembers(keys.httpsRedirects));
}

/** Every custom domain and its app. */
export async function readDomains(redis: Redis): Promise<Map<string, string>> {
  return new Map(Object.entries(await redis.hgetall(keys.domains)));
}
