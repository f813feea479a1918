/**
 * api, worker and gateway are services: each starts from the settings and stops on its own, so one
 * process can run all three (`SLIPWAY_ROLE=all`, the default) or just one (compose, scaling out).
 */
export interface Service {
  readonly name: 'api' | 'worker' | 'gateway';
  /** Stops taking work, finishes or hands back what it holds, closes its connections. Never throws. */
  stop(): Promise<void>;
}

/** Tells a parent process (tests, a supervisor) that a service is up, when there is one. */
export function announceReady(service: Service['name']): void {
  process.send?.({ type: 'ready', service });
}

/** Stops the services (in order) on the first SIGTERM or SIGINT, then `after()`, then exits. */
export function stopOnSignals(services: () => Service[], after: () => Promise<void> = async () => {}): void {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    for (const service of services()) await service.stop();
    await after();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

/** A service that cannot start (no Docker Engine, a port taken) says why in one line and ends the process. */
export async function startOrExit<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    console.error(`[slipway] ${(err as Error).message}`);
    process.exit(1);
  }
}
