package io.hyserve.launcher;

import io.hyserve.engine.Engine;
import io.hyserve.engine.PromptEncoder;
import io.hyserve.engine.model.HunyuanConfig;
import io.hyserve.engine.tokenizer.HyTokenizer;
import io.hyserve.gateway.Gateway;
import io.hyserve.gateway.GatewayConfig;
import io.hyserve.worker.InferenceWorker;
import io.hyserve.worker.WorkerConfig;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running parts of {@code serve}: an embedded broker (role all without {@code --kafka}), the engine and
 * its inference worker (roles all and worker), the gateway (roles all and gateway).
 */
final class ServeSystem implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ServeSystem.class);

    private final ServeSettings settings;
    private EmbeddedKafka kafka;
    private Engine engine;
    private InferenceWorker worker;
    private Vertx vertx;
    private Gateway gateway;
    private HttpServer workerHealth;
    private String bootstrap;
    private final PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    private ServeSystem(ServeSettings settings) {
        this.settings = settings;
    }

    static ServeSystem start(ServeSettings settings) {
        ServeSystem system = new ServeSystem(settings);
        try {
            system.startParts();
            return system;
        } catch (RuntimeException | IOException e) {
            system.close();
            if (e instanceof IOException io) {
                throw new UncheckedIOException(io);
            }
            throw (RuntimeException) e;
        }
    }

    private void startParts() throws IOException {
        if (settings.kafkaBootstrap == null) {
            if (settings.role != ServeSettings.Role.ALL) {
                throw new IllegalArgumentException("--role %s needs --kafka host:port".formatted(
                        settings.role.name().toLowerCase(java.util.Locale.ROOT)));
            }
            kafka = EmbeddedKafka.start(settings.dataDir.resolve("kafka"), 0, 0);
            bootstrap = kafka.bootstrapServers();
        } else {
            bootstrap = settings.kafkaBootstrap;
        }
        String instance = settings.instanceId != null ? settings.instanceId : defaultInstanceId();
        String modelName = servedModelName();
        vertx = Vertx.vertx();
        if (settings.role != ServeSettings.Role.GATEWAY) {
            engine = Engine.start(settings.engineConfig, new LoadProgressLog(settings.modelDirectory));
            worker = InferenceWorker.start(engine, new WorkerConfig(instance, modelName, settings.topics,
                    settings.kafkaClientConfig(bootstrap), settings.maxWaiting, settings.heartbeatInterval,
                    settings.shutdownGrace), settings.partitions, settings.replication, metrics, settings.telemetry);
        }
        if (settings.role == ServeSettings.Role.WORKER) {
            workerHealth = await(vertx.createHttpServer().requestHandler(request -> {
                boolean ready = worker.ready();
                if (request.path().equals("/admin/drain")) {
                    // A pod's preStop hook: answered once the worker has let go of its requests.
                    vertx.executeBlocking(worker::drain, false).onComplete(drained -> request.response()
                            .setStatusCode(drained.succeeded() && drained.result() ? 200 : 500)
                            .putHeader("Content-Type", "application/json")
                            .end(new JsonObject().put("drained", drained.succeeded() && drained.result())
                                    .put("in_flight", worker.inFlight()).encode()));
                    return;
                }
                if (request.path().equals("/metrics")) {
                    request.response().putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                            .end(metrics.scrape());
                    return;
                }
                int status = switch (request.path()) {
                    case "/health/live" -> worker.alive() ? 200 : 503;
                    case "/health/ready" -> ready ? 200 : 503;
                    default -> 404;
                };
                request.response().setStatusCode(status).putHeader("Content-Type", "application/json")
                        .end(new JsonObject().put("live", worker.alive()).put("ready", ready).encode());
            }).listen(settings.port, settings.host));
            return;
        }
        HyTokenizer tokenizer = HyTokenizer.load(settings.tokenizerDirectory);
        PromptEncoder encoder = new PromptEncoder(tokenizer, settings.tokenizerDirectory);
        int maxModelLength = engine != null ? engine.maxModelLength() : modelContextLength(settings.modelDirectory);
        Gateway started = new Gateway(new GatewayConfig(instance, settings.host, settings.port, modelName, settings.topics,
                settings.kafkaClientConfig(bootstrap), settings.partitions, settings.replication, settings.maxBodyBytes,
                settings.maxPromptTokens, settings.maxTokensLimit, settings.maxConcurrentStreams, settings.streamCredit,
                settings.requestTimeout, settings.workerTimeout, settings.allowSpecialTokensInChat,
                settings.sendBufferBytes, settings.security), encoder,
                maxModelLength, metrics, settings.telemetry);
        await(vertx.deployVerticle(started));
        gateway = started; // only a deployed gateway has requests to drain
    }

    private static int modelContextLength(Path model) {
        return HunyuanConfig.load(model).maxPositionEmbeddings();
    }

    private String servedModelName() {
        if (settings.servedModelName != null) {
            return settings.servedModelName;
        }
        Path name = settings.modelDirectory.toAbsolutePath().normalize().getFileName();
        return name == null ? "hunyuan" : name.toString();
    }

    private static String defaultInstanceId() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName().replaceAll("[^A-Za-z0-9._-]", "-");
        } catch (UnknownHostException e) {
            host = "host";
        }
        return host + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static <T> T await(io.vertx.core.Future<T> future) {
        try {
            return future.toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
        } catch (Exception e) {
            Throwable cause = e instanceof java.util.concurrent.ExecutionException ? e.getCause() : e;
            throw new IllegalStateException("start failed: " + cause.getMessage(), cause);
        }
    }

    Gateway gateway() {
        return gateway;
    }

    InferenceWorker worker() {
        return worker;
    }

    Engine engine() {
        return engine;
    }

    String bootstrapServers() {
        return bootstrap;
    }

    /** The API port (the health port for role worker). */
    int port() {
        return gateway != null ? gateway.port() : workerHealth.actualPort();
    }

    /** Stops in dependency order: the worker drains first, while the gateway can still deliver its output. */
    @Override
    public void close() {
        if (gateway != null) {
            try {
                gateway.drain(settings.drainDelay, settings.shutdownGrace); // the worker still runs their tokens
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (worker != null) {
            worker.close();
        }
        if (vertx != null) {
            try {
                vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                log.atWarn().setMessage("Vert.x did not stop cleanly").addKeyValue("reason", e.toString()).log();
            }
        }
        if (engine != null) {
            engine.close();
        }
        if (kafka != null) {
            kafka.close();
        }
        if (settings.telemetry instanceof AutoCloseable closeable) {
            try {
                closeable.close(); // flushes spans still batched for the exporter
            } catch (Exception e) {
                log.atWarn().setMessage("trace exporter did not close cleanly").addKeyValue("reason", e.toString()).log();
            }
        }
    }
}
