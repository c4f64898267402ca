package io.hyserve.gateway;

import io.hyserve.engine.Prompt;
import io.hyserve.engine.PromptEncoder;
import io.hyserve.engine.tokenizer.HyTokenizer;
import io.hyserve.schemas.ControlMessage;
import io.hyserve.schemas.ErrorCode;
import io.hyserve.schemas.InferenceRequest;
import io.hyserve.schemas.JobStatus;
import io.hyserve.schemas.Logprob;
import io.hyserve.schemas.StreamEvent;
import io.hyserve.schemas.TopicSetup;
import io.hyserve.schemas.Topics;
import io.hyserve.schemas.Wire;
import io.hyserve.schemas.WireException;
import io.hyserve.schemas.WorkerHeartbeat;
import io.micrometer.core.instrument.FunctionCounter;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.Http2Settings;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.kafka.client.common.TopicPartition;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.consumer.KafkaConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import io.vertx.kafka.client.consumer.OffsetAndTimestamp;
import io.vertx.kafka.client.producer.KafkaProducer;
import io.vertx.kafka.client.producer.KafkaProducerRecord;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.time.Duration;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The OpenAI-compatible front: tokenizes and checks each request, writes it to the requests topic, and
 * streams the events that workers send to this instance's own events topic back to the client.
 *
 * <p>Deployed as one verticle instance: every HTTP connection, Kafka record and timer of the gateway runs on
 * its event loop, so exchanges need no locking. Scale out by running more gateway instances, each with its
 * own id and events topic.
 */
public final class Gateway extends VerticleBase {
    private static final Logger log = LoggerFactory.getLogger(Gateway.class);
    private static final long LIVENESS_CHECK_MS = 500;
    /** How often a keys file is checked for changes (Kubernetes updates mounted Secrets within about a minute). */
    private static final long KEYS_CHECK_MS = 2_000;

    private final GatewayConfig config;
    private final PromptEncoder encoder;
    private final int maxModelLength;
    private final GenerationPlan.Limits limits;
    private final Topics topics;
    private final WorkerRegistry workers;
    private final GatewayStats stats = new GatewayStats();
    private final PrometheusMeterRegistry metrics;
    private final RateLimits.Ledger ledger;
    private final Tracer tracer;
    private final TextMapPropagator propagator;
    /** Key name used for every request when authentication is off. */
    static final String ANONYMOUS = "anonymous";
    private static final String KEY = "hyserve.key";
    private final Map<String, Exchange.Choice> choicesByRequest = new HashMap<>();
    private final Set<Exchange> exchanges = new HashSet<>();
    private KafkaProducer<String, byte[]> producer;
    private EventsReader events;
    private KafkaConsumer<String, byte[]> heartbeats;
    private JobStore jobs;
    private HttpServer server;
    private volatile boolean eventsReady;
    private volatile boolean draining;

    /** @param metrics the process's metrics, scraped at {@code /metrics}; the gateway adds its own to it */
    public Gateway(GatewayConfig config, PromptEncoder encoder, int maxModelLength, PrometheusMeterRegistry metrics,
            OpenTelemetry telemetry) {
        this.config = config;
        this.tracer = telemetry.getTracer("io.hyserve.gateway");
        this.propagator = telemetry.getPropagators().getTextMapPropagator();
        this.metrics = metrics;
        this.ledger = config.security().rateLimits().newLedger();
        Gauge.builder("hunyuan:gateway_active_streams", stats, GatewayStats::activeExchanges)
                .description("Completions and chat requests in flight on this gateway").register(metrics);
        FunctionCounter.builder("hunyuan:gateway_slow_client_cancellations", stats, GatewayStats::slowClientCancellations)
                .description("Generations cancelled because their client stopped reading").register(metrics);
        FunctionCounter.builder("hunyuan:gateway_invalid_events", stats, GatewayStats::invalidEvents)
                .description("Stream events that failed validation (sent to the dead-letter topic)").register(metrics);
        this.encoder = encoder;
        this.maxModelLength = maxModelLength;
        this.limits = new GenerationPlan.Limits(maxModelLength, Math.min(config.maxPromptTokens(), maxModelLength - 1),
                Math.min(config.maxTokensLimit(), maxModelLength - 1), encoder.tokenizer().size(),
                config.allowSpecialTokensInChat());
        this.topics = config.topics();
        this.workers = new WorkerRegistry(config.workerTimeout().toMillis());
    }

    public GatewayStats stats() {
        return stats;
    }

    public String gatewayId() {
        return config.gatewayId();
    }

    /** Job results seen twice for one job id; deduplication upstream keeps this at zero. */
    public long duplicateJobResults() {
        return jobs.duplicates();
    }

    /** The port the API listens on (useful with port 0). */
    public int port() {
        return server.actualPort();
    }

    /** Kafka set up and a worker announced itself recently. */
    public boolean ready() {
        return !draining && eventsReady && events.alive() && workers.anyReady(System.currentTimeMillis());
    }

    /**
     * The first half of a graceful stop, blocking: reports not ready at once so that load balancers take this
     * instance out, keeps serving for {@code delay} while they do, then waits up to {@code grace} for open
     * requests to finish. {@link #stop()} ends whatever is still open with a {@code shutting_down} error.
     */
    public void drain(Duration delay, Duration grace) throws InterruptedException {
        draining = true;
        log.atInfo().setMessage("draining").addKeyValue("openRequests", stats.activeExchanges()).log();
        Thread.sleep(delay);
        long deadline = System.nanoTime() + grace.toNanos();
        while (stats.activeExchanges() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    @Override
    public Future<?> start() {
        return vertx.executeBlocking(() -> {
            try (Admin admin = Admin.create(config.kafka())) {
                TopicSetup.ensureShared(admin, topics, config.requestsPartitions(), config.replication());
                TopicSetup.ensureEvents(admin, topics, config.gatewayId(), 1, config.replication());
            }
            return null;
        }).compose(v -> startKafka()).compose(v -> startHttp()).onSuccess(v -> {
            vertx.setPeriodic(LIVENESS_CHECK_MS, id -> failStreamsOfLostWorkers());
            vertx.setPeriodic(KEYS_CHECK_MS, id -> vertx.executeBlocking(config.security().apiKeys()::reloadIfChanged,
                    false).onSuccess(changed -> {
                        if (changed) {
                            log.atInfo().setMessage("API keys reloaded").log();
                        }
                    }).onFailure(e -> log.atWarn().setMessage(e.getMessage()).log()));
            log.atInfo().setMessage("gateway listening").addKeyValue("port", server.actualPort())
                    .addKeyValue("gatewayId", config.gatewayId()).addKeyValue("model", config.modelName()).log();
        });
    }

    private Map<String, String> kafkaStrings() {
        Map<String, String> props = new HashMap<>();
        config.kafka().forEach((k, v) -> props.put(k, String.valueOf(v)));
        return props;
    }

    private Future<Void> startKafka() {
        Map<String, String> producerProps = kafkaStrings();
        producerProps.put(ProducerConfig.CLIENT_ID_CONFIG, config.gatewayId() + "-producer");
        producerProps.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, "0");
        producer = KafkaProducer.create(vertx, producerProps, new StringSerializer(), new ByteArraySerializer());

        var context = vertx.getOrCreateContext();
        Future<Void> eventsStarted = vertx.executeBlocking(() -> {
            events = new EventsReader(config.kafka(), config.gatewayId() + "-events", topics.events(config.gatewayId()),
                    context, this::onEventRecord);
            return null;
        }).onSuccess(v -> eventsReady = true).mapEmpty();

        Map<String, String> beatProps = kafkaStrings();
        beatProps.put(ConsumerConfig.CLIENT_ID_CONFIG, config.gatewayId() + "-heartbeats");
        beatProps.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        beatProps.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        heartbeats = KafkaConsumer.create(vertx, beatProps, new StringDeserializer(), new ByteArrayDeserializer());
        heartbeats.handler(this::onHeartbeat);
        TopicPartition beats = new TopicPartition(topics.heartbeats(), 0);
        long since = System.currentTimeMillis() - config.workerTimeout().toMillis();
        Future<Void> heartbeatsStarted = heartbeats.assign(beats)
                .compose(v -> heartbeats.offsetsForTimes(beats, since))
                .compose(found -> found != null ? heartbeats.seek(beats, found.getOffset()) : heartbeats.seekToEnd(beats));
        jobs = new JobStore(vertx, kafkaStrings());
        return Future.all(eventsStarted, heartbeatsStarted, jobs.start(topics.results())).mapEmpty();
    }

    private Future<HttpServer> startHttp() {
        Router router = Router.router(vertx);
        GatewayConfig.Security security = config.security();
        if (!security.corsOrigins().isEmpty()) {
            router.route().handler(io.vertx.ext.web.handler.CorsHandler.create().addOrigins(security.corsOrigins())
                    .allowedMethod(io.vertx.core.http.HttpMethod.GET).allowedMethod(io.vertx.core.http.HttpMethod.POST)
                    .allowedHeader("Authorization").allowedHeader("Content-Type"));
        }
        router.route("/v1/*").handler(this::authenticate);
        router.route("/tokenize").handler(this::authenticate);
        router.route("/detokenize").handler(this::authenticate);
        router.get("/health/live").handler(ctx -> json(ctx.response(), 200, new JsonObject().put("status", "live")));
        router.get("/health/ready").handler(this::readiness);
        router.get("/v1/models").handler(this::models);
        router.get("/metrics").handler(ctx -> ctx.response()
                .putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8").end(metrics.scrape()));
        BodyHandler body = BodyHandler.create(false).setBodyLimit(config.maxBodyBytes());
        router.post("/v1/completions").handler(body).handler(ctx -> generate(ctx, false));
        router.post("/v1/chat/completions").handler(body).handler(ctx -> generate(ctx, true));
        router.post("/v1/jobs").handler(body).handler(this::submitJob);
        router.get("/v1/jobs/:id").handler(this::jobStatus);
        router.get("/v1/stream").handler(ctx -> ctx.request().toWebSocket()
                .onSuccess(socket -> new WebSocketSession(socket, this, ctx.get(KEY)))
                .onFailure(e -> log.atDebug().setMessage("WebSocket upgrade failed").addKeyValue("reason", e.getMessage()).log()));
        router.post("/tokenize").handler(body).handler(this::tokenize);
        router.post("/detokenize").handler(body).handler(this::detokenize);
        router.route().last().handler(ctx -> error(ctx.response(), ApiError.notFound(
                "%s %s is not an endpoint of this server".formatted(ctx.request().method(), ctx.request().path()), null)));
        router.route().failureHandler(this::onFailure);
        HttpServerOptions options = new HttpServerOptions().setHost(config.host()).setPort(config.port())
                .setTcpNoDelay(true).setCompressionSupported(false)
                .setMaxWebSocketMessageSize((int) Math.min(Integer.MAX_VALUE, config.maxBodyBytes()))
                .setMaxWebSocketFrameSize((int) Math.min(Integer.MAX_VALUE, config.maxBodyBytes()))
                .setInitialSettings(new Http2Settings().setMaxConcurrentStreams(config.maxConcurrentStreams()));
        if (security.tlsCertificate() != null) {
            options.setSsl(true).setKeyCertOptions(new io.vertx.core.net.PemKeyCertOptions()
                    .setCertPath(security.tlsCertificate().toString()).setKeyPath(security.tlsKey().toString()));
        }
        if (config.sendBufferBytes() > 0) {
            options.setSendBufferSize(config.sendBufferBytes());
        }
        server = vertx.createHttpServer(options).requestHandler(router);
        return server.listen();
    }

    /** Reads W3C trace context from HTTP headers. */
    private static final TextMapGetter<io.vertx.core.MultiMap> HEADERS = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(io.vertx.core.MultiMap carrier) {
            return carrier.names();
        }

        @Override
        public String get(io.vertx.core.MultiMap carrier, String key) {
            return carrier == null ? null : carrier.get(key);
        }
    };

    /** Bearer keys, when configured: 401 without a valid one; the key's name then names its rate limits. */
    private void authenticate(RoutingContext ctx) {
        ApiKeys keys = config.security().apiKeys();
        if (!keys.enabled()) {
            ctx.put(KEY, ANONYMOUS);
            ctx.next();
            return;
        }
        String header = ctx.request().getHeader("Authorization");
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            error(ctx.response(), new ApiError(401, "invalid_request_error", "You didn't provide an API key. Send it "
                    + "as an Authorization: Bearer header.", null, "invalid_api_key"));
            return;
        }
        String name = keys.match(header.substring(7).strip());
        if (name == null) {
            error(ctx.response(), new ApiError(401, "invalid_request_error", "Incorrect API key provided.", null,
                    "invalid_api_key"));
            return;
        }
        ctx.put(KEY, name);
        ctx.next();
    }

    private void onFailure(RoutingContext ctx) {
        if (ctx.response().ended()) {
            return;
        }
        if (ctx.failure() instanceof ApiError error) {
            error(ctx.response(), error);
        } else if (ctx.statusCode() == 413) {
            error(ctx.response(), ApiError.tooLarge("the request body is larger than %d bytes".formatted(config.maxBodyBytes())));
        } else if (ctx.statusCode() >= 400 && ctx.statusCode() < 500) {
            error(ctx.response(), new ApiError(ctx.statusCode(), "invalid_request_error", "bad request", null, null));
        } else {
            log.atError().setMessage("request failed").setCause(ctx.failure()).log();
            error(ctx.response(), ApiError.internal("internal error"));
        }
    }

    private static void json(HttpServerResponse response, int status, JsonObject body) {
        response.setStatusCode(status).putHeader("Content-Type", "application/json").end(body.toBuffer());
    }

    private static void error(HttpServerResponse response, ApiError error) {
        if (error.retryAfterSeconds > 0) {
            response.putHeader("Retry-After", Long.toString(error.retryAfterSeconds));
        }
        json(response, error.status, error.toJson());
    }

    /** The body as a JSON object; invalid UTF-8 and malformed JSON are 400s. */
    private static JsonObject jsonBody(RoutingContext ctx) {
        Buffer buffer = ctx.body().buffer();
        if (buffer == null || buffer.length() == 0) {
            throw ApiError.badRequest("the request body is empty; send a JSON object", null);
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(buffer.getBytes())).toString();
        } catch (CharacterCodingException e) {
            throw ApiError.badRequest("the request body is not valid UTF-8", null);
        }
        try {
            Object value = io.vertx.core.json.Json.decodeValue(text);
            if (!(value instanceof JsonObject object)) {
                throw ApiError.badRequest("the request body must be a JSON object", null);
            }
            return object;
        } catch (DecodeException e) {
            throw ApiError.badRequest("the request body is not valid JSON: " + e.getMessage(), null);
        }
    }

    private void readiness(RoutingContext ctx) {
        long now = System.currentTimeMillis();
        JsonObject status = new JsonObject().put("kafka", eventsReady).put("workers", workers.anyReady(now));
        boolean ready = ready();
        json(ctx.response(), ready ? 200 : 503, status.put("status", ready ? "ready" : draining ? "draining" : "not ready"));
    }

    private void models(RoutingContext ctx) {
        json(ctx.response(), 200, new JsonObject().put("object", "list").put("data", new JsonArray().add(
                new JsonObject().put("id", config.modelName()).put("object", "model").put("created", 0)
                        .put("owned_by", "hunyuan-serve").put("max_model_len", maxModelLength))));
    }

    private void tokenize(RoutingContext ctx) {
        JsonObject body = jsonBody(ctx);
        Prompt prompt;
        if (body.getValue("messages") != null) {
            JsonObject asChat = body.copy().put("model", config.modelName());
            GenerationPlan plan = GenerationPlan.parse(asChat.put("max_tokens", 1), true, config.modelName(), encoder,
                    tokenizeOnly());
            json(ctx.response(), 200, tokensBody(plan.prompts().getFirst()));
            return;
        }
        if (!(body.getValue("prompt") instanceof String text)) {
            throw ApiError.badRequest("prompt must be a string (or send messages)", "prompt");
        }
        boolean addSpecial = !Boolean.FALSE.equals(body.getValue("add_special_tokens"));
        prompt = Prompt.text(text);
        int[] ids = addSpecial ? encoder.encode(prompt) : encoder.tokenizer().encode(text);
        json(ctx.response(), 200, tokensBody(ids));
    }

    /** Tokenizing checks no lengths: it is how a client finds out whether a prompt fits. */
    private GenerationPlan.Limits tokenizeOnly() {
        return new GenerationPlan.Limits(Integer.MAX_VALUE, Integer.MAX_VALUE, 1, limits.vocabulary(),
                limits.allowSpecialTokensInChat());
    }

    private JsonObject tokensBody(int[] ids) {
        JsonArray tokens = new JsonArray();
        for (int id : ids) {
            tokens.add(id);
        }
        return new JsonObject().put("count", ids.length).put("max_model_len", maxModelLength).put("tokens", tokens);
    }

    private void detokenize(RoutingContext ctx) {
        JsonObject body = jsonBody(ctx);
        if (!(body.getValue("tokens") instanceof JsonArray array)) {
            throw ApiError.badRequest("tokens must be a list of token ids", "tokens");
        }
        int[] ids = new int[array.size()];
        for (int i = 0; i < ids.length; i++) {
            if (!(array.getValue(i) instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())
                    || n.longValue() < 0 || n.longValue() >= encoder.tokenizer().size()) {
                throw ApiError.badRequest("tokens[%d] is not a token id of this model".formatted(i), "tokens");
            }
            ids[i] = n.intValue();
        }
        json(ctx.response(), 200, new JsonObject().put("prompt", encoder.tokenizer().decode(ids, false)));
    }

    private void generate(RoutingContext ctx, boolean chat) {
        JsonObject body = jsonBody(ctx);
        GenerationPlan plan = GenerationPlan.parse(body, chat, config.modelName(), encoder, limits);
        HttpServerResponse response = ctx.response();
        Context parent = propagator.extract(Context.root(), ctx.request().headers(), HEADERS);
        start(newExchangeId(chat), plan, ctx.get(KEY), parent, "POST " + ctx.request().path(),
                e -> new HttpOutput(e, response, this));
    }

    /** Prompt plus max_tokens of every generation: what the request may cost at most. */
    private static int reservedTokens(GenerationPlan plan) {
        long total = 0;
        for (int p = 0; p < plan.prompts().size(); p++) {
            total += (long) plan.n() * (plan.prompts().get(p).length + plan.maxTokens()[p]);
        }
        return (int) Math.min(Integer.MAX_VALUE, total);
    }

    static String newExchangeId(boolean chat) {
        return (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
    }

    GenerationPlan plan(JsonObject body, boolean chat) {
        return GenerationPlan.parse(body, chat, config.modelName(), encoder, limits);
    }

    /**
     * Admits a checked request and writes its generations to the requests topic.
     *
     * @throws ApiError 503 without a ready worker, 429 over the concurrency limit
     */
    Exchange start(String id, GenerationPlan plan, String key, Context parent, String spanName,
            java.util.function.Function<Exchange, ExchangeOutput> output) {
        long now = System.currentTimeMillis();
        if (!workers.anyReady(now)) {
            throw ApiError.unavailable("no inference worker is available; retry shortly");
        }
        if (stats.activeExchanges() + 1 > config.maxConcurrentStreams()) {
            throw ApiError.tooMany("this gateway is serving its limit of %d concurrent requests; retry shortly"
                    .formatted(config.maxConcurrentStreams()));
        }
        int reserved = reservedTokens(plan);
        ledger.admit(key, reserved, System.nanoTime());
        Exchange exchange = new Exchange(id, plan, output, this, config.streamCredit());
        exchange.span = tracer.spanBuilder(spanName).setParent(parent).setSpanKind(SpanKind.SERVER)
                .setAttribute("gen_ai.request.model", plan.model()).setAttribute("hyserve.exchange_id", id)
                .setAttribute("gen_ai.request.choices", (long) exchange.choices.size()).startSpan();
        exchange.key = key;
        exchange.reservedTokens = reserved;
        exchanges.add(exchange);
        stats.exchangeOpened();
        long deadline = now + config.requestTimeout().toMillis();
        exchange.deadlineTimer = vertx.setTimer(config.requestTimeout().toMillis() + LIVENESS_CHECK_MS,
                t -> exchange.fail(null, ErrorCode.DEADLINE_EXCEEDED,
                        "the request did not finish within %d s".formatted(config.requestTimeout().toSeconds())));
        for (Exchange.Choice choice : exchange.choices) {
            choicesByRequest.put(choice.requestId, choice);
            Long seed = plan.sampling().seed();
            if (seed != null && plan.n() > 1) {
                seed += choice.index % plan.n(); // n choices from one seed must still differ
            }
            InferenceRequest.Sampling sampling = forGeneration(plan.sampling(), seed,
                    plan.maxTokens()[choice.promptIndex]);
            List<Integer> ids = java.util.Arrays.stream(plan.prompts().get(choice.promptIndex)).boxed().toList();
            Span publish = tracer.spanBuilder(topics.requests() + " publish").setSpanKind(SpanKind.PRODUCER)
                    .setParent(Context.current().with(exchange.span)).setAttribute("messaging.system", "kafka")
                    .setAttribute("messaging.destination.name", topics.requests())
                    .setAttribute("hyserve.request_id", choice.requestId).startSpan();
            Map<String, String> trace = new HashMap<>();
            propagator.inject(Context.current().with(publish), trace, Map::put);
            InferenceRequest request = new InferenceRequest(Wire.SCHEMA_VERSION, choice.requestId,
                    InferenceRequest.Kind.STREAM, null, plan.model(), InferenceRequest.PromptInput.ofTokenIds(ids),
                    sampling, new InferenceRequest.ReplyTo(topics.events(config.gatewayId())), deadline,
                    plan.stream() ? config.streamCredit() : null, now, trace.isEmpty() ? null : trace);
            producer.send(KafkaProducerRecord.create(topics.requests(), choice.requestId, Wire.encode(request)))
                    .onComplete(sent -> publish.end())
                    .onFailure(e -> exchange.fail(choice, ErrorCode.INTERNAL_ERROR,
                            "could not queue the request: " + e.getMessage()));
        }
        return exchange;
    }

    /**
     * {@code POST /v1/jobs}: {@code {"type": "chat"|"completion", "request": {...}, "job_id": optional}}. The
     * request is an OpenAI body for one generation; the job runs at least once and reports exactly one result.
     */
    private void submitJob(RoutingContext ctx) {
        JsonObject body = jsonBody(ctx);
        Object type = body.getValue("type");
        if (!"chat".equals(type) && !"completion".equals(type)) {
            throw ApiError.badRequest("type must be \"chat\" or \"completion\"", "type");
        }
        if (!(body.getValue("request") instanceof JsonObject request)) {
            throw ApiError.badRequest("request must be an OpenAI chat or completion request body", "request");
        }
        if (Boolean.TRUE.equals(request.getValue("stream"))) {
            throw ApiError.badRequest("a job cannot stream; poll GET /v1/jobs/{id} instead", "request.stream");
        }
        GenerationPlan plan = GenerationPlan.parse(request, "chat".equals(type), config.modelName(), encoder, limits);
        if (plan.prompts().size() != 1 || plan.n() != 1) {
            throw ApiError.badRequest("a job is one generation: one prompt and n = 1", "request");
        }
        String jobId;
        Object given = body.getValue("job_id");
        if (given == null) {
            jobId = "job-" + UUID.randomUUID().toString().replace("-", "");
        } else if (given instanceof String s && s.matches("[A-Za-z0-9._:-]{1,128}")) {
            jobId = s;
        } else {
            throw ApiError.badRequest("job_id must be 1-128 of [A-Za-z0-9._:-]", "job_id");
        }
        HttpServerResponse response = ctx.response();
        JobStatus known = jobs.get(jobId);
        if (known == null) {
            ledger.admit(ctx.get(KEY), reservedTokens(plan), System.nanoTime());
            ledger.release(ctx.get(KEY), 0); // a job holds no stream: only its rate counts
        }
        if (known != null) {
            json(response, 200, jobJson(known)); // idempotent: the same job id is not run twice
            return;
        }
        long now = System.currentTimeMillis();
        List<Integer> ids = java.util.Arrays.stream(plan.prompts().getFirst()).boxed().toList();
        InferenceRequest job = new InferenceRequest(Wire.SCHEMA_VERSION, jobId, InferenceRequest.Kind.JOB, jobId,
                plan.model(), InferenceRequest.PromptInput.ofTokenIds(ids), forGeneration(plan.sampling(),
                        plan.sampling().seed(), plan.maxTokens()[0]), null, null, null, now, null);
        JobStatus queued = JobStatus.queued(jobId, jobId, now);
        // The queued state goes first, on the job's results partition, so no later state can be overtaken by it.
        producer.send(KafkaProducerRecord.create(topics.results(), jobId, Wire.encode(queued)))
                .compose(v -> producer.send(KafkaProducerRecord.create(topics.requests(), jobId, Wire.encode(job))))
                .onSuccess(v -> json(response, 202, jobJson(queued)))
                .onFailure(e -> error(response, ApiError.unavailable("could not queue the job: " + e.getMessage())));
    }

    private void jobStatus(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        JobStatus status = jobs.get(id);
        if (status == null) {
            throw ApiError.notFound("no job with id '%s'".formatted(id), "job_not_found");
        }
        json(ctx.response(), 200, jobJson(status));
    }

    private static JsonObject jobJson(JobStatus status) {
        JsonObject json = new JsonObject().put("id", status.jobId()).put("object", "job")
                .put("status", status.status().wireName()).put("updated_at", status.updatedMs() / 1000);
        if (status.result() != null) {
            JobStatus.Result r = status.result();
            json.put("result", new JsonObject().put("text", r.text()).put("finish_reason", r.finishReason())
                    .put("token_ids", new JsonArray(new java.util.ArrayList<>(r.tokenIds())))
                    .put("usage", new JsonObject().put("prompt_tokens", r.usage().promptTokens())
                            .put("completion_tokens", r.usage().completionTokens())
                            .put("total_tokens", r.usage().promptTokens() + r.usage().completionTokens())
                            .put("prompt_tokens_details", new JsonObject().put("cached_tokens", r.usage().cachedTokens()))));
        }
        if (status.error() != null) {
            json.put("error", new JsonObject().put("code", status.error().code().wireName())
                    .put("message", status.error().message()));
        }
        return json;
    }

    /** The request's sampling with one generation's own seed and token budget. */
    private static InferenceRequest.Sampling forGeneration(InferenceRequest.Sampling s, Long seed, int maxTokens) {
        return new InferenceRequest.Sampling(s.temperature(), s.topP(), s.topK(), s.minP(), s.repetitionPenalty(),
                s.presencePenalty(), s.frequencyPenalty(), seed, maxTokens, s.stop(), s.stopTokenIds(),
                s.ignoreEos(), s.logprobs(), s.skipSpecialTokens(), s.logitBias());
    }

    private void onEventRecord(ConsumerRecord<String, byte[]> record) {
        StreamEvent event;
        try {
            event = Wire.decode(record.value() == null ? new byte[0] : record.value(), StreamEvent.class);
        } catch (WireException e) {
            stats.invalidEvent();
            log.atWarn().setMessage("invalid stream event sent to the dead-letter topic")
                    .addKeyValue("offset", record.offset()).addKeyValue("reason", e.getMessage()).log();
            KafkaProducerRecord<String, byte[]> letter = KafkaProducerRecord.create(topics.deadLetters(), record.key(),
                    record.value());
            letter.addHeader(Topics.HEADER_ERROR, e.getMessage());
            letter.addHeader(Topics.HEADER_SOURCE, record.topic() + "-" + record.partition() + "@" + record.offset());
            producer.send(letter);
            return;
        }
        Exchange.Choice choice = choicesByRequest.get(event.requestId());
        if (choice != null) {
            if (choice.workerId != null) {
                workers.touch(choice.workerId, System.currentTimeMillis());
            }
            choice.exchange().onEvent(choice, event);
        }
    }

    private void onHeartbeat(KafkaConsumerRecord<String, byte[]> record) {
        try {
            workers.record(Wire.decode(record.value(), WorkerHeartbeat.class), System.currentTimeMillis());
        } catch (WireException | NullPointerException e) {
            log.atWarn().setMessage("ignored an invalid heartbeat").addKeyValue("offset", record.offset()).log();
        }
    }

    private void failStreamsOfLostWorkers() {
        long now = System.currentTimeMillis();
        for (Exchange exchange : List.copyOf(exchanges)) {
            for (Exchange.Choice choice : exchange.choices) {
                if (!choice.finished && choice.workerId != null && !workers.alive(choice.workerId, now)) {
                    exchange.fail(choice, ErrorCode.WORKER_LOST,
                            "worker %s stopped while generating; streams are not re-run".formatted(choice.workerId));
                    break;
                }
            }
        }
    }

    /** Lets a worker send {@code events} more events of {@code requestId}. */
    void grant(String requestId, int events) {
        sendControl(ControlMessage.credit(requestId, events));
    }

    void cancel(String requestId, String reason) {
        sendControl(ControlMessage.cancel(requestId, reason));
    }

    private void sendControl(ControlMessage message) {
        producer.send(KafkaProducerRecord.create(topics.control(), message.requestId(), Wire.encode(message)))
                .onFailure(e -> log.atWarn().setMessage("control message not sent")
                        .addKeyValue("requestId", message.requestId()).addKeyValue("reason", e.getMessage()).log());
    }

    void closed(Exchange exchange) {
        if (exchanges.remove(exchange)) {
            exchange.span.end();
            stats.exchangeClosed();
            ledger.release(exchange.key, Math.max(0, exchange.reservedTokens - exchange.usedTokens()));
            vertx.cancelTimer(exchange.deadlineTimer);
            for (Exchange.Choice choice : exchange.choices) {
                choicesByRequest.remove(choice.requestId);
            }
            // Who asked and how much, never what: prompts, outputs and keys stay out of the logs.
            log.atDebug().setMessage("request ended").addKeyValue("id", exchange.id).addKeyValue("keyName", exchange.key)
                    .addKeyValue("choices", exchange.choices.size()).addKeyValue("tokens", exchange.usedTokens())
                    .addKeyValue("finishReasons", exchange.choices.stream().map(c -> String.valueOf(c.finishReason)).toList())
                    .log();
        }
    }

    /** OpenAI's logprobs object: chat's {@code content} list, or completions' parallel lists. */
    JsonObject formatLogprobs(boolean chat, List<Logprob> logprobs, int textOffset) {
        HyTokenizer tokenizer = encoder.tokenizer();
        if (chat) {
            JsonArray content = new JsonArray();
            for (Logprob lp : logprobs) {
                JsonArray top = new JsonArray();
                for (Logprob.Alternative alt : lp.top()) {
                    top.add(tokenJson(tokenizer, alt.tokenId(), alt.logprob()));
                }
                content.add(tokenJson(tokenizer, lp.tokenId(), lp.logprob()).put("top_logprobs", top));
            }
            return new JsonObject().put("content", content);
        }
        JsonArray tokens = new JsonArray();
        JsonArray tokenLogprobs = new JsonArray();
        JsonArray top = new JsonArray();
        JsonArray offsets = new JsonArray();
        int offset = textOffset;
        for (Logprob lp : logprobs) {
            String token = tokenText(tokenizer, lp.tokenId());
            tokens.add(token);
            tokenLogprobs.add(lp.logprob());
            JsonObject alternatives = new JsonObject();
            for (Logprob.Alternative alt : lp.top()) {
                alternatives.put(tokenText(tokenizer, alt.tokenId()), alt.logprob());
            }
            top.add(alternatives);
            offsets.add(offset);
            offset += token.length();
        }
        return new JsonObject().put("tokens", tokens).put("token_logprobs", tokenLogprobs).put("top_logprobs", top)
                .put("text_offset", offsets);
    }

    private static JsonObject tokenJson(HyTokenizer tokenizer, int id, double logprob) {
        JsonArray bytes = new JsonArray();
        if (id < tokenizer.size()) {
            for (byte b : tokenizer.tokenBytes(id)) {
                bytes.add(b & 0xff);
            }
        }
        return new JsonObject().put("token", tokenText(tokenizer, id)).put("logprob", logprob).put("bytes", bytes);
    }

    private static String tokenText(HyTokenizer tokenizer, int id) {
        return id < tokenizer.size() ? tokenizer.decode(new int[] {id}, false) : "";
    }

    @Override
    public Future<?> stop() {
        for (Exchange exchange : List.copyOf(exchanges)) {
            exchange.fail(null, ErrorCode.SHUTTING_DOWN, "the gateway is shutting down");
        }
        return Future.all(server == null ? Future.succeededFuture() : server.close(),
                events == null ? Future.succeededFuture() : vertx.executeBlocking(() -> {
                    events.close();
                    return null;
                }),
                heartbeats == null ? Future.succeededFuture() : heartbeats.close(),
                jobs == null ? Future.succeededFuture() : jobs.close(),
                producer == null ? Future.succeededFuture() : producer.close());
    }
}
