/**
 * The engine connection every client of this folder shares: the raw dockerode client stays in docker/,
 * and every call's failure becomes an EngineError that keeps the engine's own message.
 */
import Docker from 'dockerode';
import { LABEL } from './labels';

/** Error from the engine itself (unreachable, 5xx): worth a retry, unlike a failed build. */
export class EngineError extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'EngineError';
  }
}

export class EngineClient {
  readonly docker: Docker;

  /**
   * `instance`: when given, every listing and event watch is limited to resources carrying this
   * installation's label, and nothing else is removed as "ours".
   */
  constructor(
    readonly dockerHost?: string,
    readonly instance?: string,
  ) {
    // docker-modem reads DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH as the docker CLI does (a
    // remote engine over TLS included); `dockerHost` is the same DOCKER_HOST, kept to tell local from remote.
    this.docker = new Docker();
  }

  scoped(labels: string[]): string[] {
    return this.instance ? [...labels, `${LABEL.instance}=${this.instance}`] : labels;
  }

  async info(): Promise<Record<string, unknown>> {
    return (await this.call('info', () => this.docker.info())) as Record<string, unknown>;
  }

  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw engineError(what, err);
    }
  }
}

export function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Engine errors keep the engine's own message ("port is already allocated", ...) for the deploy record. */
export function engineError(what: string, err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const json = (err as { json?: { message?: string } }).json;
  const message = json?.message ?? (err as Error).message ?? String(err);
  return Object.assign(new EngineError(`Docker could not ${what}: ${message.trim()}`, err), { statusCode: statusOf(err) });
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]);
}
