import { z } from 'zod';

/**
 * How a version is built and run (SPEC §3, issue 15): its own `dockerfile`; a `static` site (an index.html
 * at the root, nothing to build or start); a `frontend` whose build leaves a folder with an index.html;
 * a `node` app through the template. Detected from the files unless the app's `kind` setting says.
 */
export const AppKindSchema = z.enum(['dockerfile', 'static', 'frontend', 'node']);
export type AppKind = z.infer<typeof AppKindSchema>;

/** A site's served folder (relative to the app's root, `.` for the root itself) and its file count. */
export const SiteSchema = z.object({ dir: z.string(), files: z.number().int() });
export type Site = z.infer<typeof SiteSchema>;
