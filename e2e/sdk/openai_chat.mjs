// One chat completion with the official OpenAI SDK, streamed (STREAM=1,
// with stream_options.include_usage unless INCLUDE_USAGE=0) or not.
import OpenAI from 'openai';
import { env, clientOptions, pickHeaders, run } from './lib.mjs';

const cfg = env();
const client = new OpenAI(clientOptions(cfg));
const messages = [{ role: 'user', content: cfg.prompt }];

await run(async () => {
  if (!cfg.stream) {
    const { data, response } = await client.chat.completions
      .create({ model: cfg.model, messages })
      .withResponse();
    return {
      text: data.choices[0]?.message?.content ?? '',
      usage: data.usage ?? null,
      model: data.model,
      headers: pickHeaders(response.headers),
    };
  }
  const { data: stream, response } = await client.chat.completions
    .create(process.env.INCLUDE_USAGE === '0'
      ? { model: cfg.model, messages, stream: true }
      : { model: cfg.model, messages, stream: true, stream_options: { include_usage: true } })
    .withResponse();
  let text = '';
  let usage = null;
  let model = '';
  let chunks = 0;
  for await (const chunk of stream) {
    model = chunk.model;
    const piece = chunk.choices[0]?.delta?.content ?? '';
    if (piece) chunks++;
    text += piece;
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, usage, model, chunks, headers: pickHeaders(response.headers) };
});
