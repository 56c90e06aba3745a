// Entry of a tokenizer worker thread (tokenizer_workers.ts): TypeScript through tsx, then the worker.
import { register } from 'tsx/esm/api';

register();
await import('./tokenizer_worker.ts');
