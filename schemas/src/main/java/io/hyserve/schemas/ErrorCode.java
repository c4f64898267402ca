package io.hyserve.schemas;

import com.fasterxml.jackson.annotation.JsonValue;

/** Why a request failed, as the wire spells it. */
public enum ErrorCode {
    /** The request cannot run (bad parameters, prompt too long for the model, …). */
    INVALID_REQUEST,
    /** The client stopped reading and the stream's buffer bound was reached. */
    STREAM_OVERFLOW,
    /** The request's deadline passed before it finished. */
    DEADLINE_EXCEEDED,
    /** The worker holding a stream stopped announcing itself; streams are not re-run. */
    WORKER_LOST,
    /** The worker is shutting down and did not finish the request within its grace period. */
    SHUTTING_DOWN,
    INTERNAL_ERROR;

    @JsonValue
    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
