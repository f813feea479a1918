/**
 * slipway: deploy a folder or an archive and follow it, list apps and versions, roll back, read logs,
 * make tokens. `--json` on read commands for scripts. Exit codes: 0 ok, 1 failed, 2 unreachable,
 * 3 refused (token), 64 usage.
 */
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { SingleBar } from 'cli-progress';
import type { AppDetail, AppSummary } from '@slipway/contracts/app';
import type { Deploy } from '@slipway/contracts/deploy';
import type { LogLine } from '@slipway/contracts/logs';
// Inlined by the bundle (build.mjs), so `--version` is the installed package's own.
import { version } from '../package.json';
import { CliError, Client } from './client';
import { loadConfig, saveConfig } from './config';
import { describeFailure, follow, type Out } from './follow';
import { folderIdentity, packFolder } from './pack';
import { uploadArchive } from './upload';

const out: Out = {
  line: (text) => process.stdout.write(`${text}\n`),
  error: (text) => process.stderr.write(`${text}\n`),
};
const print = (data: unknown) => out.line(JSON.stringify(data, null, 2));
const client = async () => new Client(await loadConfig());

const program = new Command('slipway')
  .description('Deploy Node apps to a Slipway server')
  .version(version)
  // `slipway deploy --version 1.2.0` is the app's version; the CLI's own is `slipway --version`.
  .enablePositionalOptions()
  .showHelpAfterError()
  .exitOverride();

program
  .command('login')
  .description('store the server address and an API token (SLIPWAY_URL / SLIPWAY_TOKEN override them)')
  .option('--url <url>', 'Slipway address', process.env.SLIPWAY_URL ?? 'http://127.0.0.1:8080')
  .option('--token <token>', 'API token (slw_…); read from stdin when omitted')
  .action(async (opts: { url: string; token?: string }) => {
    const token = opts.token ?? (await readStdin());
    if (!token) throw new CliError('No token: pass --token slw_… or pipe it in (e.g. from a secret store)', 64);
    const c = new Client({ url: opts.url.replace(/\/+$/, ''), token });
    const me = await c.request<{ user: { name: string; role: string } }>('GET', '/api/auth/me');
    const file = await saveConfig({ url: c.config.url, token });
    out.line(`Signed in to ${c.config.url} as ${me.user.name} (${me.user.role}); saved in ${file}`);
  });

program
  .command('deploy')
  .description('deploy a folder (packed for you) or an archive, and follow it')
  .argument('[path]', 'folder or .tar.gz/.tgz/.gz/.tar/.zip', '.')
  .option('--app <name>', 'app name (default: package.json name, or the file name)')
  .option('--version <version>', 'version (default: package.json version, or the file name)')
  .option('--no-follow', 'return once queued')
  .option('--quiet', 'no build log, just stages')
  .action(async (target: string, opts: { app?: string; version?: string; follow: boolean; quiet?: boolean }) => {
    const c = await client();
    const info = await stat(target).catch(() => null);
    if (!info) throw new CliError(`No such file or folder: ${target}`, 64);
    let file = target;
    let temp: string | null = null;
    let named: { app?: string; version?: string } = {};
    if (info.isDirectory()) {
      const packed = await packFolder(target, (rel, why) => out.error(`skipped ${rel}: ${why}`));
      file = temp = packed.file;
      named = await folderIdentity(target);
      out.line(`Packed ${packed.entries} entries from ${path.resolve(target)}`);
    }
    try {
      const bar = process.stderr.isTTY ? new SingleBar({ format: 'Uploading [{bar}] {percentage}% {value}/{total} bytes', hideCursor: true }) : null;
      let started = false;
      const deploy = await uploadArchive(c, file, { app: opts.app ?? named.app, version: opts.version ?? named.version, fileName: temp ? `${path.basename(path.resolve(target))}.tar.gz` : undefined }, (sent, total) => {
        if (!bar) return;
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(sent);
      });
      bar?.stop();
      out.line(`Queued ${deploy.app} ${deploy.version} (${deploy.id})`);
      if (!opts.follow) return;
      await finish(c, deploy, !opts.quiet);
    } finally {
      if (temp) await rm(temp, { force: true });
    }
  });

program
  .command('apps')
  .description('list apps with their running version and address')
  .option('--json', 'machine-readable output')
  .action(async (opts: { json?: boolean }) => {
    const { apps } = await (await client()).request<{ apps: AppSummary[] }>('GET', '/api/apps');
    if (opts.json) return print(apps);
    table(['APP', 'VERSION', 'STATUS', 'URL'], apps.map((a) => [a.name, a.current?.version ?? '-', a.current?.status ?? 'not running', a.current?.url ?? '-']));
  });

program
  .command('versions')
  .description("an app's versions and which one runs")
  .argument('<app>')
  .option('--json', 'machine-readable output')
  .action(async (app: string, opts: { json?: boolean }) => {
    const { app: detail } = await (await client()).request<{ app: AppDetail }>('GET', `/api/apps/${encodeURIComponent(app)}`);
    if (opts.json) return print(detail.versions);
    table(['VERSION', 'STATUS', 'CREATED'], detail.versions.map((v) => [v.version, v.status, v.createdAt]));
  });

program
  .command('rollback')
  .description('run an earlier version again (default: the previous one), no rebuild')
  .argument('<app>')
  .argument('[version]')
  .option('--no-follow', 'return once queued')
  .action(async (app: string, version: string | undefined, opts: { follow: boolean }) => {
    const c = await client();
    const { deploy } = await c.request<{ deploy: Deploy }>('POST', `/api/apps/${encodeURIComponent(app)}/rollback`, version ? { version } : {});
    out.line(`Rolling ${app} back to ${deploy.version} (${deploy.id})`);
    if (opts.follow) await finish(c, deploy, false);
  });

program
  .command('status')
  .description('one deploy: its stage, outcome and error')
  .argument('<deployId>')
  .option('--json', 'machine-readable output')
  .action(async (id: string, opts: { json?: boolean }) => {
    const { deploy } = await (await client()).request<{ deploy: Deploy }>('GET', `/api/deploys/${encodeURIComponent(id)}`);
    if (opts.json) return print(deploy);
    out.line(`${deploy.app} ${deploy.version} (${deploy.kind}): ${deploy.status} at ${deploy.stage}, ${deploy.progress}%`);
    if (deploy.status === 'failed') out.line(describeFailure(deploy));
  });

program
  .command('logs')
  .description("an app's logs; -f follows them live (Ctrl-C to stop)")
  .argument('<app>')
  .option('-f, --follow', 'keep printing new lines')
  .option('--since <time>', 'from this time (ISO 8601) or this long ago (30m, 2h, 1d)')
  .option('--grep <text>', 'only lines with this text, or /regex/')
  .option('-n, --tail <lines>', 'how many lines of history', '100')
  .option('--json', 'one JSON object per line')
  .action(async (app: string, opts: { follow?: boolean; since?: string; grep?: string; tail: string; json?: boolean }) => {
    const c = await client();
    const show = (l: LogLine) => out.line(opts.json ? JSON.stringify(l) : `${l.ts.slice(0, 23)} ${l.version} ${l.stream === 'stdout' ? '' : `[${l.stream}] `}${l.text}`);
    const params = new URLSearchParams({ tail: opts.tail });
    if (opts.since) params.set('since', sinceTime(opts.since));
    if (opts.grep) params.set('q', opts.grep);
    const { lines } = await c.request<{ lines: LogLine[] }>('GET', `/api/apps/${encodeURIComponent(app)}/logs?${params}`);
    lines.forEach(show);
    if (!opts.follow) return;
    const matches = opts.grep ? grepper(opts.grep) : () => true;
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    const last = lines.at(-1)?.ts ?? '';
    await c.events(`/api/apps/${encodeURIComponent(app)}/logs/stream`, (event, data) => {
      const line = data as LogLine;
      if (event === 'log' && line.ts > last && matches(line.text)) show(line);
    }, stop.signal);
  });

const token = program.command('token').description('API tokens');
token
  .command('create')
  .description('make a token (shown once) for CI or another machine')
  .requiredOption('--name <name>', 'what it is for')
  .option('--scope <scope>', 'read, deploy or admin', 'deploy')
  .option('--expires-days <days>', 'expire after this many days')
  .option('--user <user>', 'for another user (admins only)')
  .action(async (opts: { name: string; scope: string; expiresDays?: string; user?: string }) => {
    const body = { name: opts.name, scope: opts.scope, ...(opts.expiresDays ? { expiresInDays: Number(opts.expiresDays) } : {}), ...(opts.user ? { user: opts.user } : {}) };
    const res = await (await client()).request<{ token: string; info: { id: string; scope: string; expiresAt: string | null } }>('POST', '/api/tokens', body);
    out.error(`Token ${res.info.id} (${res.info.scope}${res.info.expiresAt ? `, expires ${res.info.expiresAt}` : ''}); it is shown this once:`);
    out.line(res.token);
  });

/** Follows a queued deploy to its end; a failure exits non-zero with the reason. */
async function finish(c: Client, deploy: Deploy, log: boolean): Promise<void> {
  const done = await follow(c, deploy.id, out, { log });
  if (done.status !== 'succeeded') throw new CliError(describeFailure(done));
  const { app } = await c.request<{ app: AppDetail }>('GET', `/api/apps/${encodeURIComponent(done.app)}`);
  out.line(`${done.app} ${done.version} is live${app.current ? ` at ${app.current.url}` : ''}`);
}

function table(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const row of [head, ...rows]) out.line(row.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd());
}

function sinceTime(value: string): string {
  const m = /^(\d+)(m|h|d)$/.exec(value);
  if (!m) return value;
  const ms = Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
  return new Date(Date.now() - ms).toISOString();
}

function grepper(q: string): (text: string) => boolean {
  const re = /^\/(.+)\/([a-z]*)$/.exec(q);
  if (re) {
    const pattern = new RegExp(re[1]!, re[2]!.replace('g', ''));
    return (text) => pattern.test(text);
  }
  return (text) => text.toLowerCase().includes(q.toLowerCase());
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  let data = '';
  for await (const chunk of process.stdin) data += chunk;
  return data.trim();
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 64);
  if (err instanceof CliError) {
    out.error(err.message);
    process.exit(err.exitCode);
  }
  out.error(`slipway: ${(err as Error).message}`);
  process.exit(1);
}
