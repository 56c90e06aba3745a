// Child process of engine_threads.test.ts: greedy logits of a few batched prompts with
// `threads` threads, written to stdout as base64 float32 bytes (one line), so the test can
// run it pinned to a single core.
import { Engine } from '../../src/engine/engine.ts';
import { threadCasesLogits } from './thread_cases.ts';

const [dir, threads] = [process.argv[2]!, Number(process.argv[3])];
const engine = await Engine.load(dir, { threads });
process.stdout.write(Buffer.from((await threadCasesLogits(engine)).buffer).toString('base64'));
await engine.close();
