package io.hyserve.engine;

import io.hyserve.engine.backend.Backend;
import io.hyserve.engine.backend.KvLayout;
import io.hyserve.engine.backend.cpu.CpuBackend;
import io.hyserve.engine.backend.cuda.CudaBackend;
import io.hyserve.engine.kv.KvCacheManager;
import io.hyserve.engine.model.HunyuanConfig;
import io.hyserve.engine.model.HunyuanModel;
import io.hyserve.engine.model.LoadProgress;
import io.hyserve.engine.sample.GenerationDefaults;
import io.hyserve.engine.sample.Sampling;
import io.hyserve.engine.sample.SamplingParams;
import io.hyserve.engine.tokenizer.HyTokenizer;
import io.hyserve.kernels.Gpu;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;
import reactor.util.concurrent.Queues;

/**
 * The engine API: requests in, a stream of token events out, cancel. It owns the model, the tokenizer and
 * one engine thread that runs every forward step; callers never block it.
 */
public final class Engine implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Engine.class);
    /** Events the hand-off to the consumer's thread takes from the request's buffer at a time. */
    private static final int STREAM_PREFETCH = 32;

    private final EngineConfig config;
    private final Backend backend;
    private final HunyuanModel model;
    private final HyTokenizer tokenizer;
    private final PromptEncoder promptEncoder;
    private final GenerationDefaults defaults;
    private final int maxModelLength;
    private final int kvCapacityTokens;
    private final EngineLoop loop;
    private final Thread engineThread;
    private volatile boolean closed;

    private Engine(EngineConfig config, Backend backend, HunyuanModel model, HyTokenizer tokenizer) {
        this.config = config;
        this.backend = backend;
        this.model = model;
        this.tokenizer = tokenizer;
        this.defaults = GenerationDefaults.load(config.modelDirectory(), config.tokenizerDirectory());
        HunyuanConfig shape = model.config();
        this.maxModelLength = config.maxModelLength() > 0
                ? Math.min(config.maxModelLength(), shape.maxPositionEmbeddings())
                : shape.maxPositionEmbeddings();
        int poolBlocks = KvLayout.blocksFor(config.kvCacheBytes(), config.blockSize(), shape.numKvLayers(),
                shape.numKeyValueHeads(), shape.headDim());
        KvCacheManager cache = new KvCacheManager(poolBlocks, config.blockSize(), config.prefixCaching());
        this.kvCapacityTokens = poolBlocks * config.blockSize();
        this.promptEncoder = new PromptEncoder(tokenizer, config.tokenizerDirectory());
        this.loop = new EngineLoop(model, cache, config.maxNumSeqs(), config.maxNumBatchedTokens());
        this.engineThread = Thread.ofPlatform().name("hyserve-engine").unstarted(loop);
        log.atInfo().setMessage("engine ready")
                .addKeyValue("backend", backend.name())
                .addKeyValue("maxModelLength", maxModelLength)
                .addKeyValue("kvCacheTokens", kvCapacityTokens)
                .addKeyValue("kvBytesPerToken", new KvLayout(1, 1, shape.numKvLayers(), shape.numKeyValueHeads(),
                        shape.headDim()).bytesPerToken())
                .addKeyValue("maxNumSeqs", config.maxNumSeqs())
                .addKeyValue("maxNumBatchedTokens", config.maxNumBatchedTokens())
                .addKeyValue("prefixCaching", config.prefixCaching())
                .addKeyValue("generationDefaults", defaults.source())
                .log();
    }

    /** Loads the model and tokenizer named by {@code config} and starts the engine thread. */
    public static Engine start(EngineConfig config, LoadProgress progress) {
        HyTokenizer tokenizer;
        try {
            tokenizer = HyTokenizer.load(config.tokenizerDirectory());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the tokenizer in %s: %s"
                    .formatted(config.tokenizerDirectory(), e.getMessage()), e);
        }
        Backend backend = createBackend(config);
        try {
            HunyuanModel model = HunyuanModel.load(config.modelDirectory(), backend, progress);
            Engine engine = new Engine(config, backend, model, tokenizer);
            engine.engineThread.start();
            return engine;
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
    }

    private static Backend createBackend(EngineConfig config) {
        return switch (config.device()) {
            case "cpu" -> CpuBackend.vector(config.threads(), config.residentWeights());
            case "cpu-scalar" -> CpuBackend.scalar(config.threads());
            case "cuda" -> CudaBackend.open(0, false, config.cudaLibraryPath());
            case "cuda-bf16" -> CudaBackend.open(0, true, config.cudaLibraryPath());
            case "auto" -> {
                Gpu.Availability gpu = Gpu.availability();
                if (gpu.available()) {
                    yield CudaBackend.open(0, false, config.cudaLibraryPath());
                }
                log.atInfo().setMessage("device auto: no usable GPU, running on the CPU backend")
                        .addKeyValue("reason", gpu.reason()).log();
                yield CpuBackend.vector(config.threads(), config.residentWeights());
            }
            default -> throw new IllegalArgumentException(
                    "unknown device '%s'; expected auto, cuda, cuda-bf16, cpu or cpu-scalar".formatted(config.device()));
        };
    }

    public EngineConfig config() {
        return config;
    }

    public HyTokenizer tokenizer() {
        return tokenizer;
    }

    public String backendName() {
        return backend.name();
    }

    public HunyuanConfig modelConfig() {
        return model.config();
    }

    public GenerationDefaults generationDefaults() {
        return defaults;
    }

    public int maxModelLength() {
        return maxModelLength;
    }

    /**
     * Tokens the prompt becomes: text gets {@code <|startoftext|>} prepended, chat goes through the template.
     *
     * @throws InvalidRequestException if the chat template rejects the messages
     */
    public int[] promptIds(Prompt prompt) {
        return promptEncoder.encode(prompt);
    }

    /**
     * Validates and queues a generation. Throws {@link InvalidRequestException} for a request that cannot
     * run (bad parameters, empty or too long prompt, ids outside the vocabulary).
     */
    public GenerationStream submit(GenerationRequest request) {
        ensureOpen();
        try {
            request.sampling().validate();
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(e.getMessage(), e);
        }
        int[] prompt = promptIds(request.prompt());
        validatePrompt(prompt);
        Sampling sampling = defaults.resolve(request.sampling(), maxModelLength - prompt.length);
        for (int id : sampling.logitBias().keySet()) {
            if (id >= model.config().vocabSize()) {
                throw new InvalidRequestException("logit_bias token id %d is outside the vocabulary [0, %d)"
                        .formatted(id, model.config().vocabSize()));
            }
        }
        for (int id : sampling.stopTokenIds()) {
            if (id >= model.config().vocabSize()) {
                throw new InvalidRequestException("stop token id %d is outside the vocabulary [0, %d)"
                        .formatted(id, model.config().vocabSize()));
            }
        }
        Sinks.Many<TokenEvent> sink = Sinks.many().unicast()
                .onBackpressureBuffer(Queues.<TokenEvent>get(config.streamBufferEvents()).get());
        AtomicBoolean cancelled = new AtomicBoolean();
        Generation generation = new Generation(request.requestId(), prompt, sampling, sink, cancelled, tokenizer,
                model.config().vocabSize(), null);
        if (sampling.maxTokens() == 0) {
            generation.finish(FinishReason.LENGTH);
        } else {
            loop.submit(generation);
        }
        // Events reach the consumer on another thread, so a slow consumer never runs on the engine thread. Errors
        // are not delayed behind queued events: an overflow must reach a consumer that stopped requesting.
        return new GenerationStream(request.requestId(), prompt,
                sink.asFlux().publishOn(Schedulers.boundedElastic(), false, STREAM_PREFETCH), cancelled);
    }

    /** Logits of the prompt's last position, (vocab): a scoring pass with no generation. */
    public CompletableFuture<float[]> lastLogits(int[] promptIds) {
        ensureOpen();
        validatePrompt(promptIds);
        CompletableFuture<float[]> result = new CompletableFuture<>();
        Sampling greedy = defaults.resolve(SamplingParams.builder().temperature(0.0).build(), 1);
        loop.submit(new Generation("score-" + UUID.randomUUID(), promptIds.clone(), greedy,
                Sinks.many().unicast().onBackpressureBuffer(), new AtomicBoolean(), tokenizer,
                model.config().vocabSize(), result));
        return result;
    }

    /** Scheduler and KV cache figures as of the last step. */
    public EngineStats stats() {
        return loop.stats();
    }

    /** Calls {@code listener} on the engine thread after every forward step; it must return quickly. */
    public void addStepListener(Consumer<StepStats> listener) {
        loop.addStepListener(listener);
    }

    private void validatePrompt(int[] prompt) {
        if (prompt.length == 0) {
            throw new InvalidRequestException("the prompt is empty");
        }
        if (prompt.length >= maxModelLength) {
            throw new InvalidRequestException("the prompt has %d tokens; this model's context is %d tokens"
                    .formatted(prompt.length, maxModelLength));
        }
        if (prompt.length > kvCapacityTokens) {
            throw new InvalidRequestException("the prompt has %d tokens; the KV cache holds %d"
                    .formatted(prompt.length, kvCapacityTokens));
        }
        int vocab = model.config().vocabSize();
        for (int id : prompt) {
            if (id < 0 || id >= vocab) {
                throw new InvalidRequestException("token id %d is outside the vocabulary [0, %d)".formatted(id, vocab));
            }
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the engine is closed");
        }
    }

    /** Stops after the step in progress (pending requests end with ABORT) and frees the model and memory. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        loop.close();
        engineThread.interrupt();
        try {
            engineThread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        loop.closeKv();
        model.close();
        backend.close();
    }
}
