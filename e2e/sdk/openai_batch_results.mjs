// Downloads a batch's output file with the official OpenAI SDK
// (files.content), as a script collecting batch results does.
import OpenAI from 'openai';
import { env, clientOptions, pickHeaders, run } from './lib.mjs';

const cfg = env();
const client = new OpenAI(clientOptions(cfg));

await run(async () => {
  const { data, response } = await client.files.content(process.env.FILE_ID).withResponse();
  const text = await data.text();
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return { text, lines: lines.length, headers: pickHeaders(response.headers) };
});
