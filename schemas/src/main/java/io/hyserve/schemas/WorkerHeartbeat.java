package io.hyserve.schemas;

/** A worker's periodic announcement on the heartbeats topic ({@code worker-heartbeat.schema.json}). */
public record WorkerHeartbeat(
        int schemaVersion,
        String workerId,
        State state,
        String model,
        int maxModelLen,
        long atMs,
        long intervalMs,
        Integer running,
        Integer waiting) {

    public enum State {
        READY, DRAINING, STOPPED;

        @com.fasterxml.jackson.annotation.JsonValue
        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }
}
