package io.hyserve.worker;

import io.hyserve.schemas.Topics;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * What an inference worker needs besides its engine.
 *
 * @param workerId unique among live workers; names its transactional producer and its heartbeats
 * @param modelName the served model name, announced in heartbeats
 * @param kafka Kafka client settings shared by every client of the worker (bootstrap servers, SASL/SSL, …)
 * @param maxWaiting requests taken from Kafka beyond the engine's running slots before the consumer pauses;
 *     it resumes once half of them have started
 * @param heartbeatInterval how often the worker announces itself
 * @param shutdownGrace how long a stopping worker lets running requests finish before it gives them back
 */
public record WorkerConfig(
        String workerId,
        String modelName,
        Topics topics,
        Map<String, Object> kafka,
        int maxWaiting,
        Duration heartbeatInterval,
        Duration shutdownGrace) {

    public WorkerConfig {
        Objects.requireNonNull(workerId, "workerId");
        Objects.requireNonNull(modelName, "modelName");
        Objects.requireNonNull(topics, "topics");
        kafka = Map.copyOf(kafka);
        if (!kafka.containsKey("bootstrap.servers")) {
            throw new IllegalArgumentException("the Kafka settings need bootstrap.servers");
        }
        if (maxWaiting <= 0) {
            throw new IllegalArgumentException("maxWaiting must be positive");
        }
    }
}
