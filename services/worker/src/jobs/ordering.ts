/**
 * One app never deploys twice at once, and its deploys run in the order they were queued, while
 * different apps share the worker's concurrency. BullMQ's open-source edition has no per-group
 * concurrency, so each app has a line (a Redis list of deploy ids, pushed by the API): only the head
 * may run; the others go back to the delayed set, for longer the further back they stand, and the one
 * leaving the head wakes the next at once (a hand-off costs no polling delay).
 */
import type { Redis } from 'ioredis';
import type { DeployQueue } from '@slipway/records/queue';
import { keys } from '@slipway/records/redis';

// Heads whose deploy (or start/stop/delete operation) is finished or gone (a crash between settling and leaving the line, lost records)
// are dropped so they cannot block the line forever. A deploy missing from its line rejoins at the back.
const TAKE_TURN = `
local line = KEYS[1]
local me = ARGV[1]
local prefix = ARGV[2]
local opPrefix = ARGV[3]
while true do
  local head = redis.call('LINDEX', line, 0)
  if not head then
    redis.call('RPUSH', line, me)
    return 0
  end
  if head == me then return 0 end
  local status = redis.call('HGET', prefix .. head, 'status') or redis.call('HGET', opPrefix .. head, 'status')
  if status == 'queued' or status == 'running' then
    local pos = redis.call('LPOS', line, me)
    if pos == false then pos = redis.call('RPUSH', line, me) - 1 end
    return pos
  end
  redis.call('LPOP', line)
end
`;

const DEPLOY_PREFIX = keys.deploy('');
const OP_PREFIX = keys.op('');

/** How many stand ahead of this deploy in its app's line; 0 means it is its turn. */
export async function takeTurn(redis: Redis, app: string, deployId: string): Promise<number> {
  return Number(await redis.eval(TAKE_TURN, 1, keys.appLine(app), deployId, DEPLOY_PREFIX, OP_PREFIX));
}

export async function leaveLine(redis: Redis, app: string, deployId: string, queue?: DeployQueue): Promise<void> {
  await redis.lrem(keys.appLine(app), 0, deployId);
  const next = queue ? await redis.lindex(keys.appLine(app), 0) : null;
  // Only a delayed job can be promoted; one already waiting or running needs no wake-up.
  if (next) await (await queue!.getJob(next))?.promote().catch(() => {});
}
