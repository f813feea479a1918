import { z } from 'zod';

/**
 * An app's settings (`PUT /api/apps/:name`, SPEC §4). They apply from the next deploy, rollback or restart.
 * Limits can only be set within what Slipway allows; a missing field keeps its default.
 */
export const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const MASK = '••••••••';

const fields = {
  env: z
    .record(z.string().regex(ENV_KEY_RE, 'env names are letters, digits and "_", not starting with a digit'), z.string().max(32 * 1024))
    .refine((env) => Object.keys(env).length <= 200, 'at most 200 env variables'),
  /** The port the app listens on inside its container; default: the image's EXPOSE, else 3000. */
  port: z.number().int().min(1).max(65535),
  healthPath: z
    .string()
    .max(512)
    .regex(/^\/[\x21-\x7e]*$/, 'a path starting with "/", without spaces'),
  memoryMb: z.number().int().min(32).max(8192),
  cpus: z.number().min(0.05).max(8),
  /** Files inside the container collected as extra log streams (issue 5). */
  logFiles: z.array(z.string().max(512).regex(/^\/[^\0]*$/, 'absolute paths inside the container')).max(20),
  webhooks: z.array(z.url({ protocol: /^https?$/ }).max(2048)).max(10),
};

export const AppSettingsSchema = z
  .object({
    ...fields,
    env: fields.env.default({}),
    port: fields.port.optional(),
    healthPath: fields.healthPath.default('/'),
    memoryMb: fields.memoryMb.default(512),
    cpus: fields.cpus.default(1),
    logFiles: fields.logFiles.default([]),
    webhooks: fields.webhooks.default([]),
  })
  .strict();
export type AppSettings = z.infer<typeof AppSettingsSchema>;

/**
 * What PUT accepts: any subset, the rest unchanged (no defaults here, or a partial update would reset
 * them); env values equal to MASK keep the stored value, so a masked form round-trips.
 */
export const AppSettingsPatchSchema = z.object(fields).partial().strict();
export type AppSettingsPatch = z.infer<typeof AppSettingsPatchSchema>;

export const DEFAULT_SETTINGS: AppSettings = AppSettingsSchema.parse({});

/** Env names that hold secrets by convention; their values never leave Slipway unmasked. */
const SECRET_NAME = /(SECRET|TOKEN|PASSW|PASSPHRASE|PRIVATE|CREDENTIAL|API_?KEY|ACCESS_?KEY|AUTH|SESSION|COOKIE|SALT|DSN|DATABASE_URL|REDIS_URL|MONGO|_KEY$|^KEY$)/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

export function maskSettings(settings: AppSettings): AppSettings {
  return { ...settings, env: Object.fromEntries(Object.entries(settings.env).map(([k, v]) => [k, isSecretName(k) ? MASK : v])) };
}
