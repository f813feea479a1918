import { loadSettings, SettingsError, type Settings } from '@slipway/core/config';

/**
 * The API's settings, read once. REDIS_URL is required here: `npm start` supplies the embedded one
 * when the user configured none.
 */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): { settings: Readonly<Settings>; redisUrl: string } {
  const settings = loadSettings(env);
  if (!settings.redisUrl) throw new SettingsError(['REDIS_URL: the API needs it (npm start sets it to the embedded Redis)']);
  return { settings, redisUrl: settings.redisUrl };
}
