// Checking a model directory on local disk against the manifest.json in it (what
// `sirocco weights pull` and the download cache leave next to the files): chunks, files and,
// for a version-2 manifest, headers and tensor blocks (the column-chunked copies live only in S3).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ChecksumError, WeightsError } from './errors.ts';
import { MANIFEST_FILE, parseManifest, type Manifest } from './manifest.ts';
import { verifyFileStream } from './tensor_verify.ts';
import { TransferProgress, type ProgressSink } from './transfer_progress.ts';

const READ_PIECE = 4 << 20;

export async function hashLocalFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path, { highWaterMark: READ_PIECE }) as AsyncIterable<Buffer>) hash.update(piece);
  return hash.digest('hex');
}

export async function readLocalManifest(dir: string): Promise<Manifest> {
  if (!(await stat(dir).then((s) => s.isDirectory(), () => false)))
    throw new WeightsError(`${dir}: no such directory: pass s3://bucket/prefix or a directory made by 'sirocco weights pull'`);
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new WeightsError(`${dir}: no ${MANIFEST_FILE} to verify against (it is written by 'sirocco weights pull' and by push)`);
  }
  return parseManifest(text, path);
}

/** Hashes every file the manifest lists; throws a ChecksumError naming the first bad file and chunk. */
export async function verifyLocalModel(dir: string, progress: ProgressSink | null = process.stderr): Promise<{ files: number; bytes: number }> {
  const manifest = await readLocalManifest(dir);
  const files = manifest.model.files;
  const meter = new TransferProgress(`verify ${dir}`, files.reduce((n, f) => n + f.size, 0), progress);
  try {
    for (const file of files) {
      const path = join(dir, file.path);
      const size = await stat(path).then((s) => s.size, () => null);
      if (size === null) throw new ChecksumError(`${path}: missing (listed in the manifest): pull the model again`);
      await verifyFileStream(manifest, file, createReadStream(path, { highWaterMark: READ_PIECE }), dir, (n) => meter.advance(n));
    }
  } catch (err) {
    meter.abandon();
    throw err;
  }
  meter.finish(`${files.length} files match the manifest`);
  return { files: files.length, bytes: files.reduce((n, f) => n + f.size, 0) };
}
