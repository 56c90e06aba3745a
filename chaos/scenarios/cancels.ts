// Clients that leave: of many streams, one in ten is cancelled after a few tokens. The node's
// decoding slots come free within a second of the cancels, and each cancelled request is
// billed between what its client received and what its node generated (the node stops at
// its next step, so it may have made a token or two the client never saw).
import { readUsageFile } from '../../src/gateway/ledger/ledger_file.ts';
import { GenerationReport, NODE_SECRET_HEADER } from '../../src/protocol/internal_api.ts';
import { NODE_SECRET } from '../../test/helpers/servers.ts';
import { startStack } from '../../test/helpers/stack.ts';
import { ms, sleep, type Scenario } from '../scenario.ts';
import { openStream } from '../streams.ts';

export const cancels: Scenario = {
  name: '10% client cancels',
  claim: 'slots freed within 1 s of the cancels; each cancelled request billed ≥ what was delivered and ≤ what was generated',
  async run({ short }) {
    const stack = await startStack({ nodeArgs: ['--max-sequences', '64'] });
    try {
      const key = await stack.createKey('cancels');
      const node = stack.nodes[0]!;
      const n = short ? 30 : 100;
      const streams = await Promise.all(
        Array.from({ length: n }, (_, i) => openStream(stack.gateway.url, key, { model: 'sirocco-test', prompt: 'Tell a story.', max_tokens: i % 10 === 0 ? 4000 : 24, temperature: 1, seed: i })),
      );
      // The one in ten asks for 4000 tokens and is cancelled once the others (24 tokens) are
      // done, so the running slots that remain are the cancelled ones'.
      const doomed = streams.filter((_, i) => i % 10 === 0);
      const done = streams.filter((s) => !doomed.includes(s));
      const finished = (await Promise.all(done.map((s) => s.ended))).filter((e) => e.end === 'done').length;
      await Promise.all(doomed.map((s) => s.reached(3)));
      const runningBefore = await stack.nodeMetric(node, 'sirocco_node_running_requests');
      for (const s of doomed) s.cancel();
      const cancelledAt = performance.now();
      await Promise.all(doomed.map((s) => s.ended));
      let freedMs = NaN;
      for (;;) {
        if ((await stack.nodeMetric(node, 'sirocco_node_running_requests')) === 0) {
          freedMs = performance.now() - cancelledAt;
          break;
        }
        if (performance.now() - cancelledAt > 10_000) break;
        await sleep(20);
      }
      await sleep(300); // the aborted records land
      const records = await readUsageFile(stack.dataDir, {}, () => {});
      const problems: string[] = [];
      let extra = 0;
      for (const s of doomed) {
        const record = records.find((r) => r.request_id === s.id);
        const report = await fetch(`${node.url}/internal/v1/generations/${s.id}`, { headers: { [NODE_SECRET_HEADER]: NODE_SECRET } }).then(async (r) => GenerationReport.parse(await r.json()));
        if (!record || record.status !== 'aborted') problems.push(`${s.id}: ${record ? record.status : 'no record'}`);
        else if (record.completion_tokens < s.tokens() || record.completion_tokens > report.completion_tokens)
          problems.push(`${s.id}: billed ${record.completion_tokens}, delivered ${s.tokens()}, generated ${report.completion_tokens}`);
        else extra += report.completion_tokens - record.completion_tokens;
      }
      return {
        figure: `${n} streams, ${doomed.length} cancelled: their ${runningBefore} running slots back to 0 ${ms(freedMs)} after the cancels; ${doomed.length - problems.length}/${doomed.length} billed within [delivered, generated] (${extra} generated tokens in all past what was billed); ${finished}/${done.length} others completed`,
        pass: runningBefore === doomed.length && freedMs < 1000 && problems.length === 0 && finished === done.length,
        notes: problems.slice(0, 5),
      };
    } finally {
      await stack.stop();
    }
  },
};
