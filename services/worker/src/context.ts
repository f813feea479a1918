import type { Redis } from 'ioredis';
import type { Settings } from '@slipway/core/config';
import type { Logger } from '@slipway/core/logger';
import type { LogWriter } from '@slipway/core/logs';
import type { DeployQueue } from '@slipway/core/queue';
import type { Store } from '@slipway/core/store';
import type { Engine } from './docker/engine';

export interface WorkerContext {
  settings: Readonly<Settings>;
  redis: Redis;
  store: Store;
  engine: Engine;
  /** For work the worker queues itself (automatic rollbacks). */
  queue: DeployQueue;
  /** The apps' log history (observe/collector.ts writes it; delete forgets an app's files). */
  logs: LogWriter;
  log: Logger;
}
