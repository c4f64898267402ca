package io.hyserve.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hyserve.engine.model.LoadProgress;
import io.hyserve.engine.sample.SamplingParams;
import io.hyserve.engine.testing.Fixtures;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;

/**
 * The engine serving many requests at once: batched output equals sequential output (with chunked
 * prefill, preemption and prefix caching in play), aborts return the pool, slow consumers are cut off.
 */
class ContinuousBatchingTest {
    private static final Duration TIMEOUT = Duration.ofMinutes(2);

    private static Engine start(EngineConfig.Builder config) {
        return Engine.start(config.build(), LoadProgress.NONE);
    }

    private static EngineConfig.Builder config(String model) {
        return EngineConfig.builder(Fixtures.model(model), Fixtures.tokenizer()).threads(2);
    }

    /** A request: prompt, how many tokens, and optionally a seed for sampling (else greedy). */
    private record Job(int[] prompt, int maxTokens, Long seed) {
        SamplingParams params() {
            SamplingParams.Builder b = SamplingParams.builder().maxTokens(maxTokens).ignoreEos(true);
            return seed == null ? b.temperature(0.0).build() : b.temperature(0.9).topP(0.9).seed(seed).build();
        }
    }

    private static List<Job> jobs(long seed, int count, int maxPrompt, int maxTokens) {
        SplittableRandom random = new SplittableRandom(seed);
        List<Job> jobs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int length = 1 + random.nextInt(maxPrompt);
            int[] prompt = random.ints(length, 0, 127957).toArray();
            jobs.add(new Job(prompt, 1 + random.nextInt(maxTokens), i % 5 == 4 ? (Long) random.nextLong() : null));
        }
        return jobs;
    }

    private static Flux<Integer> ids(Engine engine, String id, Job job) {
        return engine.submit(new GenerationRequest(id, Prompt.tokens(job.prompt()), job.params())).events()
                .ofType(TokenEvent.Token.class).map(TokenEvent.Token::tokenId);
    }

    private static List<List<Integer>> oneAtATime(Engine engine, List<Job> jobs) {
        List<List<Integer>> outputs = new ArrayList<>();
        for (int i = 0; i < jobs.size(); i++) {
            outputs.add(ids(engine, "seq-" + i, jobs.get(i)).collectList().block(TIMEOUT));
        }
        return outputs;
    }

    private static List<List<Integer>> allAtOnce(Engine engine, List<Job> jobs) {
        List<CompletableFuture<List<Integer>>> futures = new ArrayList<>();
        for (int i = 0; i < jobs.size(); i++) {
            futures.add(ids(engine, "batch-" + i, jobs.get(i)).collectList().toFuture());
        }
        return futures.stream().map(f -> f.orTimeout(TIMEOUT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS).join())
                .toList();
    }

    @ParameterizedTest
    @ValueSource(strings = {Fixtures.F32_MODEL, Fixtures.BF16_MODEL})
    void sixtyFourConcurrentRequestsGiveExactlyTheSequentialTokens(String model) {
        List<Job> jobs = jobs(11, 64, 300, 24);
        List<List<Integer>> sequential;
        try (Engine engine = start(config(model))) {
            sequential = oneAtATime(engine, jobs);
        }
        try (Engine engine = start(config(model).maxNumSeqs(64).maxNumBatchedTokens(256))) {
            AtomicInteger widest = new AtomicInteger();
            engine.addStepListener(step -> widest.accumulateAndGet(step.sequences(), Math::max));
            List<List<Integer>> batched = allAtOnce(engine, jobs);
            for (int i = 0; i < jobs.size(); i++) {
                assertThat(batched.get(i)).as("request %d", i).isEqualTo(sequential.get(i))
                        .hasSize(jobs.get(i).maxTokens());
            }
            assertThat(widest.get()).as("requests sharing one step").isGreaterThan(16);
            assertThat(engine.stats().meanTokensPerStep()).isGreaterThan(8);
        }
    }

    @Test
    void preemptionUnderASmallPoolLeavesEveryOutputUnchanged() {
        List<Job> jobs = jobs(12, 16, 100, 60);
        List<List<Integer>> sequential;
        try (Engine engine = start(config(Fixtures.BF16_MODEL))) {
            sequential = oneAtATime(engine, jobs);
        }
        // 512 B of KV per token: 40 blocks of 16 tokens hold about four of these requests at once.
        EngineConfig.Builder small = config(Fixtures.BF16_MODEL).kvCacheBytes(40 * 16 * 512).maxNumSeqs(16)
                .maxNumBatchedTokens(128);
        try (Engine engine = start(small)) {
            assertThat(engine.stats().kvBlocksTotal()).isEqualTo(40);
            List<List<Integer>> batched = allAtOnce(engine, jobs);
            for (int i = 0; i < jobs.size(); i++) {
                assertThat(batched.get(i)).as("request %d", i).isEqualTo(sequential.get(i));
            }
            assertThat(engine.stats().preemptions()).isPositive();
            awaitIdle(engine);
            assertThat(engine.stats().kvBlocksUsed()).isZero();
        }
    }

    @Test
    void aSharedPrefixIsPrefilledOnceAndGivesTheColdOutput() {
        SplittableRandom random = new SplittableRandom(13);
        int[] prefix = random.ints(256, 0, 127957).toArray();
        Job first = new Job(concat(prefix, random.ints(40, 0, 127957).toArray()), 8, null);
        Job second = new Job(concat(prefix, random.ints(23, 0, 127957).toArray()), 16, null);
        List<Integer> cold;
        try (Engine engine = start(config(Fixtures.BF16_MODEL).prefixCaching(false))) {
            cold = ids(engine, "cold", second).collectList().block(TIMEOUT);
        }
        try (Engine engine = start(config(Fixtures.BF16_MODEL))) {
            ids(engine, "first", first).blockLast(TIMEOUT);
            long hitsBefore = engine.stats().prefixHitTokens();
            List<StepStats> steps = new CopyOnWriteArrayList<>();
            engine.addStepListener(steps::add);
            List<TokenEvent> events = engine.submit(new GenerationRequest("second", Prompt.tokens(second.prompt()),
                    second.params())).events().collectList().block(TIMEOUT);
            assertThat(events.stream().filter(TokenEvent.Token.class::isInstance)
                    .map(e -> ((TokenEvent.Token) e).tokenId()).toList()).isEqualTo(cold);
            assertThat(engine.stats().prefixHitTokens() - hitsBefore).isEqualTo(256);
            assertThat(((TokenEvent.Finished) events.getLast()).cachedTokens()).isEqualTo(256);
            // Only the suffix is computed for the prompt: 23 tokens, then one per generated token.
            assertThat(steps.getFirst().tokens()).isEqualTo(23);
        }
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void abortingInEveryStateReturnsThePoolToItsInitialFreeCount() {
        EngineConfig.Builder cfg = config(Fixtures.BF16_MODEL).maxNumSeqs(2).maxNumBatchedTokens(32)
                .prefixCaching(false);
        try (Engine engine = start(cfg)) {
            int total = engine.stats().kvBlocksTotal();
            assertThat(engine.stats().kvBlocksFree()).isEqualTo(total);
            SplittableRandom random = new SplittableRandom(14);
            SamplingParams endless = SamplingParams.builder().temperature(0.0).maxTokens(3000).ignoreEos(true).build();
            // Decoding: cancelled after its third token.
            GenerationStream decoding = engine.submit(new GenerationRequest("decoding",
                    Prompt.tokens(random.ints(20, 0, 127957).toArray()), endless));
            // Prefilling: a 600-token prompt takes many 32-token steps; cancelled once it is under way.
            GenerationStream prefilling = engine.submit(new GenerationRequest("prefilling",
                    Prompt.tokens(random.ints(600, 0, 127957).toArray()), endless));
            // Waiting: the sequence cap of two keeps it queued.
            GenerationStream waiting = engine.submit(new GenerationRequest("waiting",
                    Prompt.tokens(random.ints(30, 0, 127957).toArray()), endless));
            AtomicInteger steps = new AtomicInteger();
            engine.addStepListener(step -> {
                if (steps.incrementAndGet() == 3) {
                    prefilling.cancel();
                    waiting.cancel();
                }
            });
            List<TokenEvent> decoded = decoding.events().take(3).collectList().block(TIMEOUT);
            assertThat(decoded).hasSize(3);
            assertThat(lastEvent(prefilling)).isEqualTo(FinishReason.ABORT);
            assertThat(lastEvent(waiting)).isEqualTo(FinishReason.ABORT);
            awaitIdle(engine);
            assertThat(engine.stats().kvBlocksFree()).isEqualTo(total);
            assertThat(engine.stats().kvBlocksUsed()).isZero();
            assertThat(engine.stats().running()).isZero();
            assertThat(engine.stats().waiting()).isZero();
        }
    }

    private static FinishReason lastEvent(GenerationStream stream) {
        TokenEvent last = stream.events().blockLast(TIMEOUT);
        return ((TokenEvent.Finished) last).reason();
    }

    /** Stats are published after a step's events go out: wait for the engine to settle. */
    private static EngineStats awaitStats(Engine engine, java.util.function.Predicate<EngineStats> condition) {
        for (int i = 0; i < 500 && !condition.test(engine.stats()); i++) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return engine.stats();
    }

    private static void awaitIdle(Engine engine) {
        awaitStats(engine, s -> s.running() == 0 && s.waiting() == 0 && s.kvBlocksUsed() == 0);
    }

    @Test
    void aConsumerThatStopsReadingIsCancelledWithoutHoldingUpOthers() throws InterruptedException {
        EngineConfig.Builder cfg = config(Fixtures.BF16_MODEL).streamBufferEvents(8).prefixCaching(false);
        try (Engine engine = start(cfg)) {
            SamplingParams longRun = SamplingParams.builder().temperature(0.0).maxTokens(2000).ignoreEos(true).build();
            GenerationStream stalled = engine.submit(new GenerationRequest("stalled", Prompt.tokens(1, 2, 3), longRun));
            AtomicReference<Throwable> error = new AtomicReference<>();
            AtomicReference<Subscription> subscription = new AtomicReference<>();
            stalled.events().subscribe(new BaseSubscriber<>() {
                @Override
                protected void hookOnSubscribe(Subscription s) {
                    subscription.set(s);
                    s.request(1); // then never again, until the end of the test
                }

                @Override
                protected void hookOnError(Throwable throwable) {
                    error.set(throwable);
                }
            });
            // Another request is served to completion meanwhile.
            List<Integer> other = ids(engine, "other", new Job(new int[] {5, 6, 7}, 40, null)).collectList()
                    .block(TIMEOUT);
            assertThat(other).hasSize(40);
            awaitIdle(engine);
            assertThat(engine.stats().running()).isZero();
            assertThat(engine.stats().kvBlocksUsed()).isZero();
            subscription.get().request(Long.MAX_VALUE);
            // The error travels through a scheduler thread: on a loaded machine that can take a while.
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (error.get() == null && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(error.get()).isInstanceOf(StreamOverflowException.class)
                    .hasMessageContaining("stalled").hasMessageContaining("stopped reading");
        }
    }

    @Test
    void statsDescribeTheSchedulerAndCache() {
        try (Engine engine = start(config(Fixtures.BF16_MODEL))) {
            EngineStats before = engine.stats();
            assertThat(before.kvBlocksTotal()).isPositive();
            assertThat(before.kvBlockSize()).isEqualTo(EngineConfig.DEFAULT_BLOCK_SIZE);
            ids(engine, "one", new Job(new int[] {1, 2, 3, 4}, 5, null)).blockLast(TIMEOUT);
            EngineStats after = awaitStats(engine, s -> s.steps() == 5 && s.running() == 0);
            assertThat(after.steps()).isEqualTo(5);
            assertThat(after.stepTokens()).isEqualTo(4 + 4);
            assertThat(after.prefixQueryTokens()).isEqualTo(4);
            assertThat(after.lastStepSequences()).isEqualTo(1);
        }
    }

    @Test
    void aRequestSubmittedToAClosedEngineIsRefused() {
        Engine engine = start(config(Fixtures.BF16_MODEL));
        engine.close();
        assertThatThrownBy(() -> engine.submit(new GenerationRequest("late", Prompt.tokens(1), null)))
                .isInstanceOf(IllegalStateException.class);
    }
}
