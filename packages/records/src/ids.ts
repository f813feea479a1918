import { randomBytes } from 'node:crypto';

/** Time-sortable, URL-safe deploy ids: `d<ms base36><8 hex>`. */
export function newDeployId(now = Date.now()): string {
  return `d${now.toString(36)}${randomBytes(4).toString('hex')}`;
}

export const DEPLOY_ID_RE = /^d[0-9a-z]{8,11}[0-9a-f]{8}$/;
