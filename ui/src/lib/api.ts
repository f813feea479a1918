/**
 * The panel's typed API client: same-origin requests with the session cookie, the CSRF header on
 * changes, and the API's own error messages surfaced as they are (never "[object Object]").
 */
import type { AppDetail, AppSummary } from '@slipway/contracts/app';
import type { Deploy, DeployEvent } from '@slipway/contracts/deploy';
import type { LogLine } from '@slipway/contracts/logs';
import type { AppSettingsPatch } from '@slipway/contracts/settings';
import type { AuditEntry, TokenInfo, User } from '@slipway/contracts/auth';
import type { VolumeInfo } from '@slipway/contracts/volumes';
import type {
  AppAnswer,
  AppsAnswer,
  AppStatsAnswer,
  AppSummaryAnswer,
  AuthStatusAnswer,
  CertificatesAnswer,
  DeletedAnswer,
  DeployAnswer,
  DeploysAnswer,
  LogLinesAnswer,
  MeAnswer,
  OperationAnswer,
  QueueAnswer,
  SignedInAnswer,
  SystemAnswer,
  TrafficAnswer,
  VolumesAnswer,
} from '@slipway/contracts/responses';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf = '';
export function setCsrf(token: string): void {
  csrf = token;
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-slipway-csrf'] = csrf;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin', body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  } catch {
    throw new ApiError(0, 'network', 'Slipway did not answer. Is it running?');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(res.status, 'bad_answer', `Unexpected answer (${res.status})`);
  }
  if (!res.ok) {
    const error = (data as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(res.status, error?.code ?? 'error', error?.message ?? `Request failed (${res.status})`);
  }
  return data as T;
}

/** Uploads with progress (fetch has no upload progress): resolves with the queued deploy. */
export async function uploadArchive(file: File, fields: { app?: string; version?: string }, onProgress: (fraction: number) => void): Promise<Deploy> {
  const form = new FormData();
  if (fields.app) form.append('app', fields.app);
  if (fields.version) form.append('version', fields.version);
  form.append('archive', file, file.name);
  return (await send<{ deploy: Deploy }>('POST', '/api/deploys', form, onProgress)).deploy;
}

/** Replaces a volume's files with an archive (the app is stopped meanwhile): resolves once it is done. */
export async function restoreVolume(app: string, volume: string, file: File, onProgress: (fraction: number) => void): Promise<VolumeInfo | null> {
  const form = new FormData();
  form.append('archive', file, file.name);
  const url = `/api/apps/${encodeURIComponent(app)}/volumes/${encodeURIComponent(volume)}/archive`;
  return (await send<{ volume?: VolumeInfo }>('PUT', url, form, onProgress)).volume ?? null;
}

function send<T>(method: string, url: string, form: FormData, onProgress: (fraction: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    if (csrf) xhr.setRequestHeader('x-slipway-csrf', csrf);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload was interrupted'));
    xhr.onload = () => {
      let data: (T & { error?: { code: string; message: string } }) | null = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        // below
      }
      if (xhr.status >= 200 && xhr.status < 300 && data) resolve(data);
      else reject(new ApiError(xhr.status, data?.error?.code ?? 'error', data?.error?.message ?? `Upload failed (${xhr.status})`));
    };
    xhr.send(form);
  });
}

export type { AppDetail, AppSummary, Deploy, DeployEvent, LogLine, AuditEntry, TokenInfo, User, VolumeInfo, CertificatesAnswer, AppStatsAnswer };

/** The last sample of an app's containers. */
export type Stats = NonNullable<AppStatsAnswer['stats']>;
/** A chart's point: its time and the series' values (host, app and traffic series all read as this). */
export type Point = { ts: string } & Record<string, number>;
/** `GET /api/queue`: counts, the jobs in flight and the recent finished ones. */
export type QueueState = QueueAnswer;
/** `GET /api/system`, as the contract says it. */
export type SystemInfo = SystemAnswer['system'];

export const Api = {
  me: () => api<MeAnswer>('/api/auth/me'),
  status: () => api<AuthStatusAnswer>('/api/auth/status'),
  login: (username: string, password: string) => api<SignedInAnswer>('/api/auth/login', { method: 'POST', body: { username, password } }),
  setup: (token: string, password: string) => api<SignedInAnswer>('/api/auth/setup', { method: 'POST', body: { token, password } }),
  logout: () => api<void>('/api/auth/logout', { method: 'POST' }),
  apps: () => api<AppsAnswer>('/api/apps').then((r) => r.apps),
  app: (name: string) => api<AppAnswer>(`/api/apps/${encodeURIComponent(name)}`).then((r) => r.app),
  saveSettings: (name: string, patch: AppSettingsPatch) => api<AppAnswer>(`/api/apps/${encodeURIComponent(name)}`, { method: 'PUT', body: patch }).then((r) => r.app),
  rollback: (name: string, version?: string) => api<DeployAnswer>(`/api/apps/${encodeURIComponent(name)}/rollback`, { method: 'POST', body: version ? { version } : {} }).then((r) => r.deploy),
  rebuild: (name: string, version: string) => api<DeployAnswer>(`/api/apps/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/rebuild`, { method: 'POST' }).then((r) => r.deploy),
  lifecycle: (name: string, action: 'start' | 'stop' | 'restart') => api<Partial<AppSummaryAnswer & DeployAnswer & OperationAnswer>>(`/api/apps/${encodeURIComponent(name)}/${action}`, { method: 'POST' }),
  volumes: (name: string) => api<VolumesAnswer>(`/api/apps/${encodeURIComponent(name)}/volumes`).then((r) => r.volumes),
  certificates: (name: string) => api<CertificatesAnswer>(`/api/apps/${encodeURIComponent(name)}/certificates`),
  remove: (name: string) => api<DeletedAnswer>(`/api/apps/${encodeURIComponent(name)}?confirm=${encodeURIComponent(name)}`, { method: 'DELETE' }),
  stats: (name: string) => api<AppStatsAnswer>(`/api/apps/${encodeURIComponent(name)}/stats`).then((r) => r.stats),
  /** The app's stats with each instance's own. */
  appStats: (name: string) => api<AppStatsAnswer>(`/api/apps/${encodeURIComponent(name)}/stats`),
  statsSeries: (name: string, range = '24h') => api<{ series: Point[] }>(`/api/apps/${encodeURIComponent(name)}/stats/series?range=${range}`).then((r) => r.series),
  deploys: (app?: string, limit = 50) => api<DeploysAnswer>(`/api/deploys?limit=${limit}${app ? `&app=${encodeURIComponent(app)}` : ''}`).then((r) => r.deploys),
  deploy: (id: string) => api<DeployAnswer>(`/api/deploys/${encodeURIComponent(id)}`).then((r) => r.deploy),
  retry: (id: string) => api<DeployAnswer>(`/api/deploys/${encodeURIComponent(id)}/retry`, { method: 'POST' }).then((r) => r.deploy),
  cancel: (id: string) => api<DeployAnswer>(`/api/deploys/${encodeURIComponent(id)}/cancel`, { method: 'POST' }).then((r) => r.deploy),
  queue: (app?: string) => api<QueueState>(`/api/queue${app ? `?app=${encodeURIComponent(app)}` : ''}`),
  system: () => api<SystemAnswer>('/api/system').then((r) => r.system),
  hostSeries: (range = '24h', step = '1h') => api<{ series: Point[] }>(`/api/system/metrics?range=${range}&step=${step}`).then((r) => r.series),
  traffic: (range = '7d', step = '1h') => api<TrafficAnswer>(`/api/traffic?range=${range}&step=${step}`).then((r) => r.series),
  logs: (app: string, params: Record<string, string>) => api<LogLinesAnswer>(`/api/apps/${encodeURIComponent(app)}/logs?${new URLSearchParams(params)}`).then((r) => r.lines),
};
