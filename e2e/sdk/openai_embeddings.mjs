// One embeddings call with the official OpenAI SDK, which asks for base64
// and decodes it unless told otherwise.
import OpenAI from 'openai';
import { env, clientOptions, pickHeaders, run } from './lib.mjs';

const cfg = env();
const client = new OpenAI(clientOptions(cfg));

await run(async () => {
  const { data, response } = await client.embeddings
    .create({ model: cfg.model, input: cfg.prompt })
    .withResponse();
  return {
    text: '',
    embedding: Array.from(data.data[0]?.embedding ?? []),
    usage: data.usage ?? null,
    model: data.model,
    headers: pickHeaders(response.headers),
  };
});
