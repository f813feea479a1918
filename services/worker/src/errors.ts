import type { ErrorCode } from '@slipway/contracts/errors';

/**
 * A pipeline failure with what the user needs to know. `retryable` is false for the user's faults
 * (a bad archive, a failing Dockerfile, an app that never answers): running them again changes nothing.
 */
export class PipelineError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryable = false,
    readonly logs?: string[],
  ) {
    super(message);
    this.name = 'PipelineError';
  }
}

/** A start, stop, delete or volume operation refused: answered to the API's waiting request with this status. */
export class LifecycleError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
