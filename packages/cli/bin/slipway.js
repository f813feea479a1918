#!/usr/bin/env node
// The bin is this stable file, not the bundle itself: npm links a bin only when its file exists at install
// time, and in a checkout the bundle (dist/slipway.js) is built after `npm ci`.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/slipway.js', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write('slipway: the CLI is not built yet: run "npm run build:cli" in the Slipway checkout\n');
  process.exit(1);
}
await import(bundle.href);
