/**
 * Volumes (SPEC §3, issue 16): an app's `volumes` setting names paths inside its containers that keep
 * their files across versions, rollbacks and restarts. Each is a Docker named volume
 * `slipway-<app>-<slug of the path>`, the same for every version of the app.
 */
import { z } from 'zod';

/** Where a volume may not go: the container's kernel views, and `/` itself. */
const SYSTEM_PATHS = /^\/(proc|sys|dev)(\/|$)/;

export const VolumePathSchema = z
  .string()
  .max(256)
  .regex(/^(\/[A-Za-z0-9._@+-]+)+$/, 'an absolute path inside the container, such as "/data" (letters, digits, ".", "_", "@", "+", "-"; no "//" or trailing "/")')
  .refine((p) => !p.split('/').some((seg) => seg === '.' || seg === '..'), 'no "." or ".." segments')
  .refine((p) => !SYSTEM_PATHS.test(p), 'not under /proc, /sys or /dev');

export const VolumeSchema = z.object({ path: VolumePathSchema }).strict();
export type Volume = z.infer<typeof VolumeSchema>;

export const VolumesSchema = z
  .array(VolumeSchema)
  .max(10)
  .superRefine((volumes, ctx) => {
    const seen = new Map<string, string>();
    for (const [i, { path }] of volumes.entries()) {
      const slug = volumeSlug(path);
      const other = seen.get(slug);
      if (other !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'path'], message: `"${path}" and "${other}" would share one volume (${slug}); name another path` });
      seen.set(slug, path);
    }
  });

/** `/var/lib/app` → `var-lib-app`: the volume's name part, in Docker's name grammar. */
export function volumeSlug(path: string): string {
  return path.replace(/^\/+/, '').replace(/[^A-Za-z0-9_.-]+/g, '-').toLowerCase();
}

/** `slipway-<app>-<slug>`; with the installation's id when another Slipway on the engine holds that name. */
export function volumeName(app: string, path: string, instance?: string): string {
  return instance ? `slipway-${app}-${volumeSlug(path)}-${instance}` : `slipway-${app}-${volumeSlug(path)}`;
}

/** What `GET /api/apps/:name/volumes` lists: the volume, where it is mounted, and its size when measured. */
export const VolumeInfoSchema = z.object({
  name: z.string(),
  path: z.string(),
  /** Measured by the worker about every minute; null until the first measure. */
  bytes: z.number().int().nullable(),
  measuredAt: z.string().nullable(),
});
export type VolumeInfo = z.infer<typeof VolumeInfoSchema>;

/** Switching versions: both run for a moment (`overlap`), or the old one stops first (single writers). */
export const SwitchModeSchema = z.enum(['overlap', 'stop-first']);
export type SwitchMode = z.infer<typeof SwitchModeSchema>;
