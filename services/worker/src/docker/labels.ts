/** Every image and container Slipway makes carries these (SPEC §3); nothing without them is ever deleted. */
export const LABEL = {
  app: 'io.slipway.app',
  version: 'io.slipway.version',
  deploy: 'io.slipway.deploy',
  /** Marks a container as created by Slipway, whatever its app. */
  managed: 'io.slipway.managed',
  /** The installation that made it (settings.instance); the engine layer only ever sees its own. */
  instance: 'io.slipway.instance',
  /** Which of the app's `instances` a container is: 0, 1, … (logs and stats say it). */
  replica: 'io.slipway.replica',
} as const;

export function labelsFor(app: string, version: string, deployId: string, instance: string): Record<string, string> {
  return { [LABEL.managed]: 'true', [LABEL.instance]: instance, [LABEL.app]: app, [LABEL.version]: version, [LABEL.deploy]: deployId };
}

/**
 * `slipway-<app>-<version>` (SPEC §3), then `-2`, `-3`… for the version's other instances; with the
 * installation's id when that name is taken by another one.
 */
export function containerName(app: string, version: string, instance?: string, replica = 0): string {
  const base = instance ? `slipway-${app}-${version}-${instance}` : `slipway-${app}-${version}`;
  return replica ? `${base}-${replica + 1}` : base;
}
