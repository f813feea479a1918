import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confinedArchive, isInside } from '../src/jobs/job-paths';

describe('job archive paths (issue 12)', () => {
  it('tells strictly-below from beside, above and equal', () => {
    expect(isInside('/data/archives', '/data/archives/a/1.tgz')).toBe(true);
    expect(isInside('/data/archives', '/data/archives')).toBe(false);
    expect(isInside('/data/archives', '/data/archives-evil/1.tgz')).toBe(false);
    expect(isInside('/data/archives', '/data/archives/../x')).toBe(false);
    expect(isInside('/data/archives', '/etc/passwd')).toBe(false);
    expect(isInside('/data/archives', '/data/archives/..x')).toBe(true); // a file named "..x" is inside
  });

  let data = '';
  beforeAll(async () => {
    data = await mkdtemp(path.join(tmpdir(), 'slipway-jobpaths-'));
    await mkdir(path.join(data, 'archives', 'app'), { recursive: true });
    await writeFile(path.join(data, 'archives', 'app', '1.0.0-d1.tgz'), 'x');
    await symlink('/etc/passwd', path.join(data, 'archives', 'app', 'evil.tgz'));
    await symlink('/etc', path.join(data, 'archives', 'etc'));
  });
  afterAll(() => rm(data, { recursive: true, force: true }));

  it('accepts a real archive and a missing one under archives or uploads', async () => {
    expect(await confinedArchive(data, path.join(data, 'archives', 'app', '1.0.0-d1.tgz'))).toBe(path.join(data, 'archives', 'app', '1.0.0-d1.tgz'));
    expect(await confinedArchive(data, path.join(data, 'uploads', 'gone.tgz'))).toBe(path.join(data, 'uploads', 'gone.tgz'));
  });

  it.each([
    ['/etc/passwd'],
    ['archives/app/1.0.0-d1.tgz'],
    ['{data}/archives/../cluster/x.tgz'],
    ['{data}/archives/app/evil.tgz'],
    ['{data}/archives/etc/passwd'],
    ['{data}/logs/x.tgz'],
  ])('refuses %s as unsafe_job', async (given) => {
    await expect(confinedArchive(data, given.replace('{data}', data))).rejects.toMatchObject({ code: 'unsafe_job', retryable: false });
  });
});
