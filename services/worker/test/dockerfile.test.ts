import { describe, expect, it } from 'vitest';
import { baseImages, escapeChar, instructions, refusedAdds, refusedTriggers } from '../src/stages/dockerfile';
import { freeSubnet } from '../src/docker/networks';

const refused = (dockerfile: string) => refusedAdds(instructions(dockerfile)).map((f) => f.source);

describe('Dockerfile reading', () => {
  it("joins continuations past comments and blank lines, as Docker's parser does", () => {
    const list = instructions('FROM node:20-slim\nRUN echo a \\\n# a comment\n\n  && echo b\nadd x /y\n');
    expect(list.map((i) => [i.keyword, i.line])).toEqual([['FROM', 1], ['RUN', 2], ['ADD', 6]]);
    expect(list[1]!.args).toBe('echo a   && echo b');
  });

  it('honours the escape directive', () => {
    expect(escapeChar('# escape=`\nFROM x\n')).toBe('`');
    expect(escapeChar('FROM x\n# escape=`\n')).toBe('\\');
    expect(instructions('# escape=`\nFROM x\nADD `\n  http://127.0.0.1/a /b\n').map((i) => i.args)).toEqual(['x', 'http://127.0.0.1/a /b']);
  });
});

describe('ADD sources the engine would fetch from the host', () => {
  it('are refused in every spelling', () => {
    expect(refused('FROM x\nADD http://127.0.0.1:8080/healthz /x\n')).toEqual(['http://127.0.0.1:8080/healthz']);
    expect(refused('FROM x\nadd --chown=1:1 HTTPS://example.com/a.tgz /x\n')).toEqual(['HTTPS://example.com/a.tgz']);
    expect(refused('FROM x\nADD ["http://169.254.169.254/latest/meta-data/", "/x"]\n')).toEqual(['http://169.254.169.254/latest/meta-data/']);
    expect(refused('FROM x\nADD "http://127.0.0.1/a" /x\n')).toEqual(['"http://127.0.0.1/a"']);
    expect(refused('FROM x\nADD h\\ttp://127.0.0.1/a /x\n')).toEqual(['h\\ttp://127.0.0.1/a']);
    expect(refused('FROM x\nADD \\\n  http://127.0.0.1/a \\\n  /x\n')).toEqual(['http://127.0.0.1/a']);
    expect(refused('FROM x\nARG U=http://127.0.0.1/a\nADD $U /x\n')).toEqual(['$U']);
    expect(refused('FROM x\nADD local.txt http://127.0.0.1/a /dir/\n')).toEqual(['http://127.0.0.1/a']);
  });

  it('are refused in ONBUILD triggers, written or inherited', () => {
    expect(refusedAdds(instructions('FROM x\nONBUILD ADD http://127.0.0.1/a /x\n'))).toEqual([{ line: 2, source: 'http://127.0.0.1/a', onbuild: true }]);
    expect(refusedTriggers(['ADD http://127.0.0.1:6379/ /x', 'RUN true'])).toEqual(['http://127.0.0.1:6379/']);
    expect(refusedTriggers(['COPY . /app', 'RUN npm ci'])).toEqual([]);
  });

  it('leave local files, COPY and RUN alone', () => {
    expect(refused('FROM x\nADD app.tar.gz /srv/\nCOPY . .\nRUN curl -fsSL http://example.com/x -o /x\nADD ["a b.txt", "/x"]\n')).toEqual([]);
  });
});

describe('base images', () => {
  it('are the FROM images, ARGs before the first FROM expanded, stages and scratch left out', () => {
    const template = 'ARG BASE_IMAGE=node:20-slim\nFROM ${BASE_IMAGE}\nRUN true\n';
    expect(baseImages(instructions(template), {})).toEqual(['node:20-slim']);
    expect(baseImages(instructions(template), { BASE_IMAGE: 'node:22' })).toEqual(['node:22']);
    const multi = 'ARG V=20\nFROM --platform=linux/amd64 node:${V}-slim AS build\nRUN true\nFROM build AS again\nFROM scratch\nCOPY --from=build /a /a\nFROM nginx:${MISSING:-alpine}\n';
    expect(baseImages(instructions(multi), {})).toEqual(['node:20-slim', 'nginx:alpine']);
    expect(baseImages(instructions('FROM $NOWHERE\n'), {})).toEqual(['$NOWHERE']);
  });
});

describe('network subnets', () => {
  it('are the first /24 of the pool that overlaps no network of the engine', () => {
    expect(freeSubnet('10.213.0.0/16', [])).toBe('10.213.0.0/24');
    expect(freeSubnet('10.213.0.0/16', ['172.17.0.0/16', '10.213.0.0/24', '10.213.1.0/24'])).toBe('10.213.2.0/24');
    expect(freeSubnet('10.213.0.0/16', ['10.213.0.0/23', '10.213.2.128/25'])).toBe('10.213.3.0/24');
    expect(freeSubnet('10.213.0.0/16', ['10.0.0.0/8'])).toBeNull();
    expect(freeSubnet('10.213.7.0/24', ['10.213.7.0/24'])).toBeNull();
  });
});
