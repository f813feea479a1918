import { z } from 'zod';
import { APP_NAME_RE, VERSION_RE } from './names';

/** BullMQ payloads, validated when the worker takes a job (a job written by an older API fails loudly). */
export const DeployJobSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('deploy'),
    deployId: z.string().min(1),
    app: z.string().regex(APP_NAME_RE),
    version: z.string().regex(VERSION_RE),
    /** Absolute path of the stored upload, under the data dir. */
    archivePath: z.string().min(1),
  }),
  z.object({
    kind: z.enum(['rollback', 'restart']),
    deployId: z.string().min(1),
    app: z.string().regex(APP_NAME_RE),
    version: z.string().regex(VERSION_RE),
  }),
  /**
   * start/stop/delete act on containers without a switch, volume-export/-restore on one of the app's
   * volumes (issue 16); their id is an operation id, not a deploy.
   */
  z.object({
    kind: z.literal('lifecycle'),
    deployId: z.string().min(1),
    app: z.string().regex(APP_NAME_RE),
    action: z.enum(['start', 'stop', 'delete', 'volume-export', 'volume-restore']),
    /** delete: its volumes go too (kept by default). */
    removeVolumes: z.boolean().optional(),
    /** volume-export/-restore: the volume, by the path it is mounted at. */
    volumePath: z.string().optional(),
    /** volume-restore: the uploaded archive, under the data dir's uploads. */
    file: z.string().optional(),
  }),
]);
export type DeployJob = z.infer<typeof DeployJobSchema>;

export const QUEUE_NAME = 'slipway-deploys';

export const QueueJobSchema = z.object({
  deployId: z.string(),
  app: z.string(),
  version: z.string(),
  state: z.string(),
  stage: z.string(),
  progress: z.number(),
  /** deploy, rollback, restart, rebuild, or a lifecycle action (start, stop, delete, volume-…). */
  kind: z.string(),
  /** Finished jobs: when, how long it ran, and why it failed. */
  finishedAt: z.string().optional(),
  durationMs: z.number().optional(),
  error: z.string().optional(),
});
export type QueueJob = z.infer<typeof QueueJobSchema>;
