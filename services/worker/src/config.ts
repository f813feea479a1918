import { loadSettings, SettingsError, type Settings } from '@slipway/core/config';

/** The worker's settings, read once. REDIS_URL is required here: `npm start` supplies the embedded one. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): { settings: Readonly<Settings>; redisUrl: string } {
  const settings = loadSettings(env);
  if (!settings.redisUrl) throw new SettingsError(['REDIS_URL: the worker needs it (npm start sets it to the embedded Redis)']);
  return { settings, redisUrl: settings.redisUrl };
}
