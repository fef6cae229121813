import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { Action } from '../../accounts/policy.js';
import type { Principal } from '../../accounts/principal.js';

type Infer<T> = T extends z.ZodType ? z.output<T> : undefined;

export interface RequestParts<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
}

/**
 * One admin API endpoint: its policy action, its shapes, and a handler that
 * only turns the request into a call to the accounts service. The router
 * puts authentication and the policy check in front of every one of them.
 */
/** A file answered as it is (a .snap download), not as JSON. */
export interface FileAnswer {
  readonly body: Readable;
  readonly type: string;
  readonly length: number;
  readonly filename: string;
}

export interface AdminRoute {
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Koa router form: `/api/v1/stores/:store`. */
  readonly path: string;
  readonly action: Action;
  readonly summary: string;
  /** For store-scoped actions: the store the policy is checked on. */
  readonly target?: (parts: RequestParts<unknown, unknown, unknown>) => string | undefined;
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  /** The answer's shape; none for 204. */
  readonly response?: z.ZodType;
  readonly status: 200 | 201 | 204;
  /** When two routes share an action, the OpenAPI operation id of this one. */
  readonly operationId?: string;
  /** The body is a file streamed to the handler as `source` (an upload), not JSON. */
  readonly streamsBody?: string;
  /** The answer is a file (`FileAnswer`), described with this media type. */
  readonly answersFile?: string;
  readonly handle: (input: RequestParts<unknown, unknown, unknown> & { readonly principal: Principal; readonly source?: Readable }) => Promise<unknown>;
}

export function route<P extends z.ZodObject | undefined = undefined, Q extends z.ZodObject | undefined = undefined, B extends z.ZodType | undefined = undefined>(def: {
  method: AdminRoute['method'];
  path: string;
  action: Action;
  summary: string;
  params?: P;
  query?: Q;
  body?: B;
  response?: z.ZodType;
  status?: 200 | 201 | 204;
  operationId?: string;
  streamsBody?: string;
  answersFile?: string;
  target?: (parts: RequestParts<Infer<P>, Infer<Q>, Infer<B>>) => string | undefined;
  handle: (input: RequestParts<Infer<P>, Infer<Q>, Infer<B>> & { readonly principal: Principal; readonly source?: Readable }) => Promise<unknown>;
}): AdminRoute {
  // Erased here; each handler gets what its own schemas parsed.
  return { ...def, status: def.status ?? (def.response || def.answersFile ? 200 : 204) } as unknown as AdminRoute;
}
