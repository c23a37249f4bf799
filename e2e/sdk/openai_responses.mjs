// One Responses API call with the official OpenAI SDK, streamed (STREAM=1)
// or not.
import OpenAI from 'openai';
import { env, clientOptions, pickHeaders, run } from './lib.mjs';

const cfg = env();
const client = new OpenAI(clientOptions(cfg));

await run(async () => {
  if (!cfg.stream) {
    const { data, response } = await client.responses
      .create({ model: cfg.model, input: cfg.prompt })
      .withResponse();
    return { text: data.output_text, usage: data.usage ?? null, model: data.model, headers: pickHeaders(response.headers) };
  }
  const { data: stream, response } = await client.responses
    .create({ model: cfg.model, input: cfg.prompt, stream: true })
    .withResponse();
  let text = '';
  let usage = null;
  let model = '';
  let chunks = 0;
  const events = [];
  for await (const event of stream) {
    events.push(event.type);
    if (event.type === 'response.output_text.delta') {
      chunks++;
      text += event.delta;
    }
    if (event.type === 'response.completed') {
      usage = event.response.usage;
      model = event.response.model;
    }
  }
  return { text, usage, model, chunks, events, headers: pickHeaders(response.headers) };
});
