// Reads a request body of at most `maxBytes`, chunked or not. An oversized body is drained
// (up to `drainBytes`) before the 413 goes out, because a server that answers and closes
// while the client is still sending leaves most clients with a broken pipe, not the error.
import type { MiddlewareHandler } from 'hono';
import { requestBody } from '../util/request_body.ts';
import { OpenAIError } from './openai_error.ts';

// maxBytes may move (a function, read per request): completion bodies are held to what the
// served models could ever take (app.ts), which changes as models come and go.
export type BodyLimitOptions = { maxBytes: number | (() => number); drainBytes: number };

export type BodyVariables = { body: string };

export function bodyLimit(options: BodyLimitOptions): MiddlewareHandler<{ Variables: BodyVariables }> {
  const limit = typeof options.maxBytes === 'number' ? () => options.maxBytes as number : options.maxBytes;
  if (!(limit() > 0) || !(options.drainBytes >= limit())) throw new Error('bodyLimit: need 0 < maxBytes ≤ drainBytes');
  return async (c, next) => {
    const maxBytes = Math.min(limit(), options.drainBytes);
    const tooLarge = () => new OpenAIError(413, `Request body too large: the limit is ${maxBytes} bytes.`, 'invalid_request_error', null, 'request_too_large');
    const declared = Number(c.req.header('content-length') ?? NaN);
    if (declared > options.drainBytes) throw tooLarge(); // not worth reading: let the connection go
    const chunks: Uint8Array[] = [];
    let size = 0;
    const source = requestBody(c);
    if (source) {
      for await (const chunk of source) {
        size += chunk.length;
        if (size > options.drainBytes) throw tooLarge();
        if (size <= maxBytes) chunks.push(chunk);
      }
    }
    if (size > maxBytes) throw tooLarge();
    c.set('body', Buffer.concat(chunks).toString('utf8'));
    await next();
  };
}
