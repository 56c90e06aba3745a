// A client that sends nothing but one huge prompt, again and again (PAUSE_MS after each
// answer: about two a second), from its own process (an abusive tenant is not in the victims'
// process): `node --import tsx chaos/hog_client.ts URL KEY CHARS`. Stops when its stdin
// closes and prints {"status": count, …} on stdout.
const PAUSE_MS = 500;
const [url, key, chars] = process.argv.slice(2) as [string, string, string];
const words = Array.from({ length: Math.ceil(Number(chars) / 8) }, (_, i) => `word${i % 977}`).join(' ').slice(0, Number(chars));
const body = JSON.stringify({ model: 'sirocco-test', messages: [{ role: 'user', content: words }], max_tokens: 2, temperature: 0 });
const counts: Record<number, number> = {};
let stop = false;
process.stdin.on('end', () => (stop = true)).resume();
while (!stop) {
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
  await res.arrayBuffer();
  counts[res.status] = (counts[res.status] ?? 0) + 1;
  await new Promise((r) => setTimeout(r, PAUSE_MS));
}
process.stdout.write(JSON.stringify(counts) + '\n');
