import type { Context } from 'koa';
import type { z } from 'zod';
import { AppError } from '../errors';

/** Parse the query string with a schema; a mismatch is a 400 that names the parameter. */
export function query<S extends z.ZodType>(ctx: Context, schema: S): z.output<S> {
  return parse(schema, ctx.query, 'query parameter');
}

export function body<S extends z.ZodType>(ctx: Context, schema: S): z.output<S> {
  return parse(schema, (ctx.request as { body?: unknown }).body, 'body field');
}

function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${what} "${i.path.join('.') || '(root)'}": ${i.message}`);
  throw new AppError(400, 'bad_request', problems.join('; '));
}
