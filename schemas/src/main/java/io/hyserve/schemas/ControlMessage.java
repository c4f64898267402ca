package io.hyserve.schemas;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/**
 * Gateway-to-worker messages on the control topic, which every worker reads whole
 * ({@code control.schema.json}).
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
    @JsonSubTypes.Type(value = ControlMessage.Cancel.class, name = "cancel"),
    @JsonSubTypes.Type(value = ControlMessage.Credit.class, name = "credit")
})
public sealed interface ControlMessage {
    int schemaVersion();

    String requestId();

    /** Stop the request and free what it holds. */
    record Cancel(int schemaVersion, String requestId, String reason) implements ControlMessage {}

    /** The client consumed {@code events} more events: the worker may send that many more. */
    record Credit(int schemaVersion, String requestId, int events) implements ControlMessage {}

    static Cancel cancel(String requestId, String reason) {
        return new Cancel(Wire.SCHEMA_VERSION, requestId, reason);
    }

    static Credit credit(String requestId, int events) {
        return new Credit(Wire.SCHEMA_VERSION, requestId, events);
    }
}
