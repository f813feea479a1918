/**
 * First start without a default password (SPEC §5): the `admin` user exists without a password, and
 * its token is SLIPWAY_ADMIN_TOKEN, or one generated now, printed once to the console and stored only as
 * a hash. The panel's first visit asks for that token to set the admin password; there is no other setup
 * window. A lost generated token is replaced by starting once with SLIPWAY_ADMIN_TOKEN set.
 *
 * Either token ends once the admin has a password (SPEC §5), with every token minted from it: it was shown
 * on a console or written in a service's environment, and is the same secret for the life of the install.
 * SLIPWAY_ADMIN_TOKEN too, though the operator chose it: left in the environment, it would be a password
 * that never changes and is never asked for. It is not recreated while the admin has a password.
 */
import type { Redis } from 'ioredis';
import type { Accounts } from './accounts';
import { newToken, sha256 } from './secrets';

const GENERATED = 'slipway:bootstrap:generated';

export async function bootstrapAdmin(redis: Redis, accounts: Accounts, configured: string | undefined): Promise<{ printed: string | null }> {
  await accounts.createUser('admin', 'admin', null);
  if ((await accounts.getUser('admin'))?.hasPassword) {
    // Also ends one left over by a version that kept it.
    await accounts.endFirstStart();
    return { printed: null };
  }
  if (configured) {
    const known = (await accounts.listTokens('admin')).some((t) => t.id === sha256(configured).slice(0, 16));
    if (!known) await accounts.createToken({ user: 'admin', name: 'SLIPWAY_ADMIN_TOKEN', scope: 'admin', expiresAt: null, firstStart: true }, configured);
    return { printed: null };
  }
  // Only the first process to get here generates one, and only ever once.
  if (!(await redis.set(GENERATED, new Date().toISOString(), 'NX'))) return { printed: null };
  const token = newToken();
  await accounts.createToken({ user: 'admin', name: 'first start', scope: 'admin', expiresAt: null, firstStart: true }, token);
  return { printed: token };
}

export function printToken(token: string): void {
  // On the console only (never through the logger, whose output is kept in files).
  process.stdout.write(
    [
      '',
      '  ┌──────────────────────────────────────────────────────────────────────────────┐',
      '  │ Slipway admin token (shown once; the panel asks for it to set a password):   │',
      `  │ ${token.padEnd(76)} │`,
      '  │ Lost it before setting a password? Start once with SLIPWAY_ADMIN_TOKEN=<new>. │',
      '  └──────────────────────────────────────────────────────────────────────────────┘',
      '',
      '',
    ].join('\n'),
  );
}
