import { z } from 'zod';

/**
 * One line of an app's output (SPEC §4): from the container's stdout/stderr, or from a file inside it
 * (`stream` is then the file's path). `ts` is when Docker received it, RFC 3339 with 9 fraction digits,
 * so lines sort as strings.
 */
export const LogLineSchema = z.object({
  ts: z.string(),
  app: z.string(),
  version: z.string(),
  stream: z.string(),
  text: z.string(),
  /** Which of the app's `instances` wrote it, when the version runs several (absent: the first). */
  instance: z.number().int().optional(),
});
export type LogLine = z.infer<typeof LogLineSchema>;

/** Longest line kept as one record; longer output is split into several. */
export const MAX_LINE_CHARS = 16 * 1024;
