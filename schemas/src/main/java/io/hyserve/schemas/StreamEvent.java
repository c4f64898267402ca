package io.hyserve.schemas;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.List;

/**
 * What a worker sends about a stream request, on the events topic of the gateway that asked
 * ({@code stream-event.schema.json}). {@code seq} counts from 0 per request, so a gap is detectable.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
    @JsonSubTypes.Type(value = StreamEvent.Started.class, name = "started"),
    @JsonSubTypes.Type(value = StreamEvent.Delta.class, name = "delta"),
    @JsonSubTypes.Type(value = StreamEvent.Finish.class, name = "finish"),
    @JsonSubTypes.Type(value = StreamEvent.Failure.class, name = "error")
})
public sealed interface StreamEvent {
    int schemaVersion();

    String requestId();

    long seq();

    /** A worker took the request. */
    record Started(int schemaVersion, String requestId, long seq, String workerId, int promptTokens)
            implements StreamEvent {}

    /** Generated tokens and the text that became final with them (possibly empty). */
    record Delta(int schemaVersion, String requestId, long seq, List<Integer> tokenIds, String text,
            List<Logprob> logprobs) implements StreamEvent {}

    /** The end: text held back until now, why it ended, and the usage. */
    record Finish(int schemaVersion, String requestId, long seq, String finishReason, String text, Usage usage)
            implements StreamEvent {}

    /** The request failed; nothing follows. */
    record Failure(int schemaVersion, String requestId, long seq, ErrorCode code, String message)
            implements StreamEvent {}

    static Started started(String requestId, long seq, String workerId, int promptTokens) {
        return new Started(Wire.SCHEMA_VERSION, requestId, seq, workerId, promptTokens);
    }

    static Delta delta(String requestId, long seq, List<Integer> tokenIds, String text, List<Logprob> logprobs) {
        return new Delta(Wire.SCHEMA_VERSION, requestId, seq, List.copyOf(tokenIds), text,
                logprobs == null ? null : List.copyOf(logprobs));
    }

    static Finish finish(String requestId, long seq, String finishReason, String text, Usage usage) {
        return new Finish(Wire.SCHEMA_VERSION, requestId, seq, finishReason, text, usage);
    }

    static Failure failure(String requestId, long seq, ErrorCode code, String message) {
        return new Failure(Wire.SCHEMA_VERSION, requestId, seq, code, message);
    }
}
