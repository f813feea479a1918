/**
 * Where the CLI keeps the server and token from `slipway login`: $XDG_CONFIG_HOME/slipway/config.json
 * (else ~/.config), readable by the user only. SLIPWAY_URL and SLIPWAY_TOKEN override it.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

export interface CliConfig {
  url: string;
  token?: string;
}

export function configPath(env = process.env): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(homedir(), '.config'), 'slipway', 'config.json');
}

export async function loadConfig(env = process.env): Promise<CliConfig> {
  let saved: Partial<CliConfig> = {};
  try {
    saved = JSON.parse(await readFile(configPath(env), 'utf8')) as Partial<CliConfig>;
  } catch {
    // not logged in yet
  }
  const url = (env.SLIPWAY_URL || saved.url || 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token = env.SLIPWAY_TOKEN || saved.token;
  return { url, ...(token ? { token } : {}) };
}

export async function saveConfig(config: CliConfig, env = process.env): Promise<string> {
  const file = configPath(env);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}
