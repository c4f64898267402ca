package io.hyserve.worker;

import io.hyserve.engine.Engine;
import io.hyserve.engine.EngineStats;
import io.hyserve.engine.GenerationRequest;
import io.hyserve.engine.GenerationStream;
import io.hyserve.engine.InvalidRequestException;
import io.hyserve.engine.StreamOverflowException;
import io.hyserve.engine.TokenEvent;
import io.hyserve.schemas.ErrorCode;
import io.hyserve.schemas.InferenceRequest;
import io.hyserve.schemas.JobStatus;
import io.hyserve.schemas.Logprob;
import io.hyserve.schemas.StreamEvent;
import io.hyserve.schemas.TopicSetup;
import io.hyserve.schemas.Topics;
import io.hyserve.schemas.Usage;
import io.hyserve.schemas.Wire;
import io.hyserve.schemas.WireException;
import io.hyserve.schemas.WorkerHeartbeat;
import io.micrometer.core.instrument.MeterRegistry;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.reactivestreams.Subscription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.BaseSubscriber;

/**
 * Runs requests from the requests topic on an engine and sends what they produce back through Kafka.
 *
 * <p>Streams are taken at most once: their offset counts as done when they start, and a worker that dies
 * leaves its streams to end with an error at the gateway. Jobs are at least once: a job's offset is
 * committed only after its result was published, and a job whose result is already on the results topic
 * is skipped, so a re-run never delivers twice. The consumer pauses while the engine holds
 * {@code maxNumSeqs + maxWaiting} requests and keeps polling while paused, so it stays in the group.
 */
public final class InferenceWorker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(InferenceWorker.class);
    private static final Duration POLL = Duration.ofMillis(50);

    private final Engine engine;
    private final WorkerConfig config;
    private final Topics topics;
    private final KafkaConsumer<String, byte[]> consumer;
    private final KafkaProducer<String, byte[]> producer;
    private final JobPublisher publisher;
    private final SideChannel sideChannel;
    private final OffsetTracker offsets = new OffsetTracker();
    private final Map<String, Active> active = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Active> finishedJobs = new ConcurrentLinkedQueue<>();
    private final Set<TopicPartition> owned = ConcurrentHashMap.newKeySet();
    /** Newly assigned partitions, paused until the job ledger has read every result committed before. */
    private final Set<TopicPartition> awaitingLedger = new java.util.HashSet<>();
    private java.util.concurrent.CompletableFuture<Void> ledgerBarrier = java.util.concurrent.CompletableFuture.completedFuture(null);
    private final AtomicInteger inFlight = new AtomicInteger();
    private final ScheduledExecutorService timers;
    private final int pauseAt;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Thread pollThread;
    private volatile boolean assigned;
    private volatile boolean draining;
    private volatile boolean closed;
    /** Null unless a benchmark listens: no per-token allocation otherwise. */
    private volatile Consumer<Delivery> deliveryListener;
    private final WorkerMetrics metrics;
    private final Tracer tracer;
    private final TextMapPropagator propagator;
    private static final Duration LAG_TIMEOUT = Duration.ofMillis(500);
    private volatile double consumerLag;
    private long lagReadAt;

    /** Reads W3C trace context from the request's {@code trace} field. */
    private static final TextMapGetter<Map<String, String>> TRACE_FIELD = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Map<String, String> carrier) {
            return carrier.keySet();
        }

        @Override
        public String get(Map<String, String> carrier, String key) {
            return carrier == null ? null : carrier.get(key);
        }
    };

    private static long epochNanos() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    /** A generated token leaving the worker, for latency measurements within one process. */
    public record Delivery(String requestId, long seq, long nanoTime) {}

    private InferenceWorker(Engine engine, WorkerConfig config, MeterRegistry registry, OpenTelemetry telemetry) {
        this.tracer = telemetry.getTracer("io.hyserve.worker");
        this.propagator = telemetry.getPropagators().getTextMapPropagator();
        this.engine = engine;
        this.config = config;
        this.topics = config.topics();
        this.pauseAt = engine.config().maxNumSeqs() + config.maxWaiting();
        Map<String, Object> producerProps = new HashMap<>(config.kafka());
        producerProps.put(ProducerConfig.CLIENT_ID_CONFIG, config.workerId() + "-events");
        producerProps.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, 0);
        this.producer = new KafkaProducer<>(producerProps, new StringSerializer(), new ByteArraySerializer());
        this.publisher = new JobPublisher(topics, config.kafka(), config.workerId());
        this.sideChannel = new SideChannel(topics, config.kafka(), config.workerId() + "-side",
                new SideChannel.ControlHandler() {
                    @Override
                    public void cancel(String requestId, String reason) {
                        Active request = active.get(requestId);
                        if (request != null && !request.job) {
                            request.stream.cancel();
                        }
                    }

                    @Override
                    public void credit(String requestId, int events) {
                        Active request = active.get(requestId);
                        if (request != null) {
                            request.grant(events);
                        }
                    }
                });
        Map<String, Object> consumerProps = new HashMap<>(config.kafka());
        consumerProps.put(ConsumerConfig.GROUP_ID_CONFIG, topics.prefix() + "-workers");
        consumerProps.put(ConsumerConfig.CLIENT_ID_CONFIG, config.workerId() + "-requests");
        consumerProps.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        // A request written before any worker joined is still served: no "latest" gap.
        consumerProps.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        consumerProps.putIfAbsent(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 16);
        consumerProps.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 20);
        // Incremental rebalancing: a worker joining or leaving moves only the partitions that change owner,
        // so the jobs of the others keep running.
        consumerProps.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                org.apache.kafka.clients.consumer.CooperativeStickyAssignor.class.getName());
        this.consumer = new KafkaConsumer<>(consumerProps, new StringDeserializer(), new ByteArrayDeserializer());
        this.timers = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("hyserve-worker-timer")
                .daemon().factory());
        this.pollThread = Thread.ofPlatform().name("hyserve-worker-poll").unstarted(this::pollLoop);
        this.metrics = new WorkerMetrics(registry, engine, () -> consumerLag);
    }

    /**
     * Creates missing topics, joins the workers' group and starts announcing itself.
     *
     * @param partitions partitions of the requests topic, if it has to be created
     * @param registry where the worker's metrics go
     * @param telemetry traces: each request's span continues the trace context the request carries
     */
    public static InferenceWorker start(Engine engine, WorkerConfig config, int partitions, short replication,
            MeterRegistry registry, OpenTelemetry telemetry) {
        try (Admin admin = Admin.create(config.kafka())) {
            TopicSetup.ensureShared(admin, config.topics(), partitions, replication);
        }
        InferenceWorker worker = new InferenceWorker(engine, config, registry, telemetry);
        worker.pollThread.start();
        long intervalMs = config.heartbeatInterval().toMillis();
        worker.timers.scheduleAtFixedRate(worker::heartbeat, 0, intervalMs, TimeUnit.MILLISECONDS);
        log.atInfo().setMessage("worker started").addKeyValue("workerId", config.workerId())
                .addKeyValue("requests", config.topics().requests()).log();
        return worker;
    }

    public String workerId() {
        return config.workerId();
    }

    /** Joined the group and got partitions, and not stopping. */
    public boolean ready() {
        return assigned && !draining && pollThread.isAlive();
    }

    /**
     * Taking requests, or stopped on purpose. A worker drained without being stopped after (someone else's call
     * of {@code /admin/drain}) is not alive, so its pod is restarted rather than kept out of service for good.
     */
    public boolean alive() {
        return pollThread.isAlive() || closed;
    }

    /** Requests taken from Kafka and not finished. */
    public int inFlight() {
        return inFlight.get();
    }

    /** Called for every token event sent to a gateway, on the thread that sent it. */
    public void onDelivery(Consumer<Delivery> listener) {
        this.deliveryListener = listener;
    }

    private void heartbeat() {
        try {
            EngineStats stats = engine.stats();
            WorkerHeartbeat beat = new WorkerHeartbeat(Wire.SCHEMA_VERSION, config.workerId(),
                    closed ? WorkerHeartbeat.State.STOPPED
                            : draining ? WorkerHeartbeat.State.DRAINING : WorkerHeartbeat.State.READY, config.modelName(), engine.maxModelLength(),
                    System.currentTimeMillis(), config.heartbeatInterval().toMillis(), stats.running(), stats.waiting());
            if (assigned || draining) {
                producer.send(new ProducerRecord<>(topics.heartbeats(), config.workerId(), Wire.encode(beat)));
            }
        } catch (RuntimeException e) {
            log.atWarn().setMessage("heartbeat failed").addKeyValue("reason", e.getMessage()).log();
        }
    }

    private void pollLoop() {
        consumer.subscribe(List.of(topics.requests()), new Rebalance());
        long drainDeadline = Long.MAX_VALUE;
        try {
            while (true) {
                if (draining && drainDeadline == Long.MAX_VALUE) {
                    drainDeadline = System.nanoTime() + config.shutdownGrace().toNanos();
                    consumer.pause(consumer.assignment());
                }
                if (draining && (active.isEmpty() || System.nanoTime() > drainDeadline)) {
                    break;
                }
                try {
                    consumer.poll(POLL).forEach(this::take);
                } catch (WakeupException e) {
                    continue;
                }
                settleFinishedJobs();
                commit(false);
                releaseCaughtUpPartitions();
                applyFlowControl();
                readConsumerLag();
            }
            giveBack();
        } catch (RuntimeException e) {
            log.atError().setMessage("request consumer failed; the worker stops taking requests").setCause(e).log();
        } finally {
            try {
                consumer.close(Duration.ofSeconds(5));
            } finally {
                stopped.countDown();
            }
        }
    }

    /**
     * Requests waiting on this worker's partitions: their end offsets minus its positions, read here because the
     * consumer is not thread-safe. The client's own lag metric only sees partitions it fetches, so it cannot see
     * the backlog that builds while the consumer is paused, which is when it matters.
     */
    private void readConsumerLag() {
        long now = System.nanoTime();
        Set<TopicPartition> partitions = consumer.assignment();
        if (now - lagReadAt < 1_000_000_000L || partitions.isEmpty()) {
            return;
        }
        lagReadAt = now;
        try {
            long lag = 0;
            for (var end : consumer.endOffsets(partitions, LAG_TIMEOUT).entrySet()) {
                lag += Math.max(0, end.getValue() - consumer.position(end.getKey(), LAG_TIMEOUT));
            }
            consumerLag = lag;
        } catch (org.apache.kafka.common.errors.TimeoutException e) {
            // The broker is away; keep the last figure rather than stall the poll loop.
        }
    }

    private void releaseCaughtUpPartitions() {
        if (awaitingLedger.isEmpty() || !ledgerBarrier.isDone()) {
            return;
        }
        awaitingLedger.clear();
        log.atDebug().setMessage("job ledger caught up; taking requests from new partitions").log();
    }

    private void applyFlowControl() {
        if (draining) {
            return;
        }
        Set<TopicPartition> paused = consumer.paused();
        if (inFlight.get() >= pauseAt && paused.size() < consumer.assignment().size()) {
            consumer.pause(consumer.assignment());
        } else if (inFlight.get() < pauseAt - Math.max(1, config.maxWaiting() / 2)) {
            Set<TopicPartition> resumable = new java.util.HashSet<>(paused);
            resumable.removeAll(awaitingLedger);
            if (!resumable.isEmpty()) {
                consumer.resume(resumable);
            }
        }
    }

    private void take(ConsumerRecord<String, byte[]> record) {
        TopicPartition partition = new TopicPartition(record.topic(), record.partition());
        offsets.seen(partition, record.offset());
        InferenceRequest request;
        try {
            if (record.value() == null) {
                throw new WireException("the record has no value");
            }
            request = Wire.decode(record.value(), InferenceRequest.class);
        } catch (WireException | RuntimeException e) {
            // A poison record must never stop the worker: whatever fails to decode is a dead letter.
            deadLetter(record, String.valueOf(e.getMessage()));
            offsets.finished(partition, record.offset());
            return;
        }
        if (request.kind() == InferenceRequest.Kind.STREAM) {
            offsets.finished(partition, record.offset()); // at most once: never re-run after a crash
            if (active.containsKey(request.requestId()) || sideChannel.takeEarlyCancel(request.requestId())) {
                return;
            }
            run(new Active(request, partition, record.offset()));
        } else {
            if (sideChannel.jobFinished(request.jobId()) || active.containsKey(request.requestId())) {
                offsets.finished(partition, record.offset());
                return;
            }
            run(new Active(request, partition, record.offset()));
        }
    }

    private void deadLetter(ConsumerRecord<String, byte[]> record, String reason) {
        log.atWarn().setMessage("invalid request sent to the dead-letter topic").addKeyValue("partition", record.partition())
                .addKeyValue("offset", record.offset()).addKeyValue("reason", reason).log();
        ProducerRecord<String, byte[]> letter = new ProducerRecord<>(topics.deadLetters(), record.key(), record.value());
        letter.headers().add(Topics.HEADER_ERROR, reason.getBytes(StandardCharsets.UTF_8));
        letter.headers().add(Topics.HEADER_SOURCE, "%s-%d@%d".formatted(record.topic(), record.partition(),
                record.offset()).getBytes(StandardCharsets.UTF_8));
        producer.send(letter);
    }

    private void run(Active request) {
        InferenceRequest wire = request.wire;
        if (wire.deadlineMs() != null && wire.deadlineMs() <= System.currentTimeMillis()) {
            request.fail(ErrorCode.DEADLINE_EXCEEDED, "the request's deadline passed before a worker took it");
            return;
        }
        try {
            request.stream = engine.submit(new GenerationRequest(wire.requestId(),
                    RequestMapping.prompt(wire.prompt()), RequestMapping.sampling(wire.sampling())));
        } catch (InvalidRequestException e) {
            request.fail(ErrorCode.INVALID_REQUEST, e.getMessage());
            return;
        } catch (RuntimeException e) {
            log.atError().setMessage("request failed to start").addKeyValue("requestId", wire.requestId()).setCause(e).log();
            request.fail(ErrorCode.INTERNAL_ERROR, "the worker could not start the request");
            return;
        }
        active.put(wire.requestId(), request);
        inFlight.incrementAndGet();
        if (!request.job) {
            request.send(StreamEvent.started(wire.requestId(), request.nextSeq(), config.workerId(),
                    request.stream.promptIds().length));
        }
        if (wire.deadlineMs() != null) {
            long delay = Math.max(0, wire.deadlineMs() - System.currentTimeMillis());
            request.deadline = timers.schedule(() -> request.fail(ErrorCode.DEADLINE_EXCEEDED,
                    "the request's deadline passed"), delay, TimeUnit.MILLISECONDS);
        }
        request.stream.events().subscribe(request.subscriber);
    }

    private void settleFinishedJobs() {
        for (Active job; (job = finishedJobs.poll()) != null; ) {
            if (owned.contains(job.partition)) {
                offsets.finished(job.partition, job.offset);
            }
        }
    }

    private void commit(boolean sync) {
        Map<TopicPartition, org.apache.kafka.clients.consumer.OffsetAndMetadata> advanced = offsets.advanced();
        if (advanced.isEmpty()) {
            return;
        }
        if (sync) {
            consumer.commitSync(advanced);
        } else {
            consumer.commitAsync(advanced, (committed, error) -> {
                if (error != null) {
                    offsets.commitFailed(advanced); // callbacks run inside poll(), on this thread
                    (error instanceof org.apache.kafka.common.errors.RebalanceInProgressException ? log.atDebug()
                            : log.atWarn()).setMessage("offset commit failed; retrying")
                            .addKeyValue("reason", error.getMessage()).log();
                }
            });
        }
    }

    /** End of a graceful stop: streams get an error, jobs are cancelled without committing (they run elsewhere). */
    private void giveBack() {
        for (Active request : List.copyOf(active.values())) {
            if (request.job) {
                request.revoked = true;
                request.stream.cancel();
            } else {
                request.fail(ErrorCode.SHUTTING_DOWN, "the worker stopped before the request finished");
            }
        }
        synchronized (publisher.ownershipLock) {
            settleFinishedJobs();
            owned.clear();
        }
        commit(true);
    }

    private final class Rebalance implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            synchronized (publisher.ownershipLock) {
                owned.removeAll(partitions);
            }
            for (Active request : active.values()) {
                if (request.job && partitions.contains(request.partition)) {
                    request.revoked = true;
                    request.stream.cancel();
                }
            }
            settleFinishedJobs();
            try {
                commit(true);
            } catch (RuntimeException e) {
                log.atWarn().setMessage("commit on revoke failed").addKeyValue("reason", e.getMessage()).log();
            }
            partitions.forEach(offsets::forget);
            awaitingLedger.removeAll(partitions);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            // Results committed by the previous owner must be known before its unfinished jobs are re-read:
            // the partitions stay paused until the ledger has read up to now (the poll loop keeps polling).
            if (!partitions.isEmpty()) {
                consumer.pause(partitions);
                awaitingLedger.addAll(partitions);
                ledgerBarrier = sideChannel.catchUp();
            }
            owned.addAll(partitions);
            assigned = true;
            log.atInfo().setMessage("partitions assigned").addKeyValue("partitions", partitions.toString()).log();
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            onPartitionsRevoked(partitions);
        }
    }

    /** One request on this worker. Events for it are sent in order from the subscriber's thread. */
    private final class Active {
        final InferenceRequest wire;
        final boolean job;
        final TopicPartition partition;
        final long offset;
        final String replyTopic;
        GenerationStream stream;
        volatile boolean revoked;
        ScheduledFuture<?> deadline;
        private long seq;
        private boolean ended;
        private final StringBuilder text = new StringBuilder();
        private final List<Integer> tokenIds = new ArrayList<>();
        private final List<Logprob> logprobs = new ArrayList<>();
        private final long takenNanos = System.nanoTime();
        private final long takenEpochNanos = epochNanos();
        private long firstTokenNanos;
        private long lastTokenNanos;
        private final Span span;
        final BaseSubscriber<TokenEvent> subscriber = new BaseSubscriber<>() {
            @Override
            protected void hookOnSubscribe(Subscription subscription) {
                Integer credit = wire.streamCredit();
                subscription.request(job || credit == null ? Long.MAX_VALUE : credit);
            }

            @Override
            protected void hookOnNext(TokenEvent event) {
                onEvent(event);
            }

            @Override
            protected void hookOnError(Throwable error) {
                if (error instanceof StreamOverflowException) {
                    fail(ErrorCode.STREAM_OVERFLOW, error.getMessage());
                } else {
                    log.atError().setMessage("generation failed").addKeyValue("requestId", wire.requestId())
                            .setCause(error).log();
                    fail(ErrorCode.INTERNAL_ERROR, "generation failed: " + error.getMessage());
                }
            }
        };

        Active(InferenceRequest wire, TopicPartition partition, long offset) {
            this.wire = wire;
            this.job = wire.kind() == InferenceRequest.Kind.JOB;
            this.partition = partition;
            this.offset = offset;
            this.replyTopic = wire.replyTo() == null ? null : wire.replyTo().topic();
            Context parent = wire.trace() == null ? Context.root()
                    : propagator.extract(Context.root(), wire.trace(), TRACE_FIELD);
            this.span = tracer.spanBuilder(partition.topic() + " process").setParent(parent)
                    .setSpanKind(SpanKind.CONSUMER).setStartTimestamp(takenEpochNanos, TimeUnit.NANOSECONDS)
                    .setAttribute("messaging.system", "kafka").setAttribute("messaging.destination.name", partition.topic())
                    .setAttribute("messaging.kafka.offset", offset).setAttribute("hyserve.request_id", wire.requestId())
                    .setAttribute("hyserve.worker_id", config.workerId()).startSpan();
        }

        /** Closes the request's span with its phases as children: queue, prefill (to the first token), decode. */
        private void endSpan(long queueNanos, String outcome) {
            long now = System.nanoTime();
            long admitted = takenNanos + queueNanos;
            phase("queue", takenNanos, queueNanos > 0 ? admitted : now);
            if (queueNanos > 0) {
                phase("prefill", admitted, firstTokenNanos > 0 ? firstTokenNanos : now);
            }
            if (firstTokenNanos > 0) {
                phase("decode", firstTokenNanos, lastTokenNanos);
            }
            span.setAttribute("hyserve.outcome", outcome);
            span.end(takenEpochNanos + (now - takenNanos), TimeUnit.NANOSECONDS);
        }

        private void phase(String name, long fromNanos, long toNanos) {
            tracer.spanBuilder(name).setParent(Context.root().with(span))
                    .setStartTimestamp(takenEpochNanos + (fromNanos - takenNanos), TimeUnit.NANOSECONDS).startSpan()
                    .end(takenEpochNanos + (Math.max(fromNanos, toNanos) - takenNanos), TimeUnit.NANOSECONDS);
        }

        long nextSeq() {
            return seq++;
        }

        void grant(int events) {
            subscriber.request(events);
        }

        synchronized void onEvent(TokenEvent event) {
            if (ended) {
                return;
            }
            switch (event) {
                case TokenEvent.Token token -> {
                    long now = System.nanoTime();
                    if (lastTokenNanos == 0) {
                        firstTokenNanos = now;
                        metrics.firstToken(now - takenNanos);
                    } else {
                        metrics.nextToken(now - lastTokenNanos);
                    }
                    lastTokenNanos = now;
                    Logprob logprob = token.logprob() == null ? null : RequestMapping.logprob(token.logprob());
                    if (job) {
                        tokenIds.add(token.tokenId());
                        text.append(token.text());
                        if (logprob != null) {
                            logprobs.add(logprob);
                        }
                    } else {
                        long at = nextSeq();
                        send(StreamEvent.delta(wire.requestId(), at, List.of(token.tokenId()), token.text(),
                                logprob == null ? null : List.of(logprob)));
                        Consumer<Delivery> listener = deliveryListener;
                        if (listener != null) {
                            listener.accept(new Delivery(wire.requestId(), at, System.nanoTime()));
                        }
                    }
                }
                case TokenEvent.Finished finished -> {
                    Usage usage = new Usage(finished.promptTokens(), finished.completionTokens(), finished.cachedTokens());
                    String reason = RequestMapping.finishReason(finished.reason());
                    metrics.finished(reason, System.nanoTime() - takenNanos, finished.queueNanos(),
                            finished.promptTokens(), finished.completionTokens());
                    span.setAttribute("gen_ai.usage.input_tokens", (long) finished.promptTokens())
                            .setAttribute("gen_ai.usage.output_tokens", (long) finished.completionTokens());
                    endSpan(finished.queueNanos(), reason);
                    if (job) {
                        if (revoked) {
                            end();
                            return;
                        }
                        text.append(finished.text());
                        complete(JobStatus.completed(wire.jobId(), wire.requestId(), System.currentTimeMillis(),
                                config.workerId(), new JobStatus.Result(text.toString(), List.copyOf(tokenIds), reason,
                                        usage, wire.sampling() != null && wire.sampling().logprobs() != null
                                                ? List.copyOf(logprobs) : null)));
                    } else {
                        send(StreamEvent.finish(wire.requestId(), nextSeq(), reason, finished.text(), usage));
                    }
                    end();
                }
            }
        }

        /** Ends the request with an error (stream: an error event; job: a failed status). */
        synchronized void fail(ErrorCode code, String message) {
            if (ended) {
                return;
            }
            if (stream != null) {
                stream.cancel();
            }
            span.setStatus(StatusCode.ERROR, message);
            endSpan(0, code.wireName());
            if (job) {
                if (!revoked) {
                    complete(JobStatus.failed(wire.jobId(), wire.requestId(), System.currentTimeMillis(),
                            config.workerId(), new JobStatus.Error(code, message)));
                }
            } else {
                send(StreamEvent.failure(wire.requestId(), nextSeq(), code, message));
            }
            end();
        }

        private void complete(JobStatus status) {
            publisher.publish(new JobPublisher.Outcome(status, replyTopic, () -> {
                sideChannel.markJobFinished(wire.jobId());
                finishedJobs.add(this);
            }, () -> owned.contains(partition) && !revoked));
        }

        private void end() {
            ended = true;
            if (deadline != null) {
                deadline.cancel(false);
            }
            if (stream != null && active.remove(wire.requestId(), this)) {
                inFlight.decrementAndGet();
            }
        }

        void send(StreamEvent event) {
            if (replyTopic == null) {
                return;
            }
            producer.send(new ProducerRecord<>(replyTopic, wire.requestId(), Wire.encode(event)), (metadata, error) -> {
                if (error != null) {
                    log.atWarn().setMessage("stream event not delivered").addKeyValue("requestId", wire.requestId())
                            .addKeyValue("reason", error.getMessage()).log();
                }
            });
        }
    }

    /**
     * The first half of {@link #close()}, which a pod's preStop hook calls so that the stop signal after it finds
     * nothing left to wait for: announces draining, takes nothing new, and returns once running requests have
     * finished or the grace period has ended the rest. Repeated calls wait for the same drain.
     *
     * @return whether the request consumer has let go (false only if it failed to stop in time)
     */
    public boolean drain() {
        if (stopped.getCount() > 0) {
            draining = true;
            heartbeat();
            consumer.wakeup();
        }
        try {
            if (stopped.await(config.shutdownGrace().toMillis() + 30_000, TimeUnit.MILLISECONDS)) {
                return true;
            }
            log.atWarn().setMessage("request consumer did not stop in time").log();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return false;
    }

    /**
     * Graceful stop: announces draining, takes nothing new, lets running requests finish within the grace
     * period, then ends the rest (streams with an error, jobs uncommitted for another worker to run).
     */
    @Override
    public void close() {
        drain();
        closed = true;
        heartbeat();
        timers.shutdownNow();
        publisher.close();
        sideChannel.close();
        producer.close(Duration.ofSeconds(5));
        log.atInfo().setMessage("worker stopped").addKeyValue("workerId", config.workerId()).log();
    }
}
