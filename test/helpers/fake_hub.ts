// A local HTTP server answering the Hugging Face Hub URL shapes that @huggingface/hub uses to
// download a snapshot (model info, tree, paths-info, resolve with ranges), serving a model
// directory from disk. Files above 1 KB are announced as LFS objects with their sha256.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export type FakeHub = { url: string; requests: string[]; corrupt: (file: string) => void; close: () => Promise<void> };

export async function startFakeHub(repo: string, dir: string): Promise<FakeHub> {
  const commit = createHash('sha1').update(dir).digest('hex');
  const files = new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]));
  // Announced as the files were at start: corrupt() changes what is served, not what is listed.
  const sha256 = new Map([...files].map(([name, data]) => [name, createHash('sha256').update(data).digest('hex')]));
  const entry = (path: string) => {
    const data = files.get(path)!;
    const lfs = data.length > 1024 ? { oid: sha256.get(path)!, size: data.length, pointerSize: 130 } : undefined;
    return { type: 'file', path, size: data.length, oid: createHash('sha1').update(data).digest('hex'), lfs, lastCommit: { id: commit, title: 'init', date: new Date(0).toISOString() } };
  };
  const requests: string[] = [];
  const json = (res: import('node:http').ServerResponse, body: unknown) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://hub');
    requests.push(`${req.method} ${url.pathname}`);
    if (url.pathname.startsWith(`/api/models/${repo}/revision/`)) return json(res, { id: repo, sha: commit, private: false, gated: false });
    if (url.pathname === `/api/models/${repo}/tree/${commit}`) return json(res, [...files.keys()].map(entry));
    if (url.pathname === `/api/models/${repo}/paths-info/${commit}`) {
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => json(res, (JSON.parse(body) as { paths: string[] }).paths.filter((p) => files.has(p)).map(entry)));
      return;
    }
    const resolve = new RegExp(`^/${repo}/resolve/[^/]+/(.+)$`).exec(url.pathname);
    const data = resolve ? files.get(decodeURIComponent(resolve[1]!)) : undefined;
    if (!data) {
      res.statusCode = 404;
      return json(res, { error: 'not found' });
    }
    res.setHeader('x-repo-commit', commit);
    res.setHeader('etag', `"${entry(decodeURIComponent(resolve![1]!)).oid}"`);
    const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
    let body = data;
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Number(range[2]) : data.length - 1;
      body = data.subarray(start, end + 1);
      res.statusCode = 206;
      res.setHeader('content-range', `bytes ${start}-${end}/${data.length}`);
    }
    res.setHeader('content-length', body.length);
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    corrupt: (file) => {
      const data = Buffer.from(files.get(file)!);
      data[data.length - 1]! ^= 0xff;
      files.set(file, data);
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
