// A local S3-compatible server (s3rver) in its own process, so the benchmark's downloads do
// not share an event loop with the server. Objects persist in DIR (so a re-run skips the push).
// Prints {"endpoint": …} once listening; runs until killed.   s3rver_process.ts BUCKET DIR
import { startLocalS3 } from '../test/helpers/s3rver.ts';

const bucket = process.argv[2] ?? 'bench';
const s3 = await startLocalS3([bucket], process.argv[3]);
process.stdout.write(JSON.stringify({ endpoint: s3.endpoint }) + '\n');
const stop = () => void s3.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
