// Reads a request body of at most `maxBytes`, chunked or not. An oversized body is drained
// (up to `drainBytes`) before the 413 goes out, because a server that answers and closes
// while the client is still sending leaves most clients with a broken pipe, not the error.
import type { MiddlewareHandler } from 'hono';
import { requestBody } from '../util/request_body.ts';
import { OpenAIError } from './openai_error.ts';

export type BodyLimitOptions = { maxBytes: number; drainBytes: number };

export type BodyVariables = { body: string };

export function bodyLimit(options: BodyLimitOptions): MiddlewareHandler<{ Variables: BodyVariables }> {
  if (!(options.maxBytes > 0) || !(options.drainBytes >= options.maxBytes)) throw new Error('bodyLimit: need 0 < maxBytes ≤ drainBytes');
  const tooLarge = () =>
    new OpenAIError(413, `Request body too large: the limit is ${options.maxBytes} bytes.`, 'invalid_request_error', null, 'request_too_large');
  return async (c, next) => {
    const declared = Number(c.req.header('content-length') ?? NaN);
    if (declared > options.drainBytes) throw tooLarge(); // not worth reading: let the connection go
    const chunks: Uint8Array[] = [];
    let size = 0;
    const source = requestBody(c);
    if (source) {
      for await (const chunk of source) {
        size += chunk.length;
        if (size > options.drainBytes) throw tooLarge();
        if (size <= options.maxBytes) chunks.push(chunk);
      }
    }
    if (size > options.maxBytes) throw tooLarge();
    c.set('body', Buffer.concat(chunks).toString('utf8'));
    await next();
  };
}
