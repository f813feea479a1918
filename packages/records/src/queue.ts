import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUE_NAME, type DeployJob } from '@slipway/contracts/job';

export type DeployQueue = Queue<DeployJob>;

export function createDeployQueue(connection: Redis): DeployQueue {
  return new Queue<DeployJob>(QUEUE_NAME, { connection });
}

/**
 * One retry for engine hiccups (a user fault ends the job at once through UnrecoverableError).
 * The job id is the deploy id, so a deploy can never be queued twice.
 */
export function deployJobOptions(deployId: string): JobsOptions {
  return {
    jobId: deployId,
    attempts: 2,
    backoff: { type: 'fixed', delay: 2000 },
    removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
    removeOnFail: { age: 30 * 24 * 3600, count: 5000 },
  };
}
