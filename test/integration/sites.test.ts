/**
 * Static sites and front-end builds (issue 15, SPEC §3): a plain static archive served as it is, a
 * Makefile-built front-end uploaded as `<name>_<version>.gz`, an `npm run build` project, their headers and
 * single-page fallback, what the final image carries, a rollback between two sites under load, and a
 * front-end whose build fails.
 */
import { get as httpGet, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, upload, waitForDeploy } from '../helpers/api';
import { tarOf, type Entry } from '../helpers/archives';
import { docker, printProblemsOnFailure, prober, startSlipway, type Slipway } from '../helpers/slipway';

let slipway: Slipway;
printProblemsOnFailure(() => slipway);

beforeAll(async () => {
  slipway = await startSlipway();
});

afterAll(async () => {
  await slipway?.stop();
});

const page = (title: string) => `<!doctype html><html><head><title>${title}</title><script src="/assets/app-3f2a1c9b.js"></script></head><body>${title}</body></html>\n`;
const site = (title: string): Entry[] => [
  { name: 'index.html', content: page(title) },
  { name: 'assets/app-3f2a1c9b.js', content: `console.log(${JSON.stringify(title)});\n` },
  { name: 'robots.txt', content: 'User-agent: *\n' },
];

async function deployed(archive: Buffer, fileName: string, fields: Record<string, string> = {}) {
  const res = await upload(slipway.url, archive, fileName, fields);
  expect(res.status).toBe(202);
  return waitForDeploy(slipway.url, res.body.deploy.id);
}

async function versionOf(app: string, version: string) {
  const { body } = await call(slipway.url, 'GET', `/api/apps/${app}`);
  return body.app.versions.find((v: { version: string }) => v.version === version);
}

/** What the final image holds: the served folder, and whether the sources or node_modules came along. */
async function imageHolds(image: string): Promise<string> {
  const paths = '/app/Makefile /app/package.json /app/src /app/node_modules /srv/site/node_modules /srv/site/.slipway /srv/site/Makefile';
  const script = `ls -A /srv/site | sort | tr "\\n" " "; for p in ${paths}; do test -e $p && echo "has $p"; done; true`;
  // A terminal, so the output comes back as it is, without the engine's stream framing.
  const container = await docker.createContainer({ Image: image, Cmd: ['sh', '-c', script], Tty: true, Labels: { 'io.slipway.test': 'sites' } });
  try {
    await container.start();
    await container.wait();
    const raw = (await container.logs({ stdout: true, stderr: true })) as unknown as Buffer;
    return raw.toString('utf8').trim();
  } finally {
    await container.remove({ force: true });
  }
}

describe('a static site', () => {
  it('is served as it is, with the single-page fallback, 404 for a missing file and the cache headers', async () => {
    const done = await deployed(await tarOf(site('plain site')), 'plain.tgz', { app: 'plain', version: '1.0.0' });
    expect(done.status).toBe('succeeded');
    expect(await versionOf('plain', '1.0.0')).toMatchObject({ kind: 'static', site: { dir: '.', files: 3 } });
    expect(done.build).toEqual({ kind: 'static', site: { dir: '.', files: 3 } });
    const base = `http://127.0.0.1:${done.port}`;

    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(await index.text()).toContain('plain site');

    const deep = await fetch(`${base}/orders/42/edit`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toContain('plain site');
    expect(deep.headers.get('cache-control')).toBe('no-cache');

    const asset = await fetch(`${base}/assets/app-3f2a1c9b.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');

    const plain = await fetch(`${base}/robots.txt`);
    expect(plain.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(plain.headers.get('cache-control')).toBe('public, max-age=0, must-revalidate');

    expect((await fetch(`${base}/assets/missing-3f2a1c9b.js`)).status).toBe(404);
    expect((await fetch(`${base}/favicon.ico`)).status).toBe(404);
    expect(await imageHolds(`${slipway.prefix}plain:1.0.0`)).toBe('assets index.html robots.txt');
  });

  it('serves precompressed .gz files, gzips text on the fly, runs nginx as uid 1000 and logs each request', async () => {
    const precompressed = gzipSync('body { color: red } /* the precompressed one */\n');
    const done = await deployed(
      await tarOf([
        ...site('zipped site'),
        { name: 'assets/style-3f2a1c9b.css', content: 'body { color: red }\n'.repeat(200) },
        { name: 'assets/style-3f2a1c9b.css.gz', content: precompressed },
        { name: 'data/catalogue.json', content: JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item ${i}` }))) },
      ]),
      'zipped.tgz',
      { app: 'zipped', version: '1.0.0' },
    );
    expect(done.status).toBe('succeeded');
    const base = `http://127.0.0.1:${done.port}`;
    // Raw bytes: fetch would undo the encoding and hide which file was sent.
    const css = await rawGet(`${base}/assets/style-3f2a1c9b.css`, { 'accept-encoding': 'gzip' });
    expect(css.headers['content-encoding']).toBe('gzip');
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    expect(css.headers.vary).toMatch(/Accept-Encoding/);
    expect(gunzipSync(css.body).toString()).toContain('the precompressed one');
    const plainCss = await rawGet(`${base}/assets/style-3f2a1c9b.css`, {});
    expect(plainCss.headers['content-encoding']).toBeUndefined();
    expect(plainCss.body.toString()).toBe('body { color: red }\n'.repeat(200));
    const json = await rawGet(`${base}/data/catalogue.json`, { 'accept-encoding': 'gzip' });
    expect(json.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(json.body).toString())).toHaveLength(300);

    const [container] = await docker.listContainers({ filters: { label: [`io.slipway.deploy=${done.id}`] } });
    expect((await docker.getContainer(container!.Id).inspect()).Config.User).toBe('1000:1000');
    // Access lines reach the app's log history like any app's output.
    let lines: string[] = [];
    for (let i = 0; i < 50 && !lines.some((l) => l.startsWith('GET /data/catalogue.json 200')); i++) {
      await new Promise((r) => setTimeout(r, 200));
      const logs = await call(slipway.url, 'GET', '/api/apps/zipped/logs?q=GET');
      lines = logs.body.lines.map((l: { text: string }) => l.text);
    }
    expect(lines).toContainEqual(expect.stringMatching(/^GET \/assets\/style-3f2a1c9b\.css 200 \d+\.\d{3} s$/));
    expect(lines).toContainEqual(expect.stringMatching(/^GET \/data\/catalogue\.json 200 /));
  });
});

/** A GET whose body comes back as sent (fetch decodes gzip). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { headers, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

describe('a front-end build', () => {
  it('runs a Makefile with no package.json, uploaded as <name>_<version>.gz, and ships only its output', async () => {
    const makefile = 'install:\n\tmkdir -p vendor && echo ok > vendor/installed\n\nbuild:\n\tmkdir -p dist/assets && test -f vendor/installed && printf \'<h1>made by make</h1>\' > dist/index.html && echo "x" > dist/assets/app-9e8d7c6b.css\n';
    const done = await deployed(await tarOf([{ name: 'Makefile', content: makefile }, { name: 'src/main.txt', content: 'source\n' }]), 'console_2.1.0.gz');
    expect(done).toMatchObject({ app: 'console', version: '2.1.0', status: 'succeeded' });
    expect(await versionOf('console', '2.1.0')).toMatchObject({ kind: 'frontend', site: { dir: 'dist', files: 2 } });
    expect(done.build).toEqual({ kind: 'frontend', site: { dir: 'dist', files: 2 } });
    expect(await (await fetch(`http://127.0.0.1:${done.port}/settings`)).text()).toBe('<h1>made by make</h1>');
    expect(await imageHolds(`${slipway.prefix}console:2.1.0`)).toBe('assets index.html');
  });

  it('runs npm run build into build/, with its dev dependency, and serves it', async () => {
    const done = await deployed(
      await tarOf([
        { name: 'package.json', content: JSON.stringify({ name: 'spa', version: '0.3.0', scripts: { build: 'node make-site.js' }, devDependencies: { ms: '2.1.3' } }) },
        { name: 'make-site.js', content: "const fs = require('node:fs'); fs.mkdirSync('build', { recursive: true }); fs.writeFileSync('build/index.html', 'built in ' + require('ms')(60000));\n" },
      ]),
      'spa.tgz',
    );
    expect(done.status).toBe('succeeded');
    expect(await versionOf('spa', '0.3.0')).toMatchObject({ kind: 'frontend', site: { dir: 'build', files: 1 } });
    expect(await (await fetch(`http://127.0.0.1:${done.port}/`)).text()).toBe('built in 1m');
    expect(await imageHolds(`${slipway.prefix}spa:0.3.0`)).toBe('index.html');
  });

  it('serves the folder the app\'s outputDir names, and refuses one outside the app', async () => {
    for (const outputDir of ['../etc', '/srv', 'a/../../b']) {
      const refused = await call(slipway.url, 'PUT', '/api/apps/docs', { outputDir });
      expect(refused.status).toBe(400);
      expect(refused.body.error.code).toBe('bad_request');
    }
    // 201: the PUT registers the app.
    expect((await call(slipway.url, 'PUT', '/api/apps/docs', { outputDir: 'web/out', kind: 'frontend' })).status).toBe(201);
    const makefile = 'build:\n\tmkdir -p web/out dist && echo docs > web/out/index.html && echo wrong > dist/index.html\n';
    const done = await deployed(await tarOf([{ name: 'Makefile', content: makefile }, { name: 'server.js', content: 'not started: the kind says front-end\n' }]), 'docs_1.0.0.gz');
    expect(done.status).toBe('succeeded');
    expect(await versionOf('docs', '1.0.0')).toMatchObject({ kind: 'frontend', site: { dir: 'web/out', files: 1 } });
    expect((await (await fetch(`http://127.0.0.1:${done.port}/`)).text()).trim()).toBe('docs');
  });

  it('ends failed with the build\'s own message, the running version untouched', async () => {
    const makefile = 'build:\n\t@echo "vite: could not resolve ./missing.ts" >&2; exit 3\n';
    const done = await deployed(await tarOf([{ name: 'Makefile', content: makefile }]), 'console_2.2.0.gz');
    expect(done).toMatchObject({ status: 'failed', stage: 'build' });
    expect(done.error?.code).toBe('build_failed');
    expect(done.error?.message).toMatch(/returned a non-zero code/);
    expect(done.error?.message).toMatch(/vite: could not resolve \.\/missing\.ts/);
    const app = await call(slipway.url, 'GET', '/api/apps/console');
    expect(app.body.app.current.version).toBe('2.1.0');
  });

  it('says what is wrong when the build leaves no index.html', async () => {
    const done = await deployed(await tarOf([{ name: 'Makefile', content: 'build:\n\tmkdir -p dist && echo hi > dist/readme.txt\n' }]), 'empty_1.0.0.gz');
    expect(done).toMatchObject({ status: 'failed', stage: 'build' });
    expect(done.error?.message).toMatch(/No index.html to serve/);
  });
});

describe('switching sites', () => {
  it('rolls back between two static versions through the gateway with no failed request', async () => {
    const first = await deployed(await tarOf(site('roll one')), 'roll_1.0.0.tgz');
    expect(first.status).toBe('succeeded');
    const second = await deployed(await tarOf(site('roll two')), 'roll_2.0.0.tgz');
    expect(second.status).toBe('succeeded');
    const load = prober(slipway.gatewayUrl, 'roll.localhost', 20);
    const res = await call(slipway.url, 'POST', '/api/apps/roll/rollback', {});
    expect(res.status).toBe(202);
    expect((await waitForDeploy(slipway.url, res.body.deploy.id)).status).toBe('succeeded');
    await new Promise((r) => setTimeout(r, 1000));
    const { sent, failures, answers } = await load.stop();
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(20);
    const seen = [...answers.keys()].map((text) => /<body>(.*)<\/body>/.exec(text)?.[1]);
    expect(seen).toContain('roll two');
    expect(seen).toContain('roll one');
  });
});
