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
