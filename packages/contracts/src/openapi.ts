import { z } from 'zod';
import { AppDetailSchema, AppSummarySchema } from './app';
import { AuditEntrySchema, CSRF_HEADER, SESSION_COOKIE, TokenInfoSchema, UserSchema } from './auth';
import { DeploySchema } from './deploy';
import { ErrorBodySchema } from './errors';
import { QueueJobSchema } from './job';
import { LogLineSchema } from './logs';
import { OPERATIONS, PATH_PARAMS, type Body, type Operation } from './operations';

/**
 * The OpenAPI 3.1 document of the HTTP API (`GET /api/openapi.json`), built from the table in `operations.ts`
 * with zod's own JSON Schema conversion. Requests are described as clients send them (`io: 'input'`: query
 * numbers as numbers, defaults shown), answers as the API writes them. The records answers share are
 * components (`#/components/schemas/Deploy`); the wrappers around them stay inline.
 */

type Json = Record<string, unknown>;

/** Records named in the document; any schema inside an answer that is one of these becomes a `$ref`. */
const COMPONENTS: Record<string, z.ZodType> = {
  Deploy: DeploySchema,
  AppSummary: AppSummarySchema,
  AppDetail: AppDetailSchema,
  User: UserSchema,
  TokenInfo: TokenInfoSchema,
  AuditEntry: AuditEntrySchema,
  LogLine: LogLineSchema,
  QueueJob: QueueJobSchema,
  Error: ErrorBodySchema,
};

const ERROR = { $ref: '#/components/responses/Error' };

export function openApiDocument(version: string): Json {
  const answers = convertAnswers();
  const paths: Record<string, Record<string, Json>> = {};
  for (const op of OPERATIONS) (paths[op.path] ??= {})[op.method.toLowerCase()] = operation(op, answers);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Slipway',
      version,
      description:
        'The HTTP API of a Slipway installation (docs/api.md). Errors are always `{"error":{"code","message"}}`; clients switch on `code`. ' +
        '`x-slipway-access` names what an operation needs: `public`, `signed-in` (any scope), or a scope (`read` < `deploy` < `admin`).',
    },
    tags: [...new Set(OPERATIONS.map((op) => op.tag))].map((name) => ({ name })),
    security: [{ bearerToken: [] }, { sessionCookie: [] }],
    paths,
    components: {
      schemas: answers.named,
      responses: { Error: { description: 'A 4xx or 5xx, with a stable code', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } },
      securitySchemes: {
        bearerToken: { type: 'http', scheme: 'bearer', description: 'An API token: `Authorization: Bearer slw_…`' },
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: `The panel's session, from \`POST /api/auth/login\`. Requests that change something also need the \`${CSRF_HEADER}\` header (the login's \`csrf\`) and a same-origin \`Origin\`.`,
        },
      },
    },
  };
}

/** `/api/apps/{name}` → `/api/apps/:name`, the routers' and docs/api.md's spelling. */
export function routerPath(openApiPath: string): string {
  return openApiPath.replace(/\{(\w+)\}/g, ':$1');
}

function operation(op: Operation, answers: ReturnType<typeof convertAnswers>): Json {
  const params = [...op.path.matchAll(/\{(\w+)\}/g)].map(([, name = '']) => {
    const schema = op.params?.[name] ?? PATH_PARAMS[name];
    if (!schema) throw new Error(`${op.method} ${op.path}: no schema for the path parameter "${name}"`);
    return parameter(name, 'path', input(schema), true);
  });
  if (op.query) {
    const { properties = {}, required = [] } = input(op.query) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, schema] of Object.entries(properties)) params.push(parameter(name, 'query', schema, required.includes(name)));
  }
  const responses: Record<string, unknown> = {};
  for (const [status, body] of Object.entries(op.answers)) responses[status] = response(Number(status), body, answers.inline);
  responses.default = ERROR;
  return {
    operationId: op.id,
    tags: [op.tag],
    summary: op.summary,
    'x-slipway-access': op.access,
    ...(op.access === 'public' ? { security: [] } : {}),
    ...(params.length ? { parameters: params } : {}),
    ...(op.body ? { requestBody: requestBody(op.body) } : {}),
    responses,
  };
}

function parameter(name: string, where: 'path' | 'query', schema: Json, required: boolean): Json {
  const { description, ...rest } = schema;
  return { name, in: where, required, ...(description ? { description } : {}), schema: rest };
}

function requestBody(body: NonNullable<Operation['body']>): Json {
  if ('form' in body) return { required: true, content: { 'multipart/form-data': { schema: input(body.form) } } };
  // A body every field of which is optional may be left out (the rollback's).
  const schema = input(body);
  return { required: Array.isArray(schema.required) && schema.required.length > 0, content: { 'application/json': { schema } } };
}

function response(status: number, body: Body, inline: Map<z.ZodType, Json>): Json {
  const description = STATUS[status] ?? String(status);
  if (body === null) return { description };
  if (body instanceof z.ZodType) return { description, content: { 'application/json': { schema: inline.get(body) } } };
  if ('sse' in body) {
    const events = Object.fromEntries(Object.entries(body.sse).map(([name, data]) => [name, inline.get(data)]));
    return {
      description: `Server-sent events (${Object.keys(events).join(', ')}); each event's data is the JSON in \`x-slipway-events\`. A comment heartbeat every 15 s.`,
      content: { 'text/event-stream': { schema: { type: 'string' } } },
      'x-slipway-events': events,
    };
  }
  return {
    description,
    content: {
      ...(body.json ? { 'application/json': { schema: inline.get(body.json) } } : {}),
      'text/plain': { schema: { type: 'string', description: body.text } },
    },
  };
}

/** `int()` is bounded to the safe integers: true of every count the API sends, noise in the document. */
function tidy(json: { minimum?: number; maximum?: number }): void {
  if (json.minimum === Number.MIN_SAFE_INTEGER) delete json.minimum;
  if (json.maximum === Number.MAX_SAFE_INTEGER) delete json.maximum;
}

const STATUS: Record<number, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted: queued', 204: 'Done, no content', 503: 'Not ready' };

/** A request schema as the client sends it. */
function input(schema: z.ZodType): Json {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: 'input', override: ({ jsonSchema }) => tidy(jsonSchema) }) as Json;
  return json;
}

/**
 * Every answer schema in one conversion, through a registry that names the shared records: a `Deploy`
 * inside `{deploy}` becomes a `$ref` to its component, the wrapper itself is kept to be inlined.
 */
function convertAnswers(): { named: Record<string, Json>; inline: Map<z.ZodType, Json> } {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id });
  const wrappers = new Map<z.ZodType, string>();
  const add = (schema: z.ZodType) => {
    if (registry.has(schema) || wrappers.has(schema)) return;
    const id = `answer${wrappers.size}`;
    wrappers.set(schema, id);
    registry.add(schema, { id });
  };
  for (const op of OPERATIONS) {
    for (const body of Object.values(op.answers)) {
      if (body === null) continue;
      if (body instanceof z.ZodType) add(body);
      else if ('sse' in body) Object.values(body.sse).forEach(add);
      else if (body.json) add(body.json);
    }
  }
  const { schemas } = z.toJSONSchema(registry, {
    uri: (id) => `#/components/schemas/${id}`,
    override: ({ jsonSchema }) => {
      tidy(jsonSchema);
      // zod's output objects are closed; answers may gain fields, which clients should ignore.
      if (jsonSchema.additionalProperties === false) delete jsonSchema.additionalProperties;
    },
  }) as { schemas: Record<string, Json> };
  const clean = (json: Json | undefined): Json => {
    const { $schema: _s, $id: _i, ...rest } = json ?? {};
    return rest;
  };
  // A wrapper inside another answer would be a $ref to nothing: answers must not nest one another.
  const dangling = JSON.stringify(schemas).match(/"\$ref":"#\/components\/schemas\/answer\d+"/);
  if (dangling) throw new Error(`An answer schema is nested in another (${dangling[0]}): name it in COMPONENTS, or give each its own copy`);
  const inline = new Map<z.ZodType, Json>();
  for (const [schema, id] of wrappers) inline.set(schema, clean(schemas[id]));
  for (const [id, schema] of Object.entries(COMPONENTS)) inline.set(schema, { $ref: `#/components/schemas/${id}` });
  return { named: Object.fromEntries(Object.keys(COMPONENTS).map((id) => [id, clean(schemas[id])])), inline };
}
