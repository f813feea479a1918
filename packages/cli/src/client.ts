/** HTTP to Slipway with the token, turning every failure into a sentence a person can act on. */
import type { CliConfig } from './config';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export class Client {
  constructor(readonly config: CliConfig) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.config.token ? { authorization: `Bearer ${this.config.token}` } : {}), ...extra };
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.config.url}${path}`, {
        method,
        headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      throw unreachable(this.config.url, err);
    }
    return answer<T>(res);
  }

  /** Reads a server-sent event stream, calling `on` per event, until it ends or `signal` aborts. */
  async events(path: string, on: (event: string, data: unknown) => boolean | void, signal?: AbortSignal): Promise<void> {
    let res: Response;
    try {
      res = await fetch(`${this.config.url}${path}`, { headers: this.headers(), signal });
    } catch (err) {
      if (signal?.aborted) return;
      throw unreachable(this.config.url, err);
    }
    if (!res.ok) await answer(res);
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (event && data && on(event, JSON.parse(data)) === false) return;
        }
      }
    } catch (err) {
      if (!signal?.aborted) throw new CliError(`The event stream broke: ${(err as Error).message}`);
    }
  }
}

export async function answer<T>(res: Response): Promise<T> {
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // below
  }
  if (res.ok) return data as T;
  const error = (data as { error?: { code?: string; message?: string } } | null)?.error;
  if (res.status === 401) throw new CliError(`Slipway refused the token (${error?.message ?? 'unauthorized'}). Run "slipway login" or set SLIPWAY_TOKEN.`, 3);
  if (res.status === 403) throw new CliError(`Not allowed: ${error?.message ?? 'forbidden'}`, 3);
  throw new CliError(`${error?.message ?? `Slipway answered ${res.status}`}${error?.code ? ` (${error.code})` : ''}`);
}

export function unreachable(url: string, err: unknown): CliError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return new CliError(`Cannot reach Slipway at ${url} (${cause?.code ?? cause?.message ?? (err as Error).message}). Is it running? Set the address with "slipway login --url" or SLIPWAY_URL.`, 2);
}
