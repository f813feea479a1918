/**
 * One Redis subscription for the whole API process; SSE streams register here instead of opening
 * a Redis connection each.
 */
import type { Redis } from 'ioredis';
import { keys } from '@slipway/records/redis';
import type { Notification } from '@slipway/contracts/events';
import type { LogLine } from '@slipway/contracts/logs';
import { logsChannel } from '@slipway/records/app-logs';
import { parseEventMessage, type StoredEvent } from '@slipway/records/events';
import { parseNotification } from '@slipway/records/notify';

type Listener = (event: StoredEvent) => void;
const LOGS_PREFIX = logsChannel('');

export class EventHub {
  private readonly byDeploy = new Map<string, Set<Listener>>();
  private readonly all = new Set<Listener>();
  private readonly notifications = new Set<(n: Notification) => void>();
  private readonly logs = new Map<string, Set<(batch: LogLine[]) => void>>();

  constructor(private readonly subscriber: Redis) {}

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel.startsWith(LOGS_PREFIX)) {
        const listeners = this.logs.get(channel.slice(LOGS_PREFIX.length));
        if (!listeners?.size) return;
        let batch: LogLine[];
        try {
          batch = JSON.parse(message) as LogLine[];
        } catch {
          return;
        }
        for (const fn of listeners) fn(batch);
        return;
      }
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

  /** Subscribes to an app's log channel while it has viewers, and only then. */
  onLogs(app: string, fn: (batch: LogLine[]) => void): () => void {
    let set = this.logs.get(app);
    if (!set) {
      this.logs.set(app, (set = new Set()));
      // Redis down: ioredis subscribes again when it reconnects, and the viewer's history read says why it is quiet.
      void this.subscriber.subscribe(logsChannel(app)).catch(() => {});
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size) return;
      this.logs.delete(app);
      // Redis down: the subscription ends with the connection anyway.
      void this.subscriber.unsubscribe(logsChannel(app)).catch(() => {});
    };
  }

  onNotification(fn: (n: Notification) => void): () => void {
    this.notifications.add(fn);
    return () => this.notifications.delete(fn);
  }
}
