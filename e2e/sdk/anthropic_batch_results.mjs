// Reads a message batch's results with the official Anthropic SDK
// (messages.batches.results), which fetches the results_url the batch
// names.
import Anthropic from '@anthropic-ai/sdk';
import { env, clientOptions, run } from './lib.mjs';

const cfg = env();
const client = new Anthropic(clientOptions(cfg));

await run(async () => {
  const results = await client.messages.batches.results(process.env.BATCH_ID);
  const ids = [];
  for await (const entry of results) ids.push(`${entry.custom_id}:${entry.result.type}`);
  return { text: ids.join(' '), lines: ids.length };
});
