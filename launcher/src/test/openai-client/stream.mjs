// Streams one chat completion and one completion with the official OpenAI client and prints what it received
// as one JSON line: the texts, the finish reasons and the usage that arrived in the stream.
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "unused" });

async function collect(stream, textOf) {
  let text = "";
  let usage = null;
  let finish = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += textOf(choice) ?? "";
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  return { text, usage, finish, chunks };
}

const chat = await collect(
  await client.chat.completions.create({
    model,
    messages: [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content: "海水为什么是咸的" }],
    max_tokens: 16,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  }),
  (choice) => choice.delta?.content,
);
const completion = await collect(
  await client.completions.create({
    model,
    prompt: "The capital of France is",
    max_tokens: 16,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  }),
  (choice) => choice.text,
);
const models = await client.models.list();
console.log(JSON.stringify({ chat, completion, models: models.data.map((m) => m.id) }));
