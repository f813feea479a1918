/** Every image and container Slipway makes carries these (SPEC §3); nothing without them is ever deleted. */
export const LABEL = {
  app: 'io.slipway.app',
  version: 'io.slipway.version',
  deploy: 'io.slipway.deploy',
  /** Marks a container as created by Slipway, whatever its app. */
  managed: 'io.slipway.managed',
} as const;

export function labelsFor(app: string, version: string, deployId: string): Record<string, string> {
  return { [LABEL.managed]: 'true', [LABEL.app]: app, [LABEL.version]: version, [LABEL.deploy]: deployId };
}

export function containerName(app: string, version: string): string {
  return `slipway-${app}-${version}`;
}
