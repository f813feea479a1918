import { z } from 'zod';
import { ErrorCodeSchema } from './errors';
import { AppKindSchema, SiteSchema } from './kinds';

/** SPEC §3: the stages a deploy passes, in order. */
export const STAGES = ['queued', 'unpack', 'build', 'start', 'health', 'switch', 'done'] as const;
export const StageSchema = z.enum(STAGES);
export type Stage = z.infer<typeof StageSchema>;

/** Progress (0-100) reached when a stage starts; stages report finer steps in between. */
export const STAGE_PROGRESS: Record<Stage, number> = {
  queued: 0,
  unpack: 5,
  build: 15,
  start: 75,
  health: 80,
  switch: 95,
  done: 100,
};

export const DeployStatusSchema = z.enum(['queued', 'running', 'succeeded', 'failed']);
export type DeployStatus = z.infer<typeof DeployStatusSchema>;

/** `restart` re-runs the current version with the app's current settings, through the same health-gated switch. */
export const DeployKindSchema = z.enum(['deploy', 'rollback', 'restart']);
export type DeployKind = z.infer<typeof DeployKindSchema>;

export const DeployErrorSchema = z.object({
  code: ErrorCodeSchema,
  message: z.string(),
  /** The failed candidate's last log lines (SPEC §3: the new container's last 50). */
  logs: z.array(z.string()).optional(),
});
export type DeployError = z.infer<typeof DeployErrorSchema>;

export const DeploySchema = z.object({
  id: z.string(),
  app: z.string(),
  version: z.string(),
  kind: DeployKindSchema,
  status: DeployStatusSchema,
  stage: StageSchema,
  progress: z.number().min(0).max(100),
  error: DeployErrorSchema.optional(),
  image: z.string(),
  port: z.number().int().optional(),
  /** The upload's original file name and size in bytes. */
  archive: z.object({ fileName: z.string(), bytes: z.number().int() }).optional(),
  attempts: z.number().int().optional(),
  /** Why a rollback or restart was queued: by a user, or automatically after a failed switch. */
  trigger: z.enum(['user', 'auto']).optional(),
  /** How its version was built (issue 15), once the build is done; for sites, the folder served. */
  build: z.object({ kind: AppKindSchema, site: SiteSchema.optional() }).optional(),
  /** Set on a deploy that was rolled back automatically after its switch. */
  rolledBack: z.object({ by: z.string(), to: z.string(), reason: z.string() }).optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
});
export type Deploy = z.infer<typeof DeploySchema>;

export function isTerminal(status: DeployStatus): boolean {
  return status === 'succeeded' || status === 'failed';
}

/** Events of one deploy, replayed in order by `GET /api/deploys/:id/events`. */
export const DeployEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('stage'), stage: StageSchema, progress: z.number(), message: z.string().optional() }),
  z.object({ type: z.literal('log'), stage: StageSchema, line: z.string() }),
  z.object({ type: z.literal('done'), deploy: DeploySchema }),
]);
export type DeployEvent = z.infer<typeof DeployEventSchema>;
