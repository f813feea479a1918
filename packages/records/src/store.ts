/**
 * Slipway's records in Redis: deploys, apps, versions. The API creates deploys, the worker moves them on;
 * both read. Docker labels stay the source of truth for what runs (the worker reconciles at start).
 */
import type { Redis } from 'ioredis';
import { DeploySchema, type Deploy } from '@slipway/contracts/deploy';
import { AppSettingsSchema, DEFAULT_SETTINGS, type AppSettings } from '@slipway/contracts/settings';
import { releaseDomains } from './domains';
import { keys } from './redis';
import { volumeName, type VolumeInfo } from '@slipway/contracts/volumes';
import type { AppKind } from '@slipway/contracts/app';

/** `ok`: ran and its image is kept; `pruned`: ran, image removed by retention (archive kept). */
export type VersionState = 'pending' | 'ok' | 'failed' | 'pruned';

export interface VersionRecord {
  version: string;
  image: string;
  deployId: string;
  state: VersionState;
  createdAt: string;
  /** The upload it was built from, kept so a pruned version can be built again. */
  archivePath?: string;
  /** When it last became the running version. */
  deployedAt?: string;
  /** How it was built (issue 15), and for sites the folder served and its file count. */
  kind?: AppKind;
  site?: { dir: string; files: number };
}

/** One container of the app's current version (its `instances` setting makes several). */
export interface Replica {
  containerId: string;
  /** The published host port: the key the gateways count in-flight requests and drains by. */
  port: number;
  address?: string | undefined;
  /** Under Swarm: the address of the node the task runs on, where `port` is published. */
  node?: string | undefined;
}

/** What the app currently runs; written by the worker at switch time. */
export interface AppRecord {
  current?: string | undefined;
  previous?: string | undefined;
  port?: number | undefined;
  /**
   * `ip:port` of the container on its app network: where the gateway sends requests, skipping the engine's
   * userland proxy on the published port. Unset under Swarm (the published port is the way in).
   */
  address?: string | undefined;
  containerId?: string | undefined;
  startedAt?: string | undefined;
  /** `stopped` after POST /stop; the container is kept and the gateway answers 503. */
  status?: 'running' | 'stopped' | undefined;
  /**
   * Every container of the current version, the first being the one `containerId`, `port` and `address`
   * name. Unset in records written before instances (one container: those three fields).
   */
  replicas?: Replica[] | undefined;
}

/** The containers of the app's current version. */
export function replicasOf(record: AppRecord): Replica[] {
  if (record.replicas?.length) return record.replicas;
  return record.containerId && record.port ? [{ containerId: record.containerId, port: record.port, address: record.address }] : [];
}

// A version can be reserved again only when its earlier attempt failed, or when it was pruned and is
// being built again from its kept archive: versions are immutable (SPEC §2),
// but a build that never produced a running version should not block fixing it under the same number.
const RESERVE_VERSION = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local rec = cjson.decode(cur)
  if rec.state ~= 'failed' and not (rec.state == 'pruned' and ARGV[3] == 'rebuild') then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

// Only the deploy that holds a reservation may settle it (a late, retried job must not overwrite a newer one).
const SETTLE_VERSION = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local rec = cjson.decode(cur)
if rec.deployId ~= ARGV[2] then return 0 end
rec.state = ARGV[3]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return 1
`;

/** Only while the version is still that failed deploy's: a new upload of it may have taken the slot. */
const FORGET_ARCHIVE = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local rec = cjson.decode(cur)
if rec.deployId ~= ARGV[2] or rec.state ~= 'failed' then return 0 end
rec.archivePath = nil
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return 1
`;

/** A deploy record that existed is gone: Redis was emptied or replaced under a running deploy. */
export class RecordLostError extends Error {
  constructor(readonly deployId: string) {
    super(`deploy ${deployId} vanished from Redis`);
  }
}

export class Store {
  constructor(readonly redis: Redis) {}

  async createDeploy(deploy: Deploy): Promise<void> {
    const score = Date.parse(deploy.createdAt);
    await this.redis
      .multi()
      .hset(keys.deploy(deploy.id), encode(deploy))
      .zadd(keys.deploys, score, deploy.id)
      .zadd(keys.appDeploys(deploy.app), score, deploy.id)
      .sadd(keys.apps, deploy.app)
      .exec();
  }

  async getDeploy(id: string): Promise<Deploy | null> {
    const hash = await this.redis.hgetall(keys.deploy(id));
    return Object.keys(hash).length ? decode(hash) : null;
  }

  /** Fields set to `undefined` are removed (e.g. `error` when a job is retried). */
  async updateDeploy(id: string, patch: Partial<Omit<Deploy, 'id'>>): Promise<Deploy> {
    const set: Record<string, string> = {};
    const del: string[] = [];
    for (const [field, value] of Object.entries(patch)) {
      if (value === undefined) del.push(field);
      else set[field] = typeof value === 'string' ? value : JSON.stringify(value);
    }
    // HSET on a missing key would create a partial record; a lost record must stay lost and be reported.
    if (!(await this.redis.exists(keys.deploy(id)))) throw new RecordLostError(id);
    const tx = this.redis.multi();
    if (Object.keys(set).length) tx.hset(keys.deploy(id), set);
    if (del.length) tx.hdel(keys.deploy(id), ...del);
    tx.hgetall(keys.deploy(id));
    const results = await tx.exec();
    const hash = results?.at(-1)?.[1] as Record<string, string> | undefined;
    if (!hash || !Object.keys(hash).length) throw new RecordLostError(id);
    return decode(hash);
  }

  async listDeploys(opts: { app?: string | undefined; limit: number }): Promise<Deploy[]> {
    const index = opts.app ? keys.appDeploys(opts.app) : keys.deploys;
    const ids = await this.redis.zrevrange(index, 0, opts.limit - 1);
    return this.getDeploys(ids);
  }

  async getDeploys(ids: string[]): Promise<Deploy[]> {
    if (!ids.length) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(keys.deploy(id));
    const results = (await pipe.exec()) ?? [];
    return results
      .map(([, hash]) => hash as Record<string, string>)
      .filter((hash) => hash && Object.keys(hash).length)
      .map(decode);
  }

  /** Deploys in a given status, scanning the newest `window` (used by reconciliation). */
  async deploysWithStatus(statuses: Deploy['status'][], window = 1000): Promise<Deploy[]> {
    const all = await this.listDeploys({ limit: window });
    return all.filter((d) => statuses.includes(d.status));
  }

  /** false when the version exists (or is being deployed) already. */
  async reserveVersion(record: VersionRecord & { app: string }, opts: { rebuild?: boolean } = {}): Promise<boolean> {
    const { app, ...rest } = record;
    const ok = await this.redis.eval(RESERVE_VERSION, 1, keys.appVersions(app), rest.version, JSON.stringify(rest), opts.rebuild ? 'rebuild' : '');
    return ok === 1;
  }

  async settleVersion(app: string, version: string, deployId: string, state: VersionState): Promise<boolean> {
    const ok = await this.redis.eval(SETTLE_VERSION, 1, keys.appVersions(app), version, deployId, state);
    return ok === 1;
  }

  /** True when the failed version's record no longer points at its archive (the caller deletes the file). */
  async forgetFailedArchive(app: string, version: string, deployId: string): Promise<boolean> {
    const ok = await this.redis.eval(FORGET_ARCHIVE, 1, keys.appVersions(app), version, deployId);
    return ok === 1;
  }

  async getVersion(app: string, version: string): Promise<VersionRecord | null> {
    const raw = await this.redis.hget(keys.appVersions(app), version);
    return raw ? (JSON.parse(raw) as VersionRecord) : null;
  }

  async getVersions(app: string): Promise<VersionRecord[]> {
    const hash = await this.redis.hgetall(keys.appVersions(app));
    return Object.values(hash)
      .map((raw) => JSON.parse(raw) as VersionRecord)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async putVersion(app: string, record: VersionRecord): Promise<void> {
    await this.redis.multi().hset(keys.appVersions(app), record.version, JSON.stringify(record)).sadd(keys.apps, app).exec();
  }

  async getAppRecord(app: string): Promise<AppRecord> {
    const hash = await this.redis.hgetall(keys.app(app));
    return {
      current: hash.current || undefined,
      previous: hash.previous || undefined,
      port: hash.port ? Number(hash.port) : undefined,
      address: hash.address || undefined,
      containerId: hash.containerId || undefined,
      startedAt: hash.startedAt || undefined,
      status: hash.status === 'stopped' ? 'stopped' : hash.current ? 'running' : undefined,
      replicas: hash.replicas ? parseReplicas(hash.replicas) : undefined,
    };
  }

  async setAppRecord(app: string, record: AppRecord): Promise<void> {
    const set: Record<string, string> = {};
    const del: string[] = [];
    for (const [field, value] of Object.entries(record)) {
      if (value === undefined) del.push(field);
      else set[field] = typeof value === 'object' ? JSON.stringify(value) : String(value);
    }
    const tx = this.redis.multi().sadd(keys.apps, app);
    if (Object.keys(set).length) tx.hset(keys.app(app), set);
    if (del.length) tx.hdel(keys.app(app), ...del);
    await tx.exec();
  }

  async getSettings(app: string): Promise<AppSettings> {
    const raw = await this.redis.get(keys.appSettings(app));
    return raw ? AppSettingsSchema.parse(JSON.parse(raw)) : DEFAULT_SETTINGS;
  }

  async putSettings(app: string, settings: AppSettings): Promise<void> {
    await this.redis.multi().set(keys.appSettings(app), JSON.stringify(settings)).sadd(keys.apps, app).exec();
  }

  /** Every record of one app: deploys and their events, versions, settings, its line. */
  async deleteApp(app: string): Promise<void> {
    const ids = await this.redis.zrevrange(keys.appDeploys(app), 0, -1);
    const tx = this.redis.multi();
    for (const id of ids) tx.del(keys.deploy(id), keys.deployEvents(id)).zrem(keys.deploys, id);
    tx.del(keys.app(app), keys.appDeploys(app), keys.appVersions(app), keys.appSettings(app), keys.appLine(app), keys.appWatch(app), keys.appVolumes(app)).srem(keys.apps, app);
    await tx.exec();
    await releaseDomains(this.redis, app);
  }

  /** The app's volumes: each path of its settings, the volume made for it (once a version ran) and its size. */
  async listVolumes(app: string): Promise<VolumeInfo[]> {
    const [settings, made] = await Promise.all([this.getSettings(app), this.redis.hgetall(keys.appVolumes(app))]);
    const names = settings.volumes.map(({ path }) => made[path] ?? volumeName(app, path));
    const sizes = names.length ? await this.redis.hmget(keys.volumeSizes, ...names) : [];
    return settings.volumes.map(({ path }, i) => {
      const size = sizes[i] ? (JSON.parse(sizes[i]!) as { bytes: number; measuredAt: string }) : null;
      return { name: names[i]!, path, bytes: size?.bytes ?? null, measuredAt: size?.measuredAt ?? null };
    });
  }

  async listAppNames(): Promise<string[]> {
    return (await this.redis.smembers(keys.apps)).sort();
  }

  async appExists(app: string): Promise<boolean> {
    return (await this.redis.sismember(keys.apps, app)) === 1;
  }
}

function encode(deploy: Deploy): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, value] of Object.entries(deploy)) {
    if (value !== undefined) out[field] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

const JSON_FIELDS = new Set(['progress', 'port', 'error', 'archive', 'attempts', 'rolledBack', 'build']);

function decode(hash: Record<string, string>): Deploy {
  const obj: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(hash)) obj[field] = JSON_FIELDS.has(field) ? JSON.parse(value) : value;
  return DeploySchema.parse(obj);
}

function parseReplicas(text: string): Replica[] | undefined {
  try {
    const list = JSON.parse(text) as Replica[];
    return Array.isArray(list) ? list.filter((r) => typeof r?.containerId === 'string' && Number.isInteger(r.port)) : undefined;
  } catch {
    // Written by Slipway only; a damaged value falls back to the single container's fields.
    return undefined;
  }
}
