package io.hyserve.gateway;

import io.hyserve.schemas.Logprob;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * OpenAI's HTTP shapes: with {@code stream} true, SSE chunks ({@code chat.completion.chunk} or
 * {@code text_completion}) ending in {@code data: [DONE]}; otherwise one JSON body.
 */
final class HttpOutput implements ExchangeOutput {
    private final Exchange exchange;
    private final HttpServerResponse response;
    private final Gateway gateway;

    HttpOutput(Exchange exchange, HttpServerResponse response, Gateway gateway) {
        this.exchange = exchange;
        this.response = response;
        this.gateway = gateway;
        if (exchange.plan.stream()) {
            response.setChunked(true)
                    .putHeader("Content-Type", "text/event-stream; charset=utf-8")
                    .putHeader("Cache-Control", "no-cache")
                    .putHeader("X-Accel-Buffering", "no");
        }
        response.closeHandler(v -> exchange.abandon());
    }

    @Override
    public boolean writeQueueFull() {
        return response.writeQueueFull();
    }

    @Override
    public void onDrain(Runnable resume) {
        response.drainHandler(v -> resume.run());
    }

    @Override
    public void delta(Exchange.Choice choice, String text, List<Integer> tokenIds, List<Logprob> logprobs) {
        if (!text.isEmpty() || logprobs != null) {
            writeChunk(choiceChunk(choice, text, logprobs, null));
        }
    }

    @Override
    public void finish(Exchange.Choice choice, String text, String finishReason) {
        if (!text.isEmpty()) {
            writeChunk(choiceChunk(choice, text, null, null));
        }
        writeChunk(choiceChunk(choice, exchange.plan.chat() ? null : "", null, finishReason));
    }

    @Override
    public void complete(List<Exchange.Choice> choices, JsonObject usage) {
        GenerationPlan plan = exchange.plan;
        if (plan.stream()) {
            if (plan.includeUsage()) {
                writeChunk(header(plan.chat() ? "chat.completion.chunk" : "text_completion")
                        .put("choices", new JsonArray()).put("usage", usage));
            }
            response.end("data: [DONE]\n\n");
            return;
        }
        JsonArray items = new JsonArray();
        for (Exchange.Choice choice : choices) {
            JsonObject item = new JsonObject().put("index", choice.index);
            if (plan.chat()) {
                item.put("message", new JsonObject().put("role", "assistant").put("content", choice.text.toString()));
            } else {
                item.put("text", choice.text.toString());
            }
            item.put("logprobs", plan.topLogprobs() == null ? null : gateway.formatLogprobs(plan.chat(), choice.logprobs, 0));
            item.put("finish_reason", choice.finishReason);
            items.add(item);
        }
        JsonObject body = header(plan.chat() ? "chat.completion" : "text_completion").put("choices", items)
                .put("usage", usage);
        response.putHeader("Content-Type", "application/json").end(body.toBuffer());
    }

    @Override
    public void error(ApiError error) {
        if (exchange.plan.stream()) {
            writeChunk(error.toJson()); // OpenAI's streamed error shape, then the end marker
            response.end("data: [DONE]\n\n");
        } else {
            response.setStatusCode(error.status).putHeader("Content-Type", "application/json")
                    .end(error.toJson().toBuffer());
        }
    }

    private JsonObject choiceChunk(Exchange.Choice choice, String text, List<Logprob> logprobs, String finishReason) {
        GenerationPlan plan = exchange.plan;
        JsonObject item = new JsonObject().put("index", choice.index);
        if (plan.chat()) {
            JsonObject delta = new JsonObject();
            if (choice.takeRole()) {
                delta.put("role", "assistant");
            }
            if (text != null) {
                delta.put("content", text);
            }
            item.put("delta", delta);
        } else {
            item.put("text", text);
        }
        item.put("logprobs", logprobs == null ? null : gateway.formatLogprobs(plan.chat(), logprobs, 0));
        item.put("finish_reason", finishReason);
        JsonObject chunk = header(plan.chat() ? "chat.completion.chunk" : "text_completion")
                .put("choices", new JsonArray().add(item));
        if (plan.includeUsage()) {
            chunk.put("usage", null);
        }
        return chunk;
    }

    private JsonObject header(String object) {
        return new JsonObject().put("id", exchange.id).put("object", object).put("created", exchange.created)
                .put("model", exchange.plan.model());
    }

    private void writeChunk(JsonObject chunk) {
        response.write(Buffer.buffer("data: ").appendBuffer(chunk.toBuffer()).appendString("\n\n"));
    }
}
