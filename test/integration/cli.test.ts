/**
 * The slipway CLI against a real Slipway (issue 8): login, deploy a folder and an archive with the build
 * followed, a failing deploy exiting non-zero with the reason, rollback, logs -f until Ctrl-C, --json,
 * helpful errors; and an app built and started only by its Makefile.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, viaGateway } from '../helpers/api';
import { FIXTURES, fixtureEntries, tarOf } from '../helpers/archives';
import { cliBundle } from '../helpers/cli';
import { startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
let home = '';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}, opts: { stopWhen?: (stdout: string) => boolean } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['packages/cli/bin/slipway.js', ...args], {
      env: { ...process.env, XDG_CONFIG_HOME: home, SLIPWAY_URL: slipway.url, SLIPWAY_TOKEN: slipway.token, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c;
      if (opts.stopWhen?.(stdout)) child.kill('SIGINT');
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.stdin.end();
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const gateway = async (app: string) => (await viaGateway(slipway.gatewayUrl, `${app}.localhost`)).text.trim();

beforeAll(async () => {
  // bin/slipway.js runs the bundle, as an installed CLI does.
  cliBundle();
  slipway = await startSlipway();
  home = await mkdtemp(path.join(tmpdir(), 'slipway-cli-home-'));
});
afterAll(async () => {
  await slipway?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

describe('slipway CLI', () => {
  it('logs in and keeps the token readable by the user only', async () => {
    const run = await cli(['login', '--url', slipway.url, '--token', slipway.token], { SLIPWAY_URL: '', SLIPWAY_TOKEN: '' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('as admin (admin)');
    const file = path.join(home, 'slipway', 'config.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // Saved settings work without the environment.
    expect((await cli(['apps'], { SLIPWAY_URL: '', SLIPWAY_TOKEN: '' })).code).toBe(0);
  });

  it('deploys a folder, following the stages and build log', async () => {
    const run = await cli(['deploy', path.join(FIXTURES, 'hello'), '--version', '1.0.0']);
    expect(run.stderr).toBe('');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Packed \d+ entries/);
    expect(run.stdout).toContain('==> build');
    expect(run.stdout).toMatch(/Step \d+\/\d+ : FROM/);
    expect(run.stdout).toContain(`hello 1.0.0 is live at http://hello.localhost:${slipway.env.SLIPWAY_GATEWAY_PORT}/`);
    expect(await gateway('hello')).toBe('hello 1.0.0');
  });

  it('deploys an archive', async () => {
    const file = path.join(home, 'hello-2.0.0.tgz');
    await writeFile(file, await tarOf(await fixtureEntries('hello', { version: '2.0.0' })));
    const run = await cli(['deploy', file, '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/Step \d+/);
    expect(await gateway('hello')).toBe('hello 2.0.0');
  });

  it('exits non-zero with the reason when a deploy fails', async () => {
    const run = await cli(['deploy', path.join(FIXTURES, 'crash'), '--app', 'hello', '--version', '3.0.0', '--quiet']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('hello 3.0.0: deploy failed at health');
    expect(run.stderr).toContain('(unhealthy)');
    expect(run.stderr).toContain('cannot connect to the database');
    expect(await gateway('hello')).toBe('hello 2.0.0');
  });

  it('lists apps and versions, as text and as JSON', async () => {
    const apps = JSON.parse((await cli(['apps', '--json'])).stdout);
    expect(apps).toEqual([expect.objectContaining({ name: 'hello', current: expect.objectContaining({ version: '2.0.0' }) })]);
    const text = (await cli(['apps'])).stdout;
    expect(text).toMatch(/^APP\s+VERSION\s+STATUS\s+URL/m);
    const versions = JSON.parse((await cli(['versions', 'hello', '--json'])).stdout);
    expect(versions.map((v: { version: string; status: string }) => `${v.version}:${v.status}`)).toEqual(expect.arrayContaining(['1.0.0:previous', '2.0.0:running', '3.0.0:failed']));
  });

  it('rolls back and reports a deploy\'s status', async () => {
    const run = await cli(['rollback', 'hello']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Rolling hello back to 1.0.0');
    expect(run.stdout).toContain('hello 1.0.0 is live');
    expect(await gateway('hello')).toBe('hello 1.0.0');
    const id = /\((d[0-9a-z]+)\)/.exec(run.stdout)![1]!;
    const status = JSON.parse((await cli(['status', id, '--json'])).stdout);
    expect(status).toMatchObject({ id, kind: 'rollback', status: 'succeeded' });
    expect((await cli(['rollback', 'hello', '9.9.9'])).stderr).toContain('version_not_found');
  });

  it('prints logs, follows them live, and stops cleanly on Ctrl-C', async () => {
    const history = await cli(['logs', 'hello', '--grep', 'listening']);
    expect(history.code).toBe(0);
    expect(history.stdout).toContain('hello 1.0.0 listening on 3000');
    const live = cli(['logs', 'hello', '-f', '--tail', '1', '--grep', 'listening'], {}, { stopWhen: (s) => s.split('listening on 3000').length > 2 });
    await new Promise((r) => setTimeout(r, 1500));
    // A restart makes the app print again, live.
    await fetch(`${slipway.url}/api/apps/hello/restart`, { method: 'POST', headers: slipway.auth });
    const run = await live;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.split('\n').filter((l) => l.includes('listening on 3000')).length).toBeGreaterThanOrEqual(2);
  });

  it('packs a folder honouring .slipwayignore and skipping links that leave it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'slipway-cli-app-'));
    for (const entry of await fixtureEntries('hello', { name: 'packed', version: '1.0.0' })) {
      if (entry.type === 'directory') await mkdir(path.join(dir, entry.name), { recursive: true });
      else await writeFile(path.join(dir, entry.name), entry.content ?? '');
    }
    await writeFile(path.join(dir, 'secret.env'), 'TOKEN=do-not-ship');
    await writeFile(path.join(dir, '.slipwayignore'), 'secret.env\n');
    await symlink('/etc', path.join(dir, 'etc-link'));
    await mkdir(path.join(dir, 'node_modules', 'junk'), { recursive: true });
    const run = await cli(['deploy', dir, '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('skipped etc-link: a link pointing outside the folder');
    const shipped = await readdir(path.join(slipway.dataDir, 'cluster', 'packed', '1.0.0'));
    expect(shipped).toContain('server.js');
    expect(shipped).not.toContain('secret.env');
    expect(shipped).not.toContain('etc-link');
    expect(shipped).not.toContain('node_modules');
  });

  it('deploys a built site\'s folder with no flags: named after its project, versioned by the time, served as a static site', async () => {
    const project = await mkdtemp(path.join(tmpdir(), 'slipway-cli-'));
    const dist = path.join(project, 'launch-page', 'dist');
    await mkdir(path.join(dist, 'assets'), { recursive: true });
    await writeFile(path.join(dist, 'index.html'), '<h1>launch</h1>');
    await writeFile(path.join(dist, 'assets', 'app-1a2b3c4d.js'), '1;');
    const run = await cli(['deploy', dist, '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Queued launch-page \d{8}-\d{6} /);
    const { body } = await call(slipway.url, 'GET', '/api/apps/launch-page');
    expect(body.app.versions[0]).toMatchObject({ kind: 'static', site: { dir: '.', files: 2 } });
    expect(await (await fetch(`http://127.0.0.1:${body.app.current.port}/any/route`)).text()).toBe('<h1>launch</h1>');
  });

  it('makes a token for CI', async () => {
    const run = await cli(['token', 'create', '--name', 'ci', '--scope', 'read', '--expires-days', '7']);
    expect(run.code, run.stderr).toBe(0);
    const token = run.stdout.trim();
    expect(token).toMatch(/^slw_/);
    expect((await cli(['apps'], { SLIPWAY_TOKEN: token })).code).toBe(0);
    const denied = await cli(['rollback', 'hello'], { SLIPWAY_TOKEN: token });
    expect(denied.code).toBe(3);
    expect(denied.stderr).toContain('Not allowed');
  });

  it('says what is wrong when the server is away or the token is bad', async () => {
    const away = await cli(['apps'], { SLIPWAY_URL: 'http://127.0.0.1:1' });
    expect(away.code).toBe(2);
    expect(away.stderr).toContain('Cannot reach Slipway at http://127.0.0.1:1');
    const bad = await cli(['apps'], { SLIPWAY_TOKEN: 'slw_nonsense' });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('slipway login');
    expect((await cli(['deploy', '/no/such/folder'])).code).toBe(64);
    expect((await cli(['no-such-command'])).code).toBe(64);
  });
});

describe('Makefile builds', () => {
  it('builds and starts an app with only a Makefile, its output in the build log', async () => {
    const run = await cli(['deploy', path.join(FIXTURES, 'made'), '--app', 'made', '--version', '1']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('make build: copied the server into dist/');
    expect(await gateway('made')).toBe('made by make (installed by make install)');
  });
});
