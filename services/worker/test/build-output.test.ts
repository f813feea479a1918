import { describe, expect, it } from 'vitest';
import { BuildOutputParser, type BuildMessage } from '../src/docker/build-output';
import { demuxLogs } from '../src/docker/streams';

const json = (...objects: object[]) => objects.map((o) => `${JSON.stringify(o)}\r\n`).join('');

function feed(parser: BuildOutputParser, text: string, cuts: number[]): BuildMessage[] {
  const bytes = Buffer.from(text, 'utf8');
  const out: BuildMessage[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...parser.push(bytes.subarray(from, cut)));
    from = cut;
  }
  return [...out, ...parser.end()];
}

describe('BuildOutputParser', () => {
  const stream = json(
    { stream: 'Step 1/2 : FROM node:20-slim\n' },
    { stream: ' ---> abc\n' },
    { stream: 'Step 2/2 : RUN echo héllo\n' },
    { stream: 'héllo\n' },
    { aux: { ID: 'sha256:0123456789abcdef' } },
    { stream: 'Successfully built 0123456789ab\n' },
  );

  it('gives the same messages however the stream is cut, mid-object and mid-character', () => {
    const whole = feed(new BuildOutputParser(), stream, []);
    expect(whole).toEqual([
      { kind: 'line', text: 'Step 1/2 : FROM node:20-slim' },
      { kind: 'line', text: ' ---> abc' },
      { kind: 'line', text: 'Step 2/2 : RUN echo héllo' },
      { kind: 'line', text: 'héllo' },
      { kind: 'image', id: 'sha256:0123456789abcdef' },
      { kind: 'line', text: 'Successfully built 0123456789ab' },
      { kind: 'image', id: '0123456789ab' },
    ]);
    const bytes = Buffer.byteLength(stream);
    for (let cut = 1; cut < bytes; cut += 7) {
      expect(feed(new BuildOutputParser(), stream, [cut, Math.min(cut + 3, bytes)])).toEqual(whole);
    }
  });

  it('reports error lines even inside a 200 answer', () => {
    const failed = json(
      { stream: 'Step 2/3 : RUN exit 7\n' },
      { errorDetail: { code: 7, message: "The command '/bin/sh -c exit 7' returned a non-zero code: 7" }, error: 'ignored' },
    );
    const messages = feed(new BuildOutputParser(), failed, [10]);
    expect(messages).toContainEqual({ kind: 'error', text: "The command '/bin/sh -c exit 7' returned a non-zero code: 7" });
    expect(messages.some((m) => m.kind === 'image')).toBe(false);
  });

  it('joins stream fragments into lines and treats carriage returns as line ends', () => {
    const messages = feed(new BuildOutputParser(), json({ stream: 'npm progr' }, { stream: 'ess 10%\r20%\rdone\n' }, { stream: 'tail' }), []);
    expect(messages).toEqual([
      { kind: 'line', text: 'npm progress 10%' },
      { kind: 'line', text: '20%' },
      { kind: 'line', text: 'done' },
      { kind: 'line', text: 'tail' },
    ]);
  });

  it('keeps a non-JSON line visible', () => {
    expect(feed(new BuildOutputParser(), '<html>bad gateway</html>\n', [])).toEqual([{ kind: 'line', text: '<html>bad gateway</html>' }]);
  });
});

describe('demuxLogs', () => {
  const frame = (type: number, text: string) => {
    const payload = Buffer.from(text);
    const header = Buffer.alloc(8);
    header[0] = type;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
  };

  it('splits stdout and stderr frames into lines, joining lines cut across frames', () => {
    const buffer = Buffer.concat([frame(1, 'one\ntw'), frame(2, 'err\n'), frame(1, 'o\nthree')]);
    expect(demuxLogs(buffer)).toEqual([
      { stream: 'stdout', text: 'one' },
      { stream: 'stderr', text: 'err' },
      { stream: 'stdout', text: 'two' },
      { stream: 'stdout', text: 'three' },
    ]);
  });

  it('reads an unframed buffer as plain text', () => {
    expect(demuxLogs(Buffer.from('a\nb\n'))).toEqual([
      { stream: 'stdout', text: 'a' },
      { stream: 'stdout', text: 'b' },
    ]);
  });
});
