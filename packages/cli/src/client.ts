/** HTTP to Slipway with the token, turning every failure into a sentence a person can act on. */
import { createParser } from 'eventsource-parser';
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
    let stopped = false;
    // Unnamed events (and comments such as heartbeats) are not Slipway's: skip them. A throw from `on`
    // or from JSON.parse leaves feed() and ends the stream below.
    const parser = createParser({
      onEvent: ({ event, data }) => {
        if (!stopped && event && data) stopped = on(event, JSON.parse(data)) === false;
      },
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        // Leaving the loop cancels the response body, which closes the connection.
        if (stopped) return;
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
