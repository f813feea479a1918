import { z } from 'zod';
import { USERNAME_RE, type Access } from './auth';
import { DeployEventSchema } from './deploy';
import { NotificationSchema } from './events';
import { LogLineSchema } from './logs';
import { APP_NAME_RE, VERSION_RE } from './names';
import * as req from './requests';
import * as res from './responses';
import { AppSettingsPatchSchema } from './settings';

/**
 * Every operation of the HTTP API, in one table: what `openapi.ts` turns into the OpenAPI document served at
 * `GET /api/openapi.json`. `services/api/test/openapi.test.ts` holds it against the routers (every route
 * here, nothing else), the gate's `requirement()` (the same access) and docs/api.md (the same routes).
 */

/** An answer's body: JSON by a schema, none (`null`), server-sent events by event name, or text. */
export type Body = z.ZodType | null | { sse: Record<string, z.ZodType> } | { text: string; json?: z.ZodType };

export interface Operation {
  id: string;
  tag: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** OpenAPI's spelling, `/api/apps/{name}`; a parameter not in `PATH_PARAMS` goes in `params`. */
  path: string;
  summary: string;
  access: Access;
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  /** A JSON body, or a multipart form (`{form}`). */
  body?: z.ZodType | { form: z.ZodObject };
  /** By status. Errors are not listed: every operation may answer ErrorBodySchema with a 4xx or 5xx. */
  answers: Record<number, Body>;
}

/** Path parameters by name, where the name is enough to know what they are. */
export const PATH_PARAMS: Record<string, z.ZodType> = {
  name: z.string().regex(APP_NAME_RE).describe('the app'),
  version: z.string().regex(VERSION_RE),
  id: z.string(),
};
const USER_NAME = { name: z.string().regex(USERNAME_RE).describe('the user') };
const VOLUME = { volume: z.string().max(300).describe('the volume, by its name as GET /api/apps/{name}/volumes lists it') };

/** `GET /api/deploys/{id}/events` sends each event without its `type`: that is the SSE event name. */
const deployEvents = Object.fromEntries(DeployEventSchema.options.map((o) => [o.shape.type.value, (o as z.ZodObject).omit({ type: true })]));
const notifications = Object.fromEntries(NotificationSchema.options.map((o) => [o.shape.type.value, o]));

function tagged(tag: string, ops: Array<Omit<Operation, 'tag'>>): Operation[] {
  return ops.map((op) => ({ ...op, tag }));
}

export const OPERATIONS: Operation[] = [
  ...tagged('access', [
    { id: 'authStatus', method: 'GET', path: '/api/auth/status', summary: 'Whether the admin password is still to be set', access: 'public', answers: { 200: res.AuthStatusAnswerSchema } },
    { id: 'setup', method: 'POST', path: '/api/auth/setup', summary: "Set the admin password with the first start's token, and sign in (once)", access: 'public', body: req.SetupBodySchema, answers: { 200: res.SignedInAnswerSchema } },
    { id: 'login', method: 'POST', path: '/api/auth/login', summary: 'Sign in: sets the session cookie', access: 'public', body: req.LoginBodySchema, answers: { 200: res.SignedInAnswerSchema } },
    { id: 'logout', method: 'POST', path: '/api/auth/logout', summary: 'End the session', access: 'signed-in', answers: { 204: null } },
    { id: 'me', method: 'GET', path: '/api/auth/me', summary: 'Who is asking, and how', access: 'signed-in', answers: { 200: res.MeAnswerSchema } },
    { id: 'listUsers', method: 'GET', path: '/api/users', summary: 'Every user', access: 'admin', answers: { 200: res.UsersAnswerSchema } },
    { id: 'createUser', method: 'POST', path: '/api/users', summary: 'Add a user', access: 'admin', body: req.NewUserBodySchema, answers: { 201: res.UserAnswerSchema } },
    { id: 'setPassword', method: 'PUT', path: '/api/users/{name}/password', summary: "Set a user's password; ends their sessions", access: 'admin', params: USER_NAME, body: req.NewPasswordBodySchema, answers: { 204: null } },
    { id: 'deleteUser', method: 'DELETE', path: '/api/users/{name}', summary: 'Remove a user (not admin)', access: 'admin', params: USER_NAME, answers: { 204: null } },
    { id: 'listTokens', method: 'GET', path: '/api/tokens', summary: "Your tokens (an admin's: everyone's)", access: 'signed-in', answers: { 200: res.TokensAnswerSchema } },
    { id: 'createToken', method: 'POST', path: '/api/tokens', summary: 'Make an API token; the answer is the only time it is shown', access: 'signed-in', body: req.NewTokenBodySchema, answers: { 201: res.TokenCreatedAnswerSchema } },
    { id: 'revokeToken', method: 'DELETE', path: '/api/tokens/{id}', summary: 'Revoke a token, with every token made with it', access: 'signed-in', answers: { 204: null } },
    { id: 'readAudit', method: 'GET', path: '/api/audit', summary: 'The audit log, newest first', access: 'admin', query: req.AuditQuerySchema, answers: { 200: res.AuditAnswerSchema } },
  ]),
  ...tagged('health', [
    { id: 'health', method: 'GET', path: '/healthz', summary: 'Redis, the workers and the Docker Engine', access: 'public', answers: { 200: res.HealthAnswerSchema, 503: res.HealthAnswerSchema } },
    { id: 'openapi', method: 'GET', path: '/api/openapi.json', summary: 'This document', access: 'read', answers: { 200: z.record(z.string(), z.unknown()) } },
  ]),
  ...tagged('deploys', [
    { id: 'createDeploy', method: 'POST', path: '/api/deploys', summary: 'Upload an archive and queue its deploy', access: 'deploy', body: { form: req.DeployFormSchema }, answers: { 202: res.DeployAnswerSchema } },
    { id: 'listDeploys', method: 'GET', path: '/api/deploys', summary: 'Deploys, newest first', access: 'read', query: req.DeployListQuerySchema, answers: { 200: res.DeploysAnswerSchema } },
    { id: 'getDeploy', method: 'GET', path: '/api/deploys/{id}', summary: 'One deploy', access: 'read', answers: { 200: res.DeployAnswerSchema } },
    { id: 'retryDeploy', method: 'POST', path: '/api/deploys/{id}/retry', summary: 'Queue a failed deploy again', access: 'deploy', answers: { 202: res.DeployAnswerSchema } },
    { id: 'cancelDeploy', method: 'POST', path: '/api/deploys/{id}/cancel', summary: 'Cancel a deploy still waiting in the queue', access: 'deploy', answers: { 200: res.DeployAnswerSchema } },
    { id: 'deployEvents', method: 'GET', path: '/api/deploys/{id}/events', summary: "A deploy's stages and build log, replayed then live; ends after done", access: 'read', answers: { 200: { sse: deployEvents } } },
  ]),
  ...tagged('apps', [
    { id: 'listApps', method: 'GET', path: '/api/apps', summary: 'Every app', access: 'read', answers: { 200: res.AppsAnswerSchema } },
    { id: 'getApp', method: 'GET', path: '/api/apps/{name}', summary: 'One app, with its settings and 20 newest deploys', access: 'read', answers: { 200: res.AppAnswerSchema } },
    { id: 'putApp', method: 'PUT', path: '/api/apps/{name}', summary: "Register an app, or change its settings", access: 'admin', body: AppSettingsPatchSchema, answers: { 200: res.AppAnswerSchema, 201: res.AppAnswerSchema } },
    { id: 'deleteApp', method: 'DELETE', path: '/api/apps/{name}', summary: "Remove an app's containers, images, files and records", access: 'admin', query: req.DeleteAppQuerySchema, answers: { 200: res.DeletedAnswerSchema, 202: res.OperationAnswerSchema } },
    { id: 'rollback', method: 'POST', path: '/api/apps/{name}/rollback', summary: 'Run a kept version again (default: the previous one)', access: 'deploy', body: req.RollbackBodySchema, answers: { 202: res.DeployAnswerSchema } },
    { id: 'restart', method: 'POST', path: '/api/apps/{name}/restart', summary: 'Run the current version again with the current settings', access: 'deploy', answers: { 202: res.DeployAnswerSchema } },
    { id: 'rebuild', method: 'POST', path: '/api/apps/{name}/versions/{version}/rebuild', summary: 'Build a pruned version again from its kept archive, and deploy it', access: 'deploy', answers: { 202: res.DeployAnswerSchema } },
    { id: 'startApp', method: 'POST', path: '/api/apps/{name}/start', summary: "Start the app's container", access: 'deploy', answers: { 200: res.AppSummaryAnswerSchema, 202: res.OperationAnswerSchema } },
    { id: 'stopApp', method: 'POST', path: '/api/apps/{name}/stop', summary: "Stop the app's container", access: 'deploy', answers: { 200: res.AppSummaryAnswerSchema, 202: res.OperationAnswerSchema } },
    { id: 'listVolumes', method: 'GET', path: '/api/apps/{name}/volumes', summary: "The app's volumes, where they are mounted and their sizes", access: 'read', answers: { 200: res.VolumesAnswerSchema } },
    { id: 'downloadVolume', method: 'GET', path: '/api/apps/{name}/volumes/{volume}/archive', summary: "A volume's files as a .tar.gz", access: 'admin', params: VOLUME, answers: { 200: { text: 'the volume as application/gzip, a download' } } },
    { id: 'appCertificates', method: 'GET', path: '/api/apps/{name}/certificates', summary: "The app's host names and the state of their HTTPS certificates", access: 'read', answers: { 200: res.CertificatesAnswerSchema } },
    { id: 'restoreVolume', method: 'PUT', path: '/api/apps/{name}/volumes/{volume}/archive', summary: 'Replace a volume\'s files with an upload; the app is stopped meanwhile, then started', access: 'admin', params: VOLUME, body: { form: req.VolumeFormSchema }, answers: { 200: res.VolumeAnswerSchema, 202: res.OperationAnswerSchema } },
  ]),
  ...tagged('observe', [
    { id: 'appLogs', method: 'GET', path: '/api/apps/{name}/logs', summary: "The app's log history", access: 'read', query: req.LogHistoryQuerySchema, answers: { 200: { json: res.LogLinesAnswerSchema, text: 'with format=text: `<ts> <version> <stream> <text>` lines, as a download' } } },
    { id: 'appLogStream', method: 'GET', path: '/api/apps/{name}/logs/stream', summary: "The app's log lines, live", access: 'read', query: req.LogLiveQuerySchema, answers: { 200: { sse: { log: LogLineSchema } } } },
    { id: 'appStats', method: 'GET', path: '/api/apps/{name}/stats', summary: "The app's container, as last sampled", access: 'read', answers: { 200: res.AppStatsAnswerSchema } },
    { id: 'appStatsSeries', method: 'GET', path: '/api/apps/{name}/stats/series', summary: "The history of the app's container", access: 'read', query: req.SeriesQuerySchema, answers: { 200: res.AppSeriesAnswerSchema } },
    { id: 'tlsCa', method: 'GET', path: '/api/tls/ca.pem', summary: "The internal CA's root certificate (SLIPWAY_TLS=internal), to trust in browsers and clients", access: 'read', answers: { 200: { text: 'the root certificate, application/x-pem-file' } } },
    { id: 'system', method: 'GET', path: '/api/system', summary: 'The machine, its Linux parameters and the Docker Engine', access: 'read', answers: { 200: res.SystemAnswerSchema } },
    { id: 'systemMetrics', method: 'GET', path: '/api/system/metrics', summary: "The machine's history", access: 'read', query: req.SeriesQuerySchema, answers: { 200: res.HostSeriesAnswerSchema } },
    { id: 'systemLogs', method: 'GET', path: '/api/system/logs', summary: "Slipway's own logs (api, worker, gateway)", access: 'read', query: req.OwnLogsQuerySchema, answers: { 200: res.OwnLogLinesAnswerSchema } },
    { id: 'metrics', method: 'GET', path: '/metrics', summary: 'Prometheus metrics', access: 'read', answers: { 200: { text: 'Prometheus text format' } } },
    { id: 'queue', method: 'GET', path: '/api/queue', summary: 'The deploy queue, and its recent jobs as BullMQ keeps them', access: 'read', query: req.QueueQuerySchema, answers: { 200: res.QueueAnswerSchema } },
    { id: 'traffic', method: 'GET', path: '/api/traffic', summary: 'Requests, 5xx and latency per app, counted by the gateway', access: 'read', query: req.TrafficQuerySchema, answers: { 200: res.TrafficAnswerSchema } },
    { id: 'events', method: 'GET', path: '/api/events', summary: 'Every deploy and app state change, live', access: 'read', answers: { 200: { sse: notifications } } },
  ]),
];
