package io.hyserve.engine.bench;

import io.hyserve.engine.Engine;
import io.hyserve.engine.EngineConfig;
import io.hyserve.engine.GenerationRequest;
import io.hyserve.engine.Prompt;
import io.hyserve.engine.StepStats;
import io.hyserve.engine.TokenEvent;
import io.hyserve.engine.model.LoadProgress;
import io.hyserve.engine.sample.SamplingParams;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import reactor.core.publisher.Flux;

/**
 * Measures the real serving path (engine, scheduler, forward pass) on a checkpoint: prefill speed, batch-1
 * decode against the machine's triad bandwidth, and output throughput at several concurrencies against the
 * roofline of each step (weight bytes the step actually read ÷ bandwidth, or its FLOPs ÷ the measured peak
 * of our own matmul, whichever is slower). Machine figures are measured in the same run.
 */
public final class ModelBench {
    /** Prompt length of each request in the concurrency runs (distinct random prompts, no prefix hits). */
    public static final int LOAD_PROMPT_TOKENS = 128;

    public record Options(Path model, Path tokenizer, int threads, int promptTokens, int decodeTokens,
            List<Integer> concurrency) {}

    /** Batch-1 decode: tokens/s, weight bytes one decode step reads, and that traffic over the triad. */
    public record Decode(double tokensPerSecond, long weightBytesPerToken, double bandwidthFraction) {
        /** The same traffic over the read-only bandwidth. */
        public double fractionOf(double bytesPerSecond) {
            return weightBytesPerToken * tokensPerSecond / bytesPerSecond;
        }
    }

    /**
     * One concurrency level: output speed, batch shape and the share of the roofline bound achieved, over all steps
     * and split into the steps that carry prompt chunks and the decode-only ones.
     */
    public record Load(int concurrency, int outputTokens, double outputTokensPerSecond, double meanSequencesPerStep,
            double meanTokensPerStep, Share prefillSteps, Share decodeSteps) {
        public double boundSeconds() {
            return prefillSteps.boundSeconds() + decodeSteps.boundSeconds();
        }

        public double stepSeconds() {
            return prefillSteps.seconds() + decodeSteps.seconds();
        }

        public double fractionOfBound() {
            return boundSeconds() / stepSeconds();
        }
    }

    /** Steps' roofline bound against the time they took. */
    public record Share(double boundSeconds, double seconds) {
        public double fraction() {
            return seconds == 0 ? 0 : boundSeconds / seconds;
        }
    }

    public record Result(String backend, double triadBytesPerSecond, double readBytesPerSecond,
            double matmulFlopsPerSecond, int promptTokens,
            double prefillTokensPerSecond, Decode decode, List<Load> loads) {}

    private ModelBench() {}

    public static Result run(Options options) {
        int maxConcurrency = options.concurrency().stream().mapToInt(Integer::intValue).max().orElse(1);
        EngineConfig config = EngineConfig.builder(options.model(), options.tokenizer())
                .threads(options.threads())
                .maxNumSeqs(Math.max(maxConcurrency, 1))
                .maxNumBatchedTokens(Math.max(options.promptTokens(), EngineConfig.DEFAULT_MAX_NUM_BATCHED_TOKENS))
                .prefixCaching(false)
                .build();
        try (Engine engine = Engine.start(config, LoadProgress.NONE)) {
            List<StepStats> steps = new CopyOnWriteArrayList<>();
            engine.addStepListener(steps::add);
            SplittableRandom random = new SplittableRandom(42);
            // Warm-up: compiles the kernels for single and batched shapes; a long prefill visits every expert.
            generate(engine, List.of(randomPrompt(random, options.promptTokens())), 16);
            List<int[]> warmBatch = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                warmBatch.add(randomPrompt(random, 32));
            }
            generate(engine, warmBatch, 16);

            double triad = MemoryBandwidth.triad(options.threads(), 1 << 26, 5);
            double read = MemoryBandwidth.read(options.threads(), 1 << 26, 5);
            double peak = MatmulPeak.measure(options.threads(), engine.modelConfig().hiddenSize());

            steps.clear();
            generate(engine, List.of(randomPrompt(random, options.promptTokens())), 1);
            double prefillSeconds = steps.stream().mapToLong(StepStats::nanos).sum() / 1e9;

            record Run(int concurrency, int outputTokens, double seconds, List<StepStats> steps) {}
            List<Run> runs = new ArrayList<>();
            for (int concurrency : options.concurrency()) {
                // The roofs again before every run: this machine's bandwidth drifts, the highest figure is used.
                triad = Math.max(triad, MemoryBandwidth.triad(options.threads(), 1 << 26, 5));
                read = Math.max(read, MemoryBandwidth.read(options.threads(), 1 << 26, 5));
                peak = Math.max(peak, MatmulPeak.measure(options.threads(), engine.modelConfig().hiddenSize()));
                List<int[]> prompts = new ArrayList<>();
                for (int i = 0; i < concurrency; i++) {
                    prompts.add(randomPrompt(random, LOAD_PROMPT_TOKENS));
                }
                steps.clear();
                long started = System.nanoTime();
                int outputTokens = generate(engine, prompts, options.decodeTokens());
                runs.add(new Run(concurrency, outputTokens, (System.nanoTime() - started) / 1e9, List.copyOf(steps)));
            }
            // Roofs measured again after the runs; the highest figures (the strictest bound) are used.
            triad = Math.max(triad, MemoryBandwidth.triad(options.threads(), 1 << 26, 5));
            read = Math.max(read, MemoryBandwidth.read(options.threads(), 1 << 26, 5));
            peak = Math.max(peak, MatmulPeak.measure(options.threads(), engine.modelConfig().hiddenSize()));
            List<Load> loads = new ArrayList<>();
            Decode decode = null;
            for (Run run : runs) {
                loads.add(load(run.concurrency(), run.outputTokens(), run.seconds(), run.steps(), triad, peak));
                if (run.concurrency() == 1) {
                    decode = decode(run.steps(), triad);
                }
            }
            return new Result(engine.backendName(), triad, read, peak, options.promptTokens(),
                    options.promptTokens() / prefillSeconds, decode, loads);
        }
    }

    private static int[] randomPrompt(SplittableRandom random, int length) {
        return random.ints(length, 0, 127957).toArray();
    }

    /** Runs the prompts concurrently to exactly {@code maxTokens} greedy tokens each; returns tokens generated. */
    private static int generate(Engine engine, List<int[]> prompts, int maxTokens) {
        SamplingParams greedy = SamplingParams.builder().temperature(0.0).maxTokens(maxTokens).ignoreEos(true).build();
        List<Flux<TokenEvent>> streams = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            streams.add(engine.submit(new GenerationRequest("bench-" + i, Prompt.tokens(prompts.get(i)), greedy)).events());
        }
        Long tokens = Flux.merge(streams).filter(TokenEvent.Token.class::isInstance).count().block();
        return tokens == null ? 0 : tokens.intValue();
    }

    private static Load load(int concurrency, int outputTokens, double seconds, List<StepStats> steps, double triad,
            double peak) {
        double[] bound = new double[2];
        double[] actual = new double[2];
        long sequences = 0;
        long tokens = 0;
        for (StepStats step : steps) {
            // More tokens than sequences: the step carries prompt chunks (one of a single token goes uncounted).
            int phase = step.tokens() > step.sequences() ? 0 : 1;
            bound[phase] += Math.max(step.weightBytes() / triad, step.flops() / peak);
            actual[phase] += step.nanos() / 1e9;
            sequences += step.sequences();
            tokens += step.tokens();
        }
        return new Load(concurrency, outputTokens, outputTokens / seconds, (double) sequences / steps.size(),
                (double) tokens / steps.size(), new Share(bound[0], actual[0]), new Share(bound[1], actual[1]));
    }

    /** Figures of the single-sequence decode steps (one token each) of a concurrency-1 run. */
    private static Decode decode(List<StepStats> steps, double triad) {
        List<StepStats> decodeSteps = steps.stream().filter(s -> s.tokens() == 1).toList();
        double seconds = decodeSteps.stream().mapToLong(StepStats::nanos).sum() / 1e9;
        long bytes = decodeSteps.stream().mapToLong(StepStats::weightBytes).sum() / Math.max(1, decodeSteps.size());
        double tokensPerSecond = decodeSteps.size() / seconds;
        return new Decode(tokensPerSecond, bytes, bytes * tokensPerSecond / triad);
    }
}
