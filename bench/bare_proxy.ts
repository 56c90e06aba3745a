// The floor for any gateway on this machine: a reverse proxy that does nothing but pipe
// requests to one upstream over keep-alive connections, in its own process like the gateway.
// `npm run bench:gateway` puts it in the sequential row so that the gateway's added latency
// can be read against what the extra hop alone costs (process wake-ups, loopback sockets).
//   node --import tsx bench/bare_proxy.ts http://127.0.0.1:PORT   → prints {"url": …}
import http from 'node:http';

const upstream = new URL(process.argv[2] ?? '');
const agent = new http.Agent({ keepAlive: true });
const proxy = http.createServer((req, res) => {
  const up = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers, agent }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    r.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
});
proxy.listen(0, '127.0.0.1', () => {
  const address = proxy.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  console.log(JSON.stringify({ url: `http://127.0.0.1:${address.port}` }));
});
process.stdin.on('end', () => process.exit(0)).resume(); // exits with the bench
