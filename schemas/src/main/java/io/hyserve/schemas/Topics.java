package io.hyserve.schemas;

import java.util.Objects;

/**
 * Kafka topic names of one deployment. Every name starts with {@code prefix}, so several deployments can
 * share a cluster.
 *
 * <ul>
 *   <li>requests: inference requests, read by the workers as one consumer group (key: request id);</li>
 *   <li>control: cancels and stream credits, read whole by every worker;</li>
 *   <li>results: async job states, compacted (key: job id), read whole by gateways and workers;</li>
 *   <li>heartbeats: worker announcements (key: worker id);</li>
 *   <li>dead letters: records that failed validation, with the reason in headers;</li>
 *   <li>events.&lt;gateway id&gt;: stream events for the requests of one gateway instance only.</li>
 * </ul>
 */
public record Topics(String prefix) {
    public static final String DEFAULT_PREFIX = "hyserve";

    /** Record headers on a dead letter: why it was refused and where it came from. */
    public static final String HEADER_ERROR = "hyserve.error";
    public static final String HEADER_SOURCE = "hyserve.source";

    public Topics {
        Objects.requireNonNull(prefix, "prefix");
        if (!prefix.matches("[A-Za-z0-9._-]{1,100}")) {
            throw new IllegalArgumentException("topic prefix '%s' must be 1-100 of [A-Za-z0-9._-]".formatted(prefix));
        }
    }

    public static Topics defaults() {
        return new Topics(DEFAULT_PREFIX);
    }

    public String requests() {
        return prefix + ".requests";
    }

    public String control() {
        return prefix + ".control";
    }

    public String results() {
        return prefix + ".results";
    }

    public String heartbeats() {
        return prefix + ".heartbeats";
    }

    public String deadLetters() {
        return prefix + ".dead-letters";
    }

    public String events(String gatewayId) {
        return prefix + ".events." + gatewayId;
    }
}
