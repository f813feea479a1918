import type { Redis } from 'ioredis';
import type { Settings } from '@slipway/core/config';
import type { Logger } from '@slipway/core/logger';
import type { Store } from '@slipway/core/store';
import type { Engine } from './docker/engine';

export interface WorkerContext {
  settings: Readonly<Settings>;
  redis: Redis;
  store: Store;
  engine: Engine;
  log: Logger;
}
