// Slipway's static site server (issue 15): sirv serves the site; this entry only sets the headers and
// writes an access line per request. Unknown paths without an extension answer index.html (single-page
// apps), missing files 404, fingerprinted assets are cached for a year, HTML is revalidated every time,
// and precompressed .br/.gz files go to clients that accept them.
import { createServer } from 'node:http';
import sirv from 'sirv';

const root = process.argv[2] ?? '/srv/site';
const port = Number(process.env.PORT ?? 3000);
// `index-BX3f2a1c.js`, `main.3f2a1c9b.chunk.css`: a hash of 8+ characters with a digit before the extension.
const FINGERPRINTED = /[.-](?=[A-Za-z0-9_]*\d)[A-Za-z0-9_]{8,}(\.chunk)?\.[A-Za-z0-9]+$/;

const serve = sirv(root, {
  single: true,
  gzip: true,
  brotli: true,
  etag: true,
  // `pathname` is the one asked for: a path without an extension is a page (index.html or the fallback).
  setHeaders(res, pathname) {
    if (pathname.endsWith('.html') || !/\.[^/]+$/.test(pathname)) res.setHeader('Cache-Control', 'no-cache');
    else if (FINGERPRINTED.test(pathname)) res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    else res.setHeader('Cache-Control', 'public, max-age=0, must-revalidate');
  },
  onNoMatch(_req, res) {
    res.statusCode = 404;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('Not found\n');
  },
});

const server = createServer((req, res) => {
  const began = process.hrtime.bigint();
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - began) / 1e6;
    process.stdout.write(`${req.method} ${req.url} ${res.statusCode} ${ms.toFixed(1)} ms\n`);
  });
  serve(req, res);
});
server.listen(port, () => process.stdout.write(`Serving ${root} on port ${port}\n`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
