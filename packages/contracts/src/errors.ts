import { z } from 'zod';

/** Every error code the API or a failed deploy can carry. Snake case, stable: clients switch on them. */
export const ERROR_CODES = [
  // request
  'bad_request',
  'not_found',
  'unauthorized',
  'forbidden',
  'payload_too_large',
  'too_many_requests',
  /** A log search's `/regex/` that does not parse. */
  'invalid_regex',
  /** A log search's `/regex/` that needs backtracking (backreferences, lookaround): refused, never run. */
  'unsupported_regex',
  // archives and identity (SPEC §2)
  'archive_required',
  'unsupported_archive',
  'name_required',
  'version_required',
  'invalid_name',
  'invalid_version',
  'version_exists',
  'unsafe_archive',
  'archive_too_large',
  'corrupt_archive',
  'empty_archive',
  // apps and deploys
  'app_not_found',
  'deploy_not_found',
  'version_not_found',
  'volume_not_found',
  'domain_taken',
  /** GET /api/tls/ca.pem when SLIPWAY_TLS is not `internal`. */
  'tls_not_internal',
  'image_pruned',
  'already_running',
  'not_running',
  'confirmation_required',
  'user_exists',
  /** A webhook aimed at loopback, a private or link-local address (SLIPWAY_WEBHOOK_ALLOW_PRIVATE). */
  'webhook_target_refused',
  // pipeline failures
  'build_failed',
  'build_timeout',
  'start_failed',
  'unhealthy',
  'interrupted',
  'cancelled',
  'engine_error',
  'disk_full',
  /** A job whose archive path leaves the data dir's archives/uploads: a tampered queue, never retried. */
  'unsafe_job',
  // service
  'redis_unavailable',
  'docker_unavailable',
  /** Something the API serves that another service has not made yet (the gateway's CA at its first start). */
  'not_ready',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];
export const ErrorCodeSchema = z.enum(ERROR_CODES);

export const ErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;
