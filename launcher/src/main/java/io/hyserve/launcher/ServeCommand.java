package io.hyserve.launcher;

import io.hyserve.gateway.ApiKeys;
import io.hyserve.gateway.GatewayConfig;
import io.hyserve.gateway.RateLimits;
import io.hyserve.schemas.Topics;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code serve}: the OpenAI-compatible API over Kafka. Role all (the default) runs everything in one process,
 * with an embedded KRaft broker unless {@code --kafka} names a cluster.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve the OpenAI-compatible API: gateway, Kafka pipeline and inference worker.",
            "Every option can also come from an environment variable HYSERVE_<OPTION> (e.g. HYSERVE_PORT=9000) or "
                    + "from a properties file named by HYSERVE_CONFIG (e.g. port=9000); the command line wins, then "
                    + "the environment, then the file."},
        defaultValueProvider = ServeDefaults.class)
final class ServeCommand implements Callable<Integer> {
    @Mixin
    EngineOptions engine;

    @Option(names = "--role", defaultValue = "all", description = "all, gateway or worker (default: ${DEFAULT-VALUE})")
    String role;

    @Option(names = "--kafka", paramLabel = "HOST:PORT",
            description = "Bootstrap servers of an existing Kafka cluster (default: start an embedded broker; role all only)")
    String kafka;

    @Option(names = "--kafka-property", paramLabel = "KEY=VALUE",
            description = "Kafka client setting for every client (SASL, SSL, …); repeatable")
    Map<String, String> kafkaProperties = new HashMap<>();

    @Option(names = "--kafka-config", paramLabel = "FILE", description = "Kafka client settings from a properties file")
    Path kafkaConfig;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "Embedded broker data (default: <project>/data)")
    Path dataDir;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Listen address (default: ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--port", defaultValue = "8000", description = "API port; health port for role worker (default: ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--served-model-name", description = "Model name clients ask for (default: the model folder's name)")
    String servedModelName;

    @Option(names = "--instance-id", description = "Unique id of this gateway/worker (default: host name + random suffix)")
    String instanceId;

    @Option(names = "--topic-prefix", defaultValue = Topics.DEFAULT_PREFIX, description = "Kafka topic prefix (default: ${DEFAULT-VALUE})")
    String topicPrefix;

    @Option(names = "--partitions", defaultValue = "8", description = "Partitions of the requests topic when it is created (default: ${DEFAULT-VALUE})")
    int partitions;

    @Option(names = "--replication", defaultValue = "1", description = "Replication factor of created topics (default: ${DEFAULT-VALUE})")
    short replication;

    @Option(names = "--max-body-bytes", defaultValue = "8388608", description = "Largest request body (default: ${DEFAULT-VALUE})")
    long maxBodyBytes;

    @Option(names = "--max-prompt-tokens", description = "Longest prompt in tokens (default: the model's context length)")
    Integer maxPromptTokens;

    @Option(names = "--max-tokens-limit", description = "Largest max_tokens a request may ask for (default: the model's context length)")
    Integer maxTokensLimit;

    @Option(names = "--max-concurrent-streams", defaultValue = "1024", description = "Requests in flight per gateway (default: ${DEFAULT-VALUE})")
    int maxConcurrentStreams;

    @Option(names = "--stream-credit", defaultValue = "64", description = "Events a worker may send ahead of a client's reading (default: ${DEFAULT-VALUE})")
    int streamCredit;

    @Option(names = "--request-timeout", defaultValue = "PT10M", description = "Deadline of every request, ISO-8601 (default: ${DEFAULT-VALUE})")
    Duration requestTimeout;

    @Option(names = "--max-waiting", defaultValue = "256", description = "Requests a worker takes beyond its running slots before it pauses its consumer (default: ${DEFAULT-VALUE})")
    int maxWaiting;

    @Option(names = "--shutdown-grace", defaultValue = "PT30S",
            description = "Time a stopping gateway or worker gives the requests it holds (default: ${DEFAULT-VALUE})")
    Duration shutdownGrace;

    @Option(names = "--drain-delay", defaultValue = "PT5S",
            description = "Time a stopping gateway keeps taking requests after it reports not ready, while load "
                    + "balancers take it out (default: ${DEFAULT-VALUE})")
    Duration drainDelay;

    @Option(names = "--send-buffer-bytes", defaultValue = "0",
            description = "Kernel send buffer per client connection; 0 keeps the OS default (default: ${DEFAULT-VALUE})")
    int sendBufferBytes;

    @Option(names = "--api-keys", paramLabel = "KEYS", split = ",",
            description = "Bearer keys, as key or name:key, comma-separated; better given as HYSERVE_API_KEYS in the "
                    + "environment, where ps cannot see them (default: no authentication)")
    List<String> apiKeys = new ArrayList<>();

    @Option(names = "--api-keys-file", paramLabel = "FILE",
            description = "Bearer keys, one key or name:key per line; re-read when the file changes")
    Path apiKeysFile;

    @Option(names = "--requests-per-minute", defaultValue = "0", description = "Per key; 0 = unlimited (default: ${DEFAULT-VALUE})")
    int requestsPerMinute;

    @Option(names = "--tokens-per-minute", defaultValue = "0",
            description = "Per key, prompt + max_tokens reserved, unused part refunded; 0 = unlimited (default: ${DEFAULT-VALUE})")
    int tokensPerMinute;

    @Option(names = "--streams-per-key", defaultValue = "0", description = "Concurrent requests per key; 0 = unlimited (default: ${DEFAULT-VALUE})")
    int streamsPerKey;

    @Option(names = "--cors-origin", paramLabel = "ORIGIN", split = ",", description = "Browser origins allowed (default: none)")
    List<String> corsOrigins = new ArrayList<>();

    @Option(names = "--tls-cert", paramLabel = "PEM", description = "Certificate chain; with --tls-key the gateway serves HTTPS")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "Private key for --tls-cert")
    Path tlsKey;

    @Option(names = "--otlp-endpoint", paramLabel = "URL",
            description = "OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces (default: no tracing)")
    String otlpEndpoint;

    @Option(names = "--allow-special-tokens-in-chat", description = "Read special-token text in chat messages as special tokens")
    boolean allowSpecialTokensInChat;

    @Override
    public Integer call() throws IOException, InterruptedException {
        ServeSettings settings = settings();
        ServeSystem system = ServeSystem.start(settings);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            system.close();
            stopped.countDown();
        }));
        if (settings.role == ServeSettings.Role.WORKER) {
            System.err.printf("worker ready; health on http://%s:%d/health/ready%n", settings.host, system.port());
        } else {
            System.err.printf("hunyuan-serve ready: http://%s:%d/v1 (model \"%s\")%n", settings.host, system.port(),
                    settings.servedModelName != null ? settings.servedModelName
                            : settings.modelDirectory.toAbsolutePath().normalize().getFileName());
        }
        stopped.await();
        return 0;
    }

    ServeSettings settings() throws IOException {
        ServeSettings s = new ServeSettings();
        s.role = ServeSettings.Role.valueOf(role.toUpperCase(Locale.ROOT));
        s.kafkaBootstrap = kafka;
        if (kafkaConfig != null) {
            Properties file = new Properties();
            try (InputStream in = Files.newInputStream(kafkaConfig)) {
                file.load(in);
            }
            file.forEach((k, v) -> s.kafkaProperties.put(k.toString(), v));
        }
        s.kafkaProperties.putAll(kafkaProperties);
        s.dataDir = dataDir != null ? dataDir : ProjectHome.home().resolve("data");
        s.host = host;
        s.port = port;
        s.servedModelName = servedModelName;
        s.instanceId = instanceId;
        s.topics = new Topics(topicPrefix);
        s.partitions = partitions;
        s.replication = replication;
        s.maxBodyBytes = maxBodyBytes;
        s.maxPromptTokens = maxPromptTokens != null ? maxPromptTokens : Integer.MAX_VALUE;
        s.maxTokensLimit = maxTokensLimit != null ? maxTokensLimit : Integer.MAX_VALUE;
        s.maxConcurrentStreams = maxConcurrentStreams;
        s.streamCredit = streamCredit;
        s.requestTimeout = requestTimeout;
        s.maxWaiting = maxWaiting;
        s.shutdownGrace = shutdownGrace;
        s.drainDelay = drainDelay;
        s.allowSpecialTokensInChat = allowSpecialTokensInChat;
        s.sendBufferBytes = sendBufferBytes;
        if (otlpEndpoint != null && !otlpEndpoint.isBlank()) {
            s.telemetry = Tracing.otlp(otlpEndpoint, s.role.name().toLowerCase(Locale.ROOT));
        }
        // A keys file is re-read when it changes, so keys rotate without a restart.
        ApiKeys keys = apiKeysFile != null ? ApiKeys.load(apiKeysFile, apiKeys) : ApiKeys.parse(apiKeys);
        s.security = new GatewayConfig.Security(keys,
                new RateLimits(requestsPerMinute, tokensPerMinute, streamsPerKey), corsOrigins, tlsCert, tlsKey);
        s.modelDirectory = engine.modelDirectory();
        s.tokenizerDirectory = engine.tokenizerDirectory();
        s.engineConfig = engine.engineConfig();
        return s;
    }
}
