package io.hyserve.worker;

import io.hyserve.engine.Engine;
import io.hyserve.engine.EngineStats;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * The worker's metrics, named like vLLM's with a {@code hunyuan:} prefix. Latencies are measured on the
 * worker, from the moment it took the request off Kafka.
 */
final class WorkerMetrics {
    private final Timer timeToFirstToken;
    private final Timer interTokenLatency;
    private final Timer endToEnd;
    private final Timer queueTime;
    private final Counter promptTokens;
    private final Counter generationTokens;
    private final Counter finishedStop;
    private final Counter finishedLength;
    private final Counter finishedAbort;

    WorkerMetrics(MeterRegistry registry, Engine engine, java.util.function.DoubleSupplier consumerLag) {
        timeToFirstToken = timer(registry, "hunyuan:time_to_first_token", "Time to first token",
                0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80);
        interTokenLatency = timer(registry, "hunyuan:inter_token_latency", "Time between two tokens of a request",
                0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10);
        endToEnd = timer(registry, "hunyuan:e2e_request_latency", "Time from taking a request to its end",
                0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960);
        queueTime = timer(registry, "hunyuan:request_queue_time", "Time a request waited before its first step",
                0.001, 0.005, 0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 60, 120);
        promptTokens = Counter.builder("hunyuan:prompt_tokens").description("Prompt tokens processed").register(registry);
        generationTokens = Counter.builder("hunyuan:generation_tokens").description("Tokens generated").register(registry);
        finishedStop = finished(registry, "stop");
        finishedLength = finished(registry, "length");
        finishedAbort = finished(registry, "abort");

        gauge(registry, "hunyuan:num_requests_running", "Requests in the running batch", engine, e -> e.stats().running());
        gauge(registry, "hunyuan:num_requests_waiting", "Requests waiting to run", engine, e -> e.stats().waiting());
        gauge(registry, "hunyuan:kv_cache_usage_perc", "Fraction of KV cache blocks in use (0-1)", engine, e -> {
            EngineStats s = e.stats();
            return s.kvBlocksTotal() == 0 ? 0 : (double) s.kvBlocksUsed() / s.kvBlocksTotal();
        });
        gauge(registry, "hunyuan:kv_blocks_used", "KV cache blocks in use", engine, e -> e.stats().kvBlocksUsed());
        gauge(registry, "hunyuan:kv_blocks_free", "KV cache blocks free (or cached and unreferenced)", engine,
                e -> e.stats().kvBlocksFree());
        FunctionCounter.builder("hunyuan:num_preemptions", engine, e -> e.stats().preemptions())
                .description("Requests preempted (recomputed later)").register(registry);
        FunctionCounter.builder("hunyuan:prefix_cache_queries", engine, e -> e.stats().prefixQueryTokens())
                .description("Prompt tokens looked up in the prefix cache").register(registry);
        FunctionCounter.builder("hunyuan:prefix_cache_hits", engine, e -> e.stats().prefixHitTokens())
                .description("Prompt tokens served by the prefix cache").register(registry);
        // Held strongly: Micrometer keeps gauge objects weakly, and nothing else holds this lambda.
        Gauge.builder("hunyuan:kafka_consumer_lag", consumerLag, java.util.function.DoubleSupplier::getAsDouble)
                .strongReference(true)
                .description("Requests waiting in this worker's partitions of the requests topic").register(registry);

        DistributionSummary iterationTokens = DistributionSummary.builder("hunyuan:iteration_tokens")
                .description("Tokens per forward step").serviceLevelObjectives(1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
                .register(registry);
        DistributionSummary iterationSequences = DistributionSummary.builder("hunyuan:iteration_sequences")
                .description("Sequences (batch size) per forward step").serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128, 256)
                .register(registry);
        engine.addStepListener(step -> {
            iterationTokens.record(step.tokens());
            iterationSequences.record(step.sequences());
        });
    }

    private static Timer timer(MeterRegistry registry, String name, String description, double... bucketSeconds) {
        Duration[] buckets = new Duration[bucketSeconds.length];
        for (int i = 0; i < buckets.length; i++) {
            buckets[i] = Duration.ofNanos((long) (bucketSeconds[i] * 1e9));
        }
        return Timer.builder(name).description(description).serviceLevelObjectives(buckets).register(registry);
    }

    private static Counter finished(MeterRegistry registry, String reason) {
        return Counter.builder("hunyuan:request_success").description("Requests finished, by finish reason")
                .tag("finished_reason", reason).register(registry);
    }

    private static void gauge(MeterRegistry registry, String name, String description, Engine engine,
            ToDoubleFunction<Engine> value) {
        Gauge.builder(name, engine, value).description(description).register(registry);
    }

    void firstToken(long sinceTakenNanos) {
        timeToFirstToken.record(sinceTakenNanos, TimeUnit.NANOSECONDS);
    }

    void nextToken(long sincePreviousNanos) {
        interTokenLatency.record(sincePreviousNanos, TimeUnit.NANOSECONDS);
    }

    void finished(String reason, long sinceTakenNanos, long queueNanos, int prompt, int completion) {
        endToEnd.record(sinceTakenNanos, TimeUnit.NANOSECONDS);
        queueTime.record(queueNanos, TimeUnit.NANOSECONDS);
        promptTokens.increment(prompt);
        generationTokens.increment(completion);
        switch (reason) {
            case "stop" -> finishedStop.increment();
            case "length" -> finishedLength.increment();
            default -> finishedAbort.increment();
        }
    }
}
