/**
 * Debian's pebble (Let's Encrypt's test CA) and pebble-challtestsrv (its DNS), on loopback, for the ACME
 * tests and bench: every name resolves to 127.0.0.1, and pebble validates HTTP-01 at `httpPort` there (the
 * gateway's HTTP port). pebble's own HTTPS certificate comes from a CA made for the run (the package ships
 * none); Slipway trusts it through SLIPWAY_ACME_CA_FILE.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, get } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { InternalCa } from '@slipway/gateway/tls/internal-ca';

export interface Pebble {
  /** The ACME directory. */
  url: string;
  /** PEM file of the CA pebble's HTTPS certificate is from (SLIPWAY_ACME_CA_FILE). */
  caFile: string;
  /** The root pebble signs certificates under (it makes a new one at each start). */
  root: string;
  stop(): Promise<void>;
}

/** Starts `command`, resolving once its output matches `ready`. */
function run(command: string, args: string[], ready: RegExp, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve(child);
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', seen);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}:\n${output}`)));
    setTimeout(() => {
      child.kill();
      reject(new Error(`${command} was not ready after 20 s:\n${output}`));
    }, 20_000).unref();
  });
}

export async function startPebble(httpPort: number): Promise<Pebble> {
  const dir = await mkdtemp(path.join(tmpdir(), 'slipway-pebble-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children) child.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const [acmePort, managementPort, dnsPort, dnsManagementPort, tlsPort] = await Promise.all(Array.from({ length: 5 }, () => getPort()));
    const ca = await InternalCa.open(path.join(dir, 'ca'));
    const serving = await ca.issue('localhost', 24 * 3600_000);
    await writeFile(path.join(dir, 'cert.pem'), serving.certPem);
    await writeFile(path.join(dir, 'key.pem'), serving.keyPem);
    const config = {
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: path.join(dir, 'cert.pem'),
        privateKey: path.join(dir, 'key.pem'),
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    };
    await writeFile(path.join(dir, 'pebble.json'), JSON.stringify(config));
    const dnsArgs = ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsManagementPort}`];
    children.push(await run('pebble-challtestsrv', dnsArgs, /Starting management server/));
    // No sleep before validation, and no nonce refused at random: the test is about Slipway, not retries.
    children.push(await run('pebble', ['-config', path.join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], /ACME directory available/, { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' }));
    const root = await new Promise<string>((resolve, reject) => {
      get(`https://localhost:${managementPort}/roots/0`, { agent: new Agent({ ca: ca.certPem }) }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    return { url: `https://localhost:${acmePort}/dir`, caFile: path.join(dir, 'ca', 'ca.pem'), root, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
