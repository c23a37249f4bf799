// One message with the official Anthropic SDK: messages.create, or with
// STREAM=1 the SDK's messages.stream helper, whose final message carries
// the usage as the SDK accumulates it from message_start and message_delta.
import Anthropic from '@anthropic-ai/sdk';
import { env, clientOptions, pickHeaders, run } from './lib.mjs';

const cfg = env();
const client = new Anthropic(clientOptions(cfg));
const params = { model: cfg.model, max_tokens: 256, messages: [{ role: 'user', content: cfg.prompt }] };

const textOf = (msg) => msg.content.filter((b) => b.type === 'text').map((b) => b.text).join('');

await run(async () => {
  if (!cfg.stream) {
    const { data, response } = await client.messages.create(params).withResponse();
    return { text: textOf(data), usage: data.usage, model: data.model, headers: pickHeaders(response.headers) };
  }
  const stream = client.messages.stream(params);
  let chunks = 0;
  stream.on('text', () => chunks++);
  const { response } = await stream.withResponse();
  const msg = await stream.finalMessage();
  return { text: textOf(msg), usage: msg.usage, model: msg.model, chunks, headers: pickHeaders(response.headers) };
});
