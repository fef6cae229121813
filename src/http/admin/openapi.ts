import { z } from 'zod';
import type { AdminRoute } from './route.js';
import { ErrorBody } from './schemas.js';
import { POLICY } from '../../accounts/policy.js';

const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z_]+)/g, '{$1}');

function describePolicy(r: AdminRoute): string {
  const rule = POLICY[r.action];
  const who = rule.scope === 'signed-in' ? 'any signed-in person' : rule.scope === 'any-store' ? `${rule.roles.join(' or ')} on some store` : `${rule.roles.join(' or ')} on the store`;
  return `Action \`${r.action}\`: ${who}.`;
}

/**
 * The OpenAPI 3.1 document of the admin API, written from the route list
 * itself (shapes from the zod schemas the routes validate with), so it
 * cannot drift from what the server does.
 */
export function openApiDocument(routes: readonly AdminRoute[], version: string): Record<string, unknown> {
  const schemas: Record<string, unknown> = {};
  // Schemas with an id (schemas.ts) become components; zod writes them as $defs.
  const jsonSchema = (schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> => {
    const text = JSON.stringify(z.toJSONSchema(schema, { io, unrepresentable: 'any' })).replaceAll('"#/$defs/', '"#/components/schemas/');
    const out = JSON.parse(text) as Record<string, unknown>;
    for (const [id, def] of Object.entries((out['$defs'] ?? {}) as Record<string, unknown>)) schemas[id] ??= def;
    delete out['$defs'];
    delete out['$schema'];
    return out;
  };
  const errorRef = jsonSchema(ErrorBody, 'output');
  const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: errorRef } } });
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const parameters: unknown[] = [];
    const add = (schema: z.ZodObject | undefined, where: 'path' | 'query') => {
      if (!schema) return;
      for (const [name, field] of Object.entries(schema.shape)) {
        const s = jsonSchema(field as z.ZodType, 'input') as Record<string, unknown>;
        const description = s['description'];
        delete s['description'];
        parameters.push({ name, in: where, required: where === 'path' || !(field as z.ZodType).safeParse(undefined).success, schema: s, ...(typeof description === 'string' ? { description } : {}) });
      }
    };
    add(r.params, 'path');
    add(r.query, 'query');
    const responses: Record<string, unknown> = {
      [String(r.status)]: r.answersFile
        ? { description: 'the file', content: { [r.answersFile]: { schema: { type: 'string', contentMediaType: r.answersFile } } } }
        : r.response
          ? { description: 'success', content: { 'application/json': { schema: jsonSchema(r.response, 'output') } } }
          : { description: 'done' },
      '400': errorResponse('invalid input'),
      '401': errorResponse('not signed in, or the token is not valid'),
      '403': errorResponse('the policy does not allow it (or a missing CSRF token)'),
    };
    if (r.params) responses['404'] = errorResponse('no such item');
    if (r.method !== 'get') responses['409'] = errorResponse('conflicts with the current state');
    (paths[toOpenApiPath(r.path)] ??= {})[r.method] = {
      operationId: r.operationId ?? r.action.replace(/\.(\w)/, (_, c: string) => c.toUpperCase()) + (r.path.endsWith('/tree') ? 'Tree' : ''),
      summary: r.summary,
      description: describePolicy(r),
      'x-policy-action': r.action,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } } } : {}),
      ...(r.streamsBody ? { requestBody: { required: true, content: { [r.streamsBody]: { schema: { type: 'string', contentMediaType: r.streamsBody } } } } } : {}),
      responses,
      security: [{ bearerToken: [] }, { sessionCookie: [] }],
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'serial-vault admin API',
      version,
      description: 'Brands, the store tree, people, role grants and access tokens. Every change is audited. Errors: {code, message, error_list}.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerToken: { type: 'http', scheme: 'bearer', description: 'a personal access token (svp_…)' },
        sessionCookie: { type: 'apiKey', in: 'cookie', name: 'sv_session', description: 'a browser session after single sign-on; send X-CSRF-Token on changes' },
      },
    },
  };
}
