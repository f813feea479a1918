import { z } from 'zod';
import { DeploySchema } from './deploy';

/**
 * `GET /api/events`: every deploy and app state change, for the panel's notifications (SPEC §4).
 * Build log lines are not here (they are on each deploy's own stream).
 */
export const AppChangeSchema = z.enum(['switched', 'started', 'stopped', 'restarted', 'rolled_back', 'settings', 'deleted', 'pruned']);
export type AppChange = z.infer<typeof AppChangeSchema>;

export const NotificationSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('deploy'), deploy: DeploySchema }),
  z.object({
    type: z.literal('app'),
    app: z.string(),
    change: AppChangeSchema,
    version: z.string().optional(),
    message: z.string().optional(),
  }),
]);
export type Notification = z.infer<typeof NotificationSchema>;
