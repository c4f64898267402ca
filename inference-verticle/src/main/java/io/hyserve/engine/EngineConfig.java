package io.hyserve.engine;

import java.nio.file.Path;
import java.util.Objects;

/**
 * How an engine is built.
 *
 * @param modelDirectory HunYuan checkpoint folder (config.json + safetensors)
 * @param tokenizerDirectory folder with hy.tiktoken and tokenizer_config.json
 * @param device {@code cpu} (Vector API kernels) or {@code cpu-scalar} (their plain twin)
 * @param threads CPU worker threads for the kernels
 * @param kvCacheBytes memory budget of the paged KV pool
 * @param blockSize token positions per KV block
 * @param maxPrefillChunk prompt tokens processed per forward step
 * @param maxModelLength context limit in tokens; 0 takes the model's max_position_embeddings
 */
public record EngineConfig(
        Path modelDirectory,
        Path tokenizerDirectory,
        String device,
        int threads,
        long kvCacheBytes,
        int blockSize,
        int maxPrefillChunk,
        int maxModelLength) {

    public static final long DEFAULT_KV_CACHE_BYTES = 2L << 30;
    public static final int DEFAULT_BLOCK_SIZE = 16;
    public static final int DEFAULT_MAX_PREFILL_CHUNK = 512;

    public EngineConfig {
        Objects.requireNonNull(modelDirectory, "modelDirectory");
        Objects.requireNonNull(tokenizerDirectory, "tokenizerDirectory");
        Objects.requireNonNull(device, "device");
        if (threads <= 0 || kvCacheBytes <= 0 || blockSize <= 0 || maxPrefillChunk <= 0 || maxModelLength < 0) {
            throw new IllegalArgumentException("engine limits must be positive: " + this);
        }
    }

    /** Defaults for everything but the two folders. */
    public static EngineConfig of(Path modelDirectory, Path tokenizerDirectory) {
        return new EngineConfig(modelDirectory, tokenizerDirectory, "cpu", Runtime.getRuntime().availableProcessors(),
                DEFAULT_KV_CACHE_BYTES, DEFAULT_BLOCK_SIZE, DEFAULT_MAX_PREFILL_CHUNK, 0);
    }

    public EngineConfig withDevice(String value) {
        return new EngineConfig(modelDirectory, tokenizerDirectory, value, threads, kvCacheBytes, blockSize,
                maxPrefillChunk, maxModelLength);
    }

    public EngineConfig withThreads(int value) {
        return new EngineConfig(modelDirectory, tokenizerDirectory, device, value, kvCacheBytes, blockSize,
                maxPrefillChunk, maxModelLength);
    }

    public EngineConfig withKvCacheBytes(long value) {
        return new EngineConfig(modelDirectory, tokenizerDirectory, device, threads, value, blockSize,
                maxPrefillChunk, maxModelLength);
    }

    public EngineConfig withMaxPrefillChunk(int value) {
        return new EngineConfig(modelDirectory, tokenizerDirectory, device, threads, kvCacheBytes, blockSize,
                value, maxModelLength);
    }
}
