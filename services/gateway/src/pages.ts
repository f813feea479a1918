/** The gateway's own answers: plain pages that name nothing private (no app list, no internal address). */
import type { ServerResponse } from 'node:http';

const page = (title: string, text: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:15vh auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}p{color:#555}</style>
</head><body><h1>${title}</h1><p>${text}</p><p><small>Slipway</small></p></body></html>`;

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function sendPage(res: ServerResponse, status: 404 | 502 | 503, host: string): void {
  const pages = {
    404: ['No app here', `Nothing is deployed at ${escape(host)}. Check the address.`],
    502: ['App not answering', 'The app behind this address did not answer. Try again in a moment.'],
    503: ['App not running', 'The app behind this address is stopped or has no running version.'],
  } as const;
  const [title, text] = pages[status];
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...(status === 503 ? { 'retry-after': '5' } : {}) });
  res.end(page(title, text));
}
