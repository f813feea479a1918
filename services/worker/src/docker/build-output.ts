/**
 * Docker's build answer is a stream of JSON objects separated by newlines, cut into chunks anywhere
 * (mid-object, mid-UTF-8 character). A failed build still answers HTTP 200 and reports the failure in an
 * `error`/`errorDetail` object, so the caller must read every message, not just wait for the end.
 */
import { LineSplitter } from './streams';

export type BuildMessage =
  | { kind: 'line'; text: string }
  | { kind: 'error'; text: string }
  | { kind: 'image'; id: string };

export class BuildOutputParser {
  private readonly objects = new LineSplitter();
  private partialLine = '';

  push(chunk: Buffer | Uint8Array): BuildMessage[] {
    return this.objects.push(chunk).flatMap((raw) => (raw.trim() ? this.parse(raw.trim()) : []));
  }

  /** Whatever is left when the stream ends: a last object without newline, a last line without "\n". */
  end(): BuildMessage[] {
    const out: BuildMessage[] = [];
    for (const raw of this.objects.end()) if (raw.trim()) out.push(...this.parse(raw.trim()));
    if (this.partialLine.trim()) out.push({ kind: 'line', text: this.partialLine.trimEnd() });
    this.partialLine = '';
    return out;
  }

  private parse(raw: string): BuildMessage[] {
    let msg: { stream?: unknown; status?: unknown; error?: unknown; errorDetail?: { message?: unknown }; aux?: { ID?: unknown } };
    try {
      msg = JSON.parse(raw);
    } catch {
      // Not JSON (a proxy's error page, say): keep it visible rather than dropping it.
      return [{ kind: 'line', text: raw }];
    }
    if (msg.error !== undefined || msg.errorDetail !== undefined) {
      const text = String(msg.errorDetail?.message ?? msg.error ?? 'build failed').trim();
      return [{ kind: 'error', text }];
    }
    if (msg.aux && typeof msg.aux.ID === 'string') return [{ kind: 'image', id: msg.aux.ID }];
    if (typeof msg.stream === 'string') return this.lines(msg.stream);
    if (typeof msg.status === 'string') return [{ kind: 'line', text: msg.status }];
    return [];
  }

  /** `stream` fragments are not line-aligned: join them, emit whole lines, treat `\r` as a line end. */
  private lines(text: string): BuildMessage[] {
    const parts = (this.partialLine + text).split(/\r\n|\n|\r/);
    this.partialLine = parts.pop() ?? '';
    const out: BuildMessage[] = [];
    for (const part of parts) {
      const line = part.trimEnd();
      if (line) out.push({ kind: 'line', text: line });
      const built = /^Successfully built ([0-9a-f]{12,64})$/.exec(line);
      if (built?.[1]) out.push({ kind: 'image', id: built[1] });
    }
    return out;
  }
}
