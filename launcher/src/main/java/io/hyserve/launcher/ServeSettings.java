package io.hyserve.launcher;

import io.hyserve.engine.EngineConfig;
import io.hyserve.gateway.GatewayConfig;
import io.hyserve.schemas.Topics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/** Everything {@code serve} needs, with the documented defaults; filled from the command line. */
final class ServeSettings {
    enum Role {
        ALL, GATEWAY, WORKER
    }

    Role role = Role.ALL;
    /** Null: start the embedded broker (role all only). */
    String kafkaBootstrap;
    Map<String, Object> kafkaProperties = new HashMap<>();
    Path dataDir;
    String host = "127.0.0.1";
    int port = 8000;
    String servedModelName;
    String instanceId;
    Topics topics = Topics.defaults();
    int partitions = 8;
    short replication = 1;

    long maxBodyBytes = 8L << 20;
    int maxPromptTokens = Integer.MAX_VALUE;
    int maxTokensLimit = Integer.MAX_VALUE;
    int maxConcurrentStreams = 1024;
    int streamCredit = 64;
    Duration requestTimeout = Duration.ofMinutes(10);
    Duration workerTimeout = Duration.ofSeconds(5);
    boolean allowSpecialTokensInChat;
    int sendBufferBytes;
    GatewayConfig.Security security = GatewayConfig.Security.open();
    /** Traces; no-op unless an OTLP endpoint is configured. */
    io.opentelemetry.api.OpenTelemetry telemetry = io.opentelemetry.api.OpenTelemetry.noop();

    int maxWaiting = 256;
    Duration heartbeatInterval = Duration.ofSeconds(1);
    Duration shutdownGrace = Duration.ofSeconds(30);
    Duration drainDelay = Duration.ofSeconds(5);

    Path modelDirectory;
    Path tokenizerDirectory;
    EngineConfig engineConfig;

    Map<String, Object> kafkaClientConfig(String bootstrap) {
        Map<String, Object> config = new HashMap<>(kafkaProperties);
        config.put("bootstrap.servers", bootstrap);
        return config;
    }
}
