/**
 * In Slipway's image the process starts as root only to see which group owns the Docker socket (it differs
 * from host to host), then runs as SLIPWAY_RUN_AS: with that one extra group where it talks to the engine
 * (the worker), with none where it does not (the API, the gateway). Nothing is opened before this runs.
 */
import { statSync } from 'node:fs';

export function runAs(user: string, dockerSocket: string | null): string {
  if (!process.getuid || !process.setuid) return `not on this system (${user} ignored)`;
  const { getuid, getgid, setuid, setgid, setgroups, getgroups } = process as Required<NodeJS.Process>;
  if (getuid() !== 0) return `as uid ${getuid()} already (${user} ignored)`;
  const socketGroup = dockerSocket ? statSync(dockerSocket, { throwIfNoEntry: false })?.gid : undefined;
  setgid(user);
  // root's supplementary groups dropped; the socket's group 0 would be root's own group, so it is not added
  // (the worker then says it cannot reach the engine).
  setgroups(socketGroup ? [getgid(), socketGroup] : [getgid()]);
  setuid(user);
  return `as ${user} (uid ${getuid()}, groups ${getgroups().join(',')})`;
}

/** The unix socket the engine is reached on, when it is one. */
export function dockerSocketPath(dockerHost: string | undefined): string | null {
  if (!dockerHost) return '/var/run/docker.sock';
  return dockerHost.startsWith('unix://') ? dockerHost.slice('unix://'.length) : null;
}
