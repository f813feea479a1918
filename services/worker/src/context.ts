import type { Redis } from 'ioredis';
import type { Settings } from '@slipway/runtime/config';
import type { Logger } from '@slipway/runtime/logger';
import type { LogWriter } from './observe/log-writer';
import type { DeployQueue } from '@slipway/records/queue';
import type { Store } from '@slipway/records/store';
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
