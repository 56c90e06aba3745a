// kill -9 in a loop: rounds of streaming and whole requests, each round ending with SIGKILL
// of the gateway or of the node, which is then restarted. At the end the ledger must hold
// exactly one record for every request id a client saw — none missing, none twice — the
// interrupted ones billed by the gateway's reconciliation at its next start.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readUsageFile } from '../../src/gateway/ledger/ledger_file.ts';
import { TempModels } from '../../test/helpers/models.ts';
import { startSirocco, type Server } from '../../test/helpers/servers.ts';
import { sleep, type Scenario } from '../scenario.ts';
import { openStream } from '../streams.ts';

const MODEL = 'chaos';

export const killLoop: Scenario = {
  name: 'kill -9 of node and gateway in a loop',
  claim: 'the ledger holds one record for every request id clients saw: 0 missing, 0 duplicated',
  async run({ short, log }) {
    const rounds = short ? 2 : 6;
    const models = new TempModels();
    const servers: Server[] = [];
    try {
      const dir = await models.make({ preset: 'mistral-tiny', seed: 1 });
      const dataDir = join(models.root, 'data');
      const startNode = async (port = 0) => {
        const s = await startSirocco(['node', '--model', dir, '--port', String(port), '--model-id', MODEL]);
        servers.push(s);
        return s;
      };
      let node = await startNode();
      const nodePort = new URL(node.url).port;
      const startGateway = async () => {
        const g = await startSirocco(['gateway', '--nodes', node.url, '--port', '0', '--data', dataDir, '--health-interval-ms', '200']);
        servers.push(g);
        for (let i = 0; i < 100 && !((await (await fetch(`${g.url}/health`)).json()) as { ready: boolean }).ready; i++) await sleep(100);
        return g;
      };
      let gateway = await startGateway();
      const { stdout } = await promisify(execFile)(process.execPath, ['bin/sirocco.js', 'keys', 'create', '--name', 'chaos', '--data', dataDir]);
      const key = stdout.trim();
      const seen = new Set<string>();
      for (let round = 0; round < rounds; round++) {
        const streams = await Promise.all(Array.from({ length: 6 }, (_, i) => openStream(gateway.url, key, { model: MODEL, prompt: 'The wind', max_tokens: 3000, temperature: 1, seed: round * 10 + i })));
        const whole = Array.from({ length: 4 }, () =>
          fetch(`${gateway.url}/v1/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, prompt: 'Hi', max_tokens: 3000 }) })
            .then(async (r) => {
              const id = r.headers.get('x-request-id');
              await r.arrayBuffer().catch(() => undefined);
              return id;
            })
            .catch(() => null), // cut before its headers: the client never learned an id
        );
        await Promise.all(streams.map((s) => s.reached(3)));
        const victim = round % 2 === 0 ? 'gateway' : 'node';
        if (victim === 'gateway') await gateway.stop('SIGKILL');
        else await node.stop('SIGKILL');
        for (const s of streams) await s.ended;
        for (const id of [...streams.map((s) => s.id), ...(await Promise.all(whole))]) if (id) seen.add(id);
        if (victim === 'gateway') gateway = await startGateway();
        else {
          node = await startNode(Number(nodePort));
          await sleep(500); // the gateway's health check finds it again
        }
        log(`round ${round + 1}/${rounds}: killed the ${victim}; ${seen.size} request ids seen so far`);
      }
      // The last start reconciled what the last gateway kill left; give its first pass a moment.
      let records = await readUsageFile(dataDir, {}, () => {});
      for (let i = 0; i < 50 && [...seen].some((id) => !records.some((r) => r.request_id === id)); i++) {
        await sleep(200);
        records = await readUsageFile(dataDir, {}, () => {});
      }
      const counts = new Map<string, number>();
      for (const r of records) counts.set(r.request_id, (counts.get(r.request_id) ?? 0) + 1);
      const missing = [...seen].filter((id) => !counts.has(id));
      const doubled = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
      const byStatus = records.reduce<Record<string, number>>((m, r) => ({ ...m, [r.status]: (m[r.status] ?? 0) + 1 }), {});
      return {
        figure: `${rounds} kills (${Math.ceil(rounds / 2)} gateway, ${Math.floor(rounds / 2)} node), ${seen.size} request ids seen by clients: ${missing.length} missing, ${doubled.length} duplicated; records ${Object.entries(byStatus).map(([s, n]) => `${n} ${s}`).join(', ')}`,
        pass: missing.length === 0 && doubled.length === 0 && seen.size > 0,
        notes: [...missing.slice(0, 5).map((id) => `missing ${id}`), ...doubled.slice(0, 5).map((id) => `twice ${id}`)],
      };
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      models.cleanup();
    }
  },
};
