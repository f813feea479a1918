import { z } from 'zod';
import type { Scope } from './auth';
import { AppKindSchema } from './kinds';
import { isSecretEnv, MASK, redactUrl } from './secrets';
import { DomainsSchema } from './domains';
import { SwitchModeSchema, VolumesSchema } from './volumes';

export { isSecretName, MASK } from './secrets';

/**
 * An app's settings (`PUT /api/apps/:name`, SPEC §4). They apply from the next deploy, rollback or restart.
 * Limits can only be set within what Slipway allows; a missing field keeps its default.
 */
export const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

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
  /** How to build and run it, when the guess from the files is wrong (issue 15). */
  kind: AppKindSchema,
  /** A front-end's build folder when it is not dist/, build/, out/ or public/. */
  outputDir: z
    .string()
    .max(256)
    .regex(/^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._\/-]+$/, 'a folder inside the app, such as "dist" or "web/build" (no "..", not absolute)'),
  /** Paths whose files outlive every version: Docker named volumes (issue 16). */
  volumes: VolumesSchema,
  /** `stop-first` for apps that must be the only writer of their volumes: a short gap instead of an overlap. */
  switch: SwitchModeSchema,
  /** Host names that reach the app through the gateway, beside `<app>.<SLIPWAY_DOMAIN>`; unique across apps. */
  domains: DomainsSchema,
  /** Plain-HTTP requests get a 308 to the same URL over HTTPS (when SLIPWAY_TLS is on). */
  httpsRedirect: z.boolean(),
  /** Containers of the current version, balanced by the gateway (issue 16). */
  instances: z.number().int().min(1).max(10),
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
    kind: fields.kind.optional(),
    outputDir: fields.outputDir.optional(),
    volumes: fields.volumes.default([]),
    switch: fields.switch.default('overlap'),
    domains: fields.domains.default([]),
    httpsRedirect: fields.httpsRedirect.default(false),
    instances: fields.instances.default(1),
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

/**
 * Settings as answers show them: secret env values (by name or by value) masked for everyone; webhook URLs,
 * which often carry a token, shown without query or userinfo below `admin` (only admins can change them).
 */
export function maskSettings(settings: AppSettings, viewer: { scope?: Scope } = {}): AppSettings {
  const env = Object.fromEntries(Object.entries(settings.env).map(([k, v]) => [k, isSecretEnv(k, v) ? MASK : v]));
  const webhooks = viewer.scope === 'admin' ? settings.webhooks : settings.webhooks.map(redactUrl);
  return { ...settings, env, webhooks };
}

export class MaskedValueError extends Error {}

/**
 * A masked form sent back (`PUT` of what `GET` showed): MASK keeps the stored value, so no secret is ever
 * overwritten by the bullets; a MASK for a variable that holds nothing is refused rather than stored.
 */
export function restoreMasked(env: Record<string, string>, stored: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => {
      if (v !== MASK) return [k, v];
      const kept = stored[k];
      if (kept === undefined) throw new MaskedValueError(`env.${k} is the mask "${MASK}" but no value is stored for it: send the real value`);
      return [k, kept];
    }),
  );
}
