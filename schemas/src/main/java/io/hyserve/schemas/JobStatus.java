package io.hyserve.schemas;

import java.util.List;

/**
 * An async job's state on the results topic ({@code job-status.schema.json}); the record key is
 * {@code jobId}.
 */
public record JobStatus(
        int schemaVersion,
        String jobId,
        String requestId,
        State status,
        long updatedMs,
        String workerId,
        Result result,
        Error error) {

    public enum State {
        QUEUED, COMPLETED, FAILED;

        @com.fasterxml.jackson.annotation.JsonValue
        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public record Result(String text, List<Integer> tokenIds, String finishReason, Usage usage, List<Logprob> logprobs) {}

    public record Error(ErrorCode code, String message) {}

    public static JobStatus queued(String jobId, String requestId, long nowMs) {
        return new JobStatus(Wire.SCHEMA_VERSION, jobId, requestId, State.QUEUED, nowMs, null, null, null);
    }

    public static JobStatus completed(String jobId, String requestId, long nowMs, String workerId, Result result) {
        return new JobStatus(Wire.SCHEMA_VERSION, jobId, requestId, State.COMPLETED, nowMs, workerId, result, null);
    }

    public static JobStatus failed(String jobId, String requestId, long nowMs, String workerId, Error error) {
        return new JobStatus(Wire.SCHEMA_VERSION, jobId, requestId, State.FAILED, nowMs, workerId, null, error);
    }

    /** Completed or failed: nothing changes it any more. */
    public boolean terminal() {
        return status != State.QUEUED;
    }
}
