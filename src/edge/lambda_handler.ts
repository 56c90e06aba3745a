// The edge node on AWS Lambda behind a function URL (infra/modules/edge_lambda): edge_app.ts
// with response streaming (the function URL's RESPONSE_STREAM mode carries the SSE). The engine
// comes from the package (sirocco-relaxed.wasm where the runtime has relaxed SIMD — Node 22 —
// else sirocco.wasm), the model from S3 (MODEL_URI) with the function role's credentials,
// loaded during the function's init — a Lambda module may wait at its top level — so no
// request waits for it; the memory budget is the function's memory size. The node secret comes
// from its SSM parameter (SIROCCO_NODE_SECRET_PARAMETER) unless SIROCCO_NODE_SECRET is set.
import { existsSync, readFileSync } from 'node:fs';
import { streamHandle } from 'hono/aws-lambda';
import { hostHasRelaxedDot } from '../engine/wasm_relaxed_probe.ts';
import { startEdgeNode, type EdgeEnv } from './edge_app.ts';
import { resolveNodeSecret } from './node_secret_parameter.ts';

const relaxed = new URL('./sirocco-relaxed.wasm', import.meta.url);
const engineModule = new WebAssembly.Module(readFileSync(existsSync(relaxed) && hostHasRelaxedDot() ? relaxed : new URL('./sirocco.wasm', import.meta.url)));
const env = { MEMORY_LIMIT_MB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, ...process.env, SIROCCO_NODE_SECRET: await resolveNodeSecret(process.env) } as unknown as EdgeEnv;
const { app, loading } = startEdgeNode(env, engineModule);
await loading;

export const handler = streamHandle(app);
