/**
 * One Redis subscription for the whole API process; SSE streams register here instead of opening
 * a Redis connection each.
 */
import type { Redis } from 'ioredis';
import { keys } from '@slipway/core/redis';
import type { Notification } from '@slipway/contracts/events';
import { parseEventMessage, type StoredEvent } from '@slipway/core/events';
import { parseNotification } from '@slipway/core/notify';

type Listener = (event: StoredEvent) => void;

export class EventHub {
  private readonly byDeploy = new Map<string, Set<Listener>>();
  private readonly all = new Set<Listener>();
  private readonly notifications = new Set<(n: Notification) => void>();

  constructor(private readonly subscriber: Redis) {}

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === keys.notificationsChannel) {
        const notification = parseNotification(message);
        if (notification) for (const fn of this.notifications) fn(notification);
        return;
      }
      if (channel !== keys.eventsChannel) return;
      const event = parseEventMessage(message);
      if (!event) return;
      for (const fn of this.all) fn(event);
      for (const fn of this.byDeploy.get(event.deployId) ?? []) fn(event);
    });
    await this.subscriber.subscribe(keys.eventsChannel, keys.notificationsChannel);
  }

  onDeploy(deployId: string, fn: Listener): () => void {
    let set = this.byDeploy.get(deployId);
    if (!set) this.byDeploy.set(deployId, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (!set.size) this.byDeploy.delete(deployId);
    };
  }

  onAny(fn: Listener): () => void {
    this.all.add(fn);
    return () => this.all.delete(fn);
  }

  onNotification(fn: (n: Notification) => void): () => void {
    this.notifications.add(fn);
    return () => this.notifications.delete(fn);
  }
}
