/** Prints a deploy as it moves (stages, build log) and resolves with its outcome. */
import type { Deploy } from '@slipway/contracts/deploy';
import type { Client } from './client';

export interface Out {
  line(text: string): void;
  error(text: string): void;
}

export async function follow(client: Client, deployId: string, out: Out, opts: { log: boolean }): Promise<Deploy> {
  let done: Deploy | null = null;
  await client.events(`/api/deploys/${encodeURIComponent(deployId)}/events`, (event, data) => {
    if (event === 'stage') {
      const { stage, progress } = data as { stage: string; progress: number };
      if (stage !== 'done') out.line(`==> ${stage} (${progress}%)`);
    } else if (event === 'log' && opts.log) {
      out.line(`    ${(data as { line: string }).line}`);
    } else if (event === 'done') {
      done = (data as { deploy: Deploy }).deploy;
      return false;
    }
  });
  // A stream that ended without its outcome (connection cut): ask for it.
  return done ?? (await client.request<{ deploy: Deploy }>('GET', `/api/deploys/${encodeURIComponent(deployId)}`)).deploy;
}

export function describeFailure(deploy: Deploy): string {
  const lines = [`${deploy.app} ${deploy.version}: ${deploy.kind} failed at ${deploy.stage}: ${deploy.error?.message ?? 'no reason given'}${deploy.error?.code ? ` (${deploy.error.code})` : ''}`];
  if (deploy.error?.logs?.length) lines.push('Last lines of the new container:', ...deploy.error.logs.map((l) => `  | ${l}`));
  return lines.join('\n');
}
