package io.hyserve.schemas;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One generation on the requests topic ({@code inference-request.schema.json}). The key of its record is
 * {@code requestId}.
 *
 * @param jobId set for {@link Kind#JOB}: results are deduplicated by it
 * @param replyTo where events (stream) or the result (job) go; a job without it replies on the results topic
 * @param deadlineMs epoch milliseconds after which the request is dropped, or null
 * @param streamCredit events the worker may send before the gateway grants more, or null for no limit
 * @param trace W3C trace context headers
 */
public record InferenceRequest(
        int schemaVersion,
        String requestId,
        Kind kind,
        String jobId,
        String model,
        PromptInput prompt,
        Sampling sampling,
        ReplyTo replyTo,
        Long deadlineMs,
        Integer streamCredit,
        Long createdMs,
        Map<String, String> trace) {

    public enum Kind {
        STREAM, JOB;

        @com.fasterxml.jackson.annotation.JsonValue
        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public record ReplyTo(String topic) {}

    /** One chat turn. */
    public record Message(String role, String content) {}

    /** Exactly one of text, token ids or messages. */
    public record PromptInput(String text, List<Integer> tokenIds, List<Message> messages, Boolean parseSpecialTokens) {
        public static PromptInput ofText(String text) {
            return new PromptInput(text, null, null, null);
        }

        public static PromptInput ofTokenIds(List<Integer> ids) {
            return new PromptInput(null, List.copyOf(ids), null, null);
        }

        public static PromptInput ofMessages(List<Message> messages, boolean parseSpecialTokens) {
            return new PromptInput(null, null, List.copyOf(messages), parseSpecialTokens);
        }
    }

    /** Sampling and stopping; a null field takes the model's default. Ranges are the schema's. */
    public record Sampling(
            Double temperature,
            Double topP,
            Integer topK,
            Double minP,
            Double repetitionPenalty,
            Double presencePenalty,
            Double frequencyPenalty,
            Long seed,
            Integer maxTokens,
            List<String> stop,
            List<Integer> stopTokenIds,
            Boolean ignoreEos,
            Integer logprobs,
            Boolean skipSpecialTokens,
            Map<String, Double> logitBias) {}

    public InferenceRequest {
        Objects.requireNonNull(requestId, "requestId");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(prompt, "prompt");
        trace = trace == null ? null : Map.copyOf(trace);
    }
}
