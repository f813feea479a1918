/**
 * App names and versions (SPEC §2). Pure functions: the API resolves and validates with them
 * before anything is stored, the worker re-validates job payloads, the UI pre-checks forms.
 */

export const APP_NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Docker's tag grammar: a version becomes the image tag, so it must be a valid tag. */
export const VERSION_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function isAppName(name: string): boolean {
  return APP_NAME_RE.test(name);
}

export function isVersion(version: string): boolean {
  return VERSION_RE.test(version);
}

/** `@scope/x` becomes `scope-x`; the result still has to pass `isAppName`. */
export function appNameFromPackageName(pkgName: string): string {
  const scoped = /^@([^/]+)\/(.+)$/.exec(pkgName);
  return scoped ? `${scoped[1]}-${scoped[2]}` : pkgName;
}

/** Longest first: `.gz` (a gzipped tar, the seed's `name_version.gz` uploads) must not shadow `.tar.gz`. */
export const ARCHIVE_EXTENSIONS = ['.tar.gz', '.tgz', '.tar', '.zip', '.gz'] as const;
export type ArchiveExtension = (typeof ARCHIVE_EXTENSIONS)[number];

export function archiveExtension(fileName: string): ArchiveExtension | null {
  const lower = fileName.toLowerCase();
  return ARCHIVE_EXTENSIONS.find((ext) => lower.endsWith(ext)) ?? null;
}

/**
 * `shop_1.4.2.tar.gz`, `shop-1.4.2.tgz` or `shop_1.4.2.gz` → {app: 'shop', version: '1.4.2'}.
 * The version is the part after the last `_`, or after the last `-` that is followed by a digit
 * (so `my-app-2.0.0` splits as `my-app` + `2.0.0`, and `my-app-2.0.0-rc.1` keeps its pre-release).
 */
export function identityFromFileName(fileName: string): { app: string; version: string } | null {
  const ext = archiveExtension(fileName);
  if (!ext) return null;
  const base = fileName.slice(fileName.lastIndexOf('/') + 1, fileName.length - ext.length);
  const underscore = base.lastIndexOf('_');
  if (underscore > 0 && underscore < base.length - 1) {
    return { app: base.slice(0, underscore), version: base.slice(underscore + 1) };
  }
  const dash = /^(.+?)-(v?\d[^]*)$/.exec(base);
  if (dash?.[1] && dash[2]) return { app: dash[1], version: dash[2] };
  return null;
}

export interface IdentitySources {
  form: { app?: string | undefined; version?: string | undefined };
  packageJson?: { name?: unknown; version?: unknown } | null | undefined;
  fileName?: string | undefined;
}

export type IdentityResult =
  | { ok: true; app: string; version: string }
  | {
      ok: false;
      code: 'name_required' | 'version_required' | 'invalid_name' | 'invalid_version';
      message: string;
    };

/** SPEC §2: form fields, then package.json, then the file name; each part resolved on its own. */
export function resolveIdentity({ form, packageJson, fileName }: IdentitySources): IdentityResult {
  const fromFile = fileName ? identityFromFileName(fileName) : null;
  const pkgName = typeof packageJson?.name === 'string' ? appNameFromPackageName(packageJson.name) : undefined;
  const pkgVersion = typeof packageJson?.version === 'string' ? packageJson.version : undefined;

  const app = nonEmpty(form.app) ?? nonEmpty(pkgName) ?? fromFile?.app;
  const version = nonEmpty(form.version) ?? nonEmpty(pkgVersion) ?? fromFile?.version;

  if (!app) {
    return {
      ok: false,
      code: 'name_required',
      message: 'No app name: send the form field "app", a package.json with "name", or name the file <app>-<version>.tgz',
    };
  }
  if (!isAppName(app)) {
    return {
      ok: false,
      code: 'invalid_name',
      message: `App name "${printable(app)}" is invalid: use 1-63 lowercase letters, digits and dashes, starting with a letter or digit`,
    };
  }
  if (!version) {
    return {
      ok: false,
      code: 'version_required',
      message: 'No version: send the form field "version", a package.json with "version", or name the file <app>-<version>.tgz',
    };
  }
  if (!isVersion(version)) {
    return {
      ok: false,
      code: 'invalid_version',
      message: `Version "${printable(version)}" is invalid: it must be a Docker tag (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-")`,
    };
  }
  return { ok: true, app, version };
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** Echo user input back in messages without control characters and without flooding the answer. */
function printable(value: string): string {
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 80 ? `${clean.slice(0, 77)}...` : clean;
}

/** The one place an app image is named (SPEC §3): `<SLIPWAY_IMAGE_PREFIX><app>:<version>`. */
export function imageName(prefix: string, app: string, version: string): string {
  return `${prefix}${app}:${version}`;
}
