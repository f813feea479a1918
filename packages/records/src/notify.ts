/**
 * Notifications for `GET /api/events` (the panel's toasts): deploy status changes and app state changes,
 * published on one channel. Fire and forget: a notification never fails the work it reports.
 */
import type { Redis } from 'ioredis';
import { NotificationSchema, type Notification } from '@slipway/contracts/events';
import { keys } from './redis';

export async function notify(redis: Redis, notification: Notification): Promise<void> {
  await redis.publish(keys.notificationsChannel, JSON.stringify(notification)).catch(() => 0);
}

export function parseNotification(message: string): Notification | null {
  try {
    return NotificationSchema.parse(JSON.parse(message));
  } catch {
    return null;
  }
}
