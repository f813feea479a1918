import { PassThrough, type Readable } from 'node:stream';
import type { EngineClient } from './client';
import { LABEL } from './labels';

/**
 * The engine's streams (build output, logs, events, exec) arrive as chunks cut anywhere, mid-line and
 * mid-UTF-8 character. One splitter turns them into whole lines for every reader.
 */
export class LineSplitter {
  private pending = '';
  private readonly decoder = new TextDecoder('utf-8');

  /** `maxPending`: a line that grows past it without a newline is handed out as it is, so memory stays bounded. */
  constructor(private readonly maxPending = Number.POSITIVE_INFINITY) {}

  push(chunk: Buffer | Uint8Array): string[] {
    this.pending += this.decoder.decode(chunk, { stream: true });
    const lines = this.pending.split('\n');
    this.pending = lines.pop()!;
    if (this.pending.length > this.maxPending) {
      lines.push(this.pending);
      this.pending = '';
    }
    return lines;
  }

  /** What is left when the stream ends: a last line without its newline. */
  end(): string[] {
    const rest = this.pending + this.decoder.decode();
    this.pending = '';
    return rest ? [rest] : [];
  }
}

/**
 * `docker logs` of a container without a TTY: frames of [stream type, 0, 0, 0, size (uint32 BE), payload].
 * Returns the text per line; a buffer that is not framed is read as plain text.
 */
export function demuxLogs(buffer: Buffer): Array<{ stream: 'stdout' | 'stderr'; text: string }> {
  const out: Array<{ stream: 'stdout' | 'stderr'; text: string }> = [];
  const framed = buffer.length >= 8 && (buffer[0] === 1 || buffer[0] === 2) && buffer[1] === 0 && buffer[2] === 0 && buffer[3] === 0;
  if (!framed) {
    for (const text of buffer.toString('utf8').split(/\r?\n/)) if (text) out.push({ stream: 'stdout', text });
    return out;
  }
  let offset = 0;
  const partial = { stdout: '', stderr: '' };
  while (offset + 8 <= buffer.length) {
    const stream = buffer[offset] === 2 ? 'stderr' : 'stdout';
    const size = buffer.readUInt32BE(offset + 4);
    const payload = buffer.subarray(offset + 8, offset + 8 + size).toString('utf8');
    offset += 8 + size;
    const lines = (partial[stream] + payload).split(/\r?\n/);
    partial[stream] = lines.pop() ?? '';
    for (const text of lines) out.push({ stream, text });
  }
  for (const stream of ['stdout', 'stderr'] as const) if (partial[stream]) out.push({ stream, text: partial[stream] });
  return out;
}

/** A container's output and events as streams: tail, follow, watch for starts, exec. */
export class Streams {
  constructor(private readonly c: EngineClient) {}

  async tailLogs(id: string, lines: number): Promise<string[]> {
    try {
      const raw = (await this.c.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
      return demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw))).map((l) => l.text).slice(-lines);
    } catch {
      return [];
    }
  }

  /**
   * Follows a container's output from `since` (Docker's `since`: seconds, fraction allowed), split into
   * stdout and stderr. The streams end when the container stops or `stop()` is called.
   */
  async followLogs(id: string, since: string | undefined): Promise<{ stdout: PassThrough; stderr: PassThrough; stop: () => void }> {
    const container = this.c.docker.getContainer(id);
    const stream = (await this.c.call('follow logs', () =>
      container.logs({ follow: true, stdout: true, stderr: true, timestamps: true, ...(since ? { since: since as unknown as number } : {}) }),
    )) as unknown as Readable;
    return this.split(stream);
  }

  /** Calls `onStart` for every Slipway container that starts, until `stop()`. */
  async watchStarts(onStart: (id: string) => void, onEnd: () => void): Promise<{ stop: () => void }> {
    const stream = (await this.c.call('watch events', () =>
      this.c.docker.getEvents({ filters: { type: ['container'], event: ['start'], label: this.c.scoped([LABEL.managed]) } }),
    )) as unknown as Readable;
    const lines = new LineSplitter();
    stream.on('data', (chunk: Buffer) => {
      for (const raw of lines.push(chunk)) {
        try {
          const event = JSON.parse(raw) as { id?: string };
          if (event.id) onStart(event.id);
        } catch {
          // not an event
        }
      }
    });
    stream.on('end', onEnd);
    stream.on('error', onEnd);
    return { stop: () => stream.destroy() };
  }

  /** Runs a command inside a running container (argument array, never a shell string built here). */
  async exec(id: string, cmd: string[]): Promise<{ stdout: PassThrough; stderr: PassThrough; stop: () => void }> {
    const exec = await this.c.call('exec', () => this.c.docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true }));
    const stream = (await this.c.call('start exec', () => exec.start({ hijack: true, stdin: false }))) as unknown as Readable;
    return this.split(stream);
  }

  /** A multiplexed engine stream as stdout and stderr, which end with it; `stop` cuts it. */
  private split(stream: Readable): { stdout: PassThrough; stderr: PassThrough; stop: () => void } {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    this.c.docker.modem.demuxStream(stream, stdout, stderr);
    const end = () => {
      stdout.end();
      stderr.end();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
    return { stdout, stderr, stop: () => stream.destroy() };
  }
}
