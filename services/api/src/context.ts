import type { Redis } from 'ioredis';
import type { Settings } from '@slipway/runtime/config';
import type { Logger } from '@slipway/runtime/logger';
import type { DeployQueue } from '@slipway/records/queue';
import type { Store } from '@slipway/records/store';
import type { Accounts } from './auth/accounts';
import type { EventHub } from './event-hub';
import type { SseHub } from './sse';

/** What the routes need, built once in main.ts (and by tests) and passed down. */
export interface ApiContext {
  settings: Readonly<Settings>;
  redis: Redis;
  store: Store;
  queue: DeployQueue;
  hub: EventHub;
  sse: SseHub;
  accounts: Accounts;
  log: Logger;
}
