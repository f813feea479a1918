import { z } from 'zod';
import { DeploySchema } from './deploy';
import { AppKindSchema, SiteSchema } from './kinds';
import { AppSettingsSchema } from './settings';

export { AppKindSchema, type AppKind } from './kinds';

/** `pending`: being deployed now; `pruned`: its image was removed by retention (its archive is kept). */
export const VersionStatusSchema = z.enum(['running', 'previous', 'kept', 'pruned', 'failed', 'pending']);

export const AppVersionSchema = z.object({
  version: z.string(),
  image: z.string(),
  createdAt: z.string(),
  /** When it last became the running version. */
  deployedAt: z.string().optional(),
  status: VersionStatusSchema,
  deployId: z.string(),
  /** Set once it is built. */
  kind: AppKindSchema.optional(),
  /** Static sites and front-ends: the folder served and its file count. */
  site: SiteSchema.optional(),
});
export type AppVersion = z.infer<typeof AppVersionSchema>;

export const CurrentSchema = z.object({
  version: z.string(),
  port: z.number().int(),
  url: z.string(),
  status: z.enum(['running', 'stopped', 'restarting', 'exited', 'unknown']),
  startedAt: z.string(),
  containerId: z.string().optional(),
  /** Every container of the version (its `instances`), by index: the gateway balances them. Under Swarm, `node` is the address of the node the task runs on, where `port` is published. */
  instances: z.array(z.object({ index: z.number().int(), port: z.number().int(), containerId: z.string(), node: z.string().optional() })),
});
export type Current = z.infer<typeof CurrentSchema>;

export const AppSummarySchema = z.object({
  name: z.string(),
  current: CurrentSchema.nullable(),
  versions: z.array(AppVersionSchema),
});
export type AppSummary = z.infer<typeof AppSummarySchema>;

export const AppDetailSchema = AppSummarySchema.extend({
  settings: AppSettingsSchema,
  deploys: z.array(DeploySchema),
});
export type AppDetail = z.infer<typeof AppDetailSchema>;
