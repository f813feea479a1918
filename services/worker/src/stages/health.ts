/**
 * Stage 4: healthy means `GET <healthPath>` answers below 500 before the timeout while the container
 * keeps running (SPEC §3). Every probe has its own timeout: a just-published port can accept a
 * connection and never answer while the app starts.
 */
import { request } from 'node:http';
import type { Engine } from '../docker/engine';
import { PipelineError } from '../errors';
import type { Candidate } from './start';

export interface HealthInput {
  candidate: Candidate;
  host: string;
  path: string;
  timeoutMs: number;
  probeTimeoutMs?: number;
}

export interface Healthy extends Candidate {
  status: number;
  afterMs: number;
}

export async function waitHealthy(engine: Engine, input: HealthInput, onProgress?: (fraction: number) => void): Promise<Healthy> {
  const began = Date.now();
  const deadline = began + input.timeoutMs;
  let lastProblem = 'no answer yet';
  let restartsBefore: number | undefined;
  while (Date.now() < deadline) {
    const state = await engine.containers.state(input.candidate.containerId);
    if (!state) throw new PipelineError('start_failed', 'The new container disappeared while starting');
    restartsBefore ??= state.restartCount;
    if (!state.running || state.restarting || state.restartCount > restartsBefore) {
      const why = state.oomKilled ? 'was killed for using more memory than its limit' : `exited with code ${state.exitCode}`;
      throw new PipelineError('unhealthy', `The new version ${why} before it became healthy`);
    }
    const fullProbe = input.probeTimeoutMs ?? 2000;
    const probeTimeout = Math.min(fullProbe, Math.max(deadline - Date.now(), 1));
    const status = await probe(input.host, input.candidate.hostPort, input.path, probeTimeout);
    if (typeof status === 'number' && status < 500) {
      return { ...input.candidate, status, afterMs: Date.now() - began };
    }
    // A last probe cut short by the deadline proves nothing; the user needs what the app last really said.
    if (typeof status === 'number') lastProblem = `answered ${status}`;
    else if (probeTimeout === fullProbe || lastProblem === 'no answer yet') lastProblem = status;
    onProgress?.(Math.min(1, (Date.now() - began) / input.timeoutMs));
    // Most apps answer within a second or two: probe often at first, then back off.
    await sleep(Date.now() - began < 3000 ? 50 : Date.now() - began < 10_000 ? 200 : 500);
  }
  throw new PipelineError(
    'unhealthy',
    `The new version did not answer GET ${input.path} below 500 within ${Math.round(input.timeoutMs / 1000)} s (last: ${lastProblem})`,
  );
}

/**
 * Probes until the path answers below 500 or the time is up, for a version whose container Slipway does
 * not watch itself (a swarm task, whose health the engine already checked).
 */
export async function waitAnswering(host: string, port: number, path: string, timeoutMs: number): Promise<{ ok: true; status: number } | { ok: false; last: number | string }> {
  const deadline = Date.now() + timeoutMs;
  let last: number | string = 'no answer';
  while (Date.now() < deadline) {
    last = await probe(host, port, path, 2000);
    if (typeof last === 'number' && last < 500) return { ok: true, status: last };
    await sleep(200);
  }
  return { ok: false, last };
}

/** The status code, or why there was none. Plain http.request: nothing pooled, nothing left open. */
export function probe(host: string, port: number, path: string, timeoutMs: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', agent: false, headers: { 'user-agent': 'slipway-health', connection: 'close' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    const timer = setTimeout(() => {
      req.destroy();
      resolve(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.on('close', () => clearTimeout(timer));
    req.end();
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Apps published on every address are still probed through loopback. */
export function probeHost(bind: string): string {
  return bind === '0.0.0.0' ? '127.0.0.1' : bind === '::' ? '::1' : bind;
}
