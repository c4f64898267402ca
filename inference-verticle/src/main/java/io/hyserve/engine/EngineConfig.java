package io.hyserve.engine;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * How an engine is built.
 *
 * @param modelDirectory HunYuan checkpoint folder (config.json + safetensors)
 * @param tokenizerDirectory folder with hy.tiktoken and tokenizer_config.json
 * @param device {@code cpu} (Vector API kernels), {@code cpu-scalar} (their plain twin), {@code cuda} (GPU 0) or
 *     {@code auto} (the GPU when one is usable, else the CPU)
 * @param threads CPU worker threads for the kernels
 * @param kvCacheBytes memory budget of the paged KV pool
 * @param blockSize token positions per KV block
 * @param maxNumSeqs most requests running at once (the rest wait, first come first served)
 * @param maxNumBatchedTokens most tokens in one forward step (decode tokens plus prefill chunks)
 * @param maxModelLength context limit in tokens; 0 takes the model's max_position_embeddings
 * @param prefixCaching reuse cached KV blocks of a matching prompt prefix
 * @param streamBufferEvents events buffered per request for a consumer that is not reading; beyond that the
 *     request is cancelled
 * @param residentWeights copy weights into aligned, huge-page memory at load (fastest, RAM the size of the
 *     weights); false reads them in place from the memory-mapped checkpoint
 * @param cudaLibraryPath folders searched first for the CUDA libraries that are not part of the driver (cuBLASLt
 *     13, which {@code cuda-bf16} runs the output projection on); empty: the dynamic loader's search path only
 */
public record EngineConfig(
        Path modelDirectory,
        Path tokenizerDirectory,
        String device,
        int threads,
        long kvCacheBytes,
        int blockSize,
        int maxNumSeqs,
        int maxNumBatchedTokens,
        int maxModelLength,
        boolean prefixCaching,
        int streamBufferEvents,
        boolean residentWeights,
        List<Path> cudaLibraryPath) {

    public static final long DEFAULT_KV_CACHE_BYTES = 2L << 30;
    public static final int DEFAULT_BLOCK_SIZE = 16;
    public static final int DEFAULT_MAX_NUM_SEQS = 64;
    public static final int DEFAULT_MAX_NUM_BATCHED_TOKENS = 512;
    public static final int DEFAULT_STREAM_BUFFER_EVENTS = 4096;

    public EngineConfig {
        Objects.requireNonNull(modelDirectory, "modelDirectory");
        Objects.requireNonNull(tokenizerDirectory, "tokenizerDirectory");
        Objects.requireNonNull(device, "device");
        cudaLibraryPath = List.copyOf(Objects.requireNonNull(cudaLibraryPath, "cudaLibraryPath"));
        if (threads <= 0 || kvCacheBytes <= 0 || blockSize <= 0 || maxNumSeqs <= 0 || maxNumBatchedTokens <= 0
                || maxModelLength < 0 || streamBufferEvents <= 0) {
            throw new IllegalArgumentException("engine limits must be positive: " + this);
        }
    }

    /** Defaults for everything but the two folders. */
    public static EngineConfig of(Path modelDirectory, Path tokenizerDirectory) {
        return builder(modelDirectory, tokenizerDirectory).build();
    }

    public static Builder builder(Path modelDirectory, Path tokenizerDirectory) {
        return new Builder(modelDirectory, tokenizerDirectory);
    }

    public Builder toBuilder() {
        return new Builder(modelDirectory, tokenizerDirectory).device(device).threads(threads)
                .kvCacheBytes(kvCacheBytes).blockSize(blockSize).maxNumSeqs(maxNumSeqs)
                .maxNumBatchedTokens(maxNumBatchedTokens).maxModelLength(maxModelLength).prefixCaching(prefixCaching)
                .streamBufferEvents(streamBufferEvents).residentWeights(residentWeights)
                .cudaLibraryPath(cudaLibraryPath);
    }

    /** Starts from the documented defaults; {@link #build()} validates. */
    public static final class Builder {
        private final Path modelDirectory;
        private final Path tokenizerDirectory;
        private String device = "cpu";
        private int threads = Runtime.getRuntime().availableProcessors();
        private long kvCacheBytes = DEFAULT_KV_CACHE_BYTES;
        private int blockSize = DEFAULT_BLOCK_SIZE;
        private int maxNumSeqs = DEFAULT_MAX_NUM_SEQS;
        private int maxNumBatchedTokens = DEFAULT_MAX_NUM_BATCHED_TOKENS;
        private int maxModelLength;
        private boolean prefixCaching = true;
        private int streamBufferEvents = DEFAULT_STREAM_BUFFER_EVENTS;
        private boolean residentWeights = true;
        private List<Path> cudaLibraryPath = List.of();

        private Builder(Path modelDirectory, Path tokenizerDirectory) {
            this.modelDirectory = modelDirectory;
            this.tokenizerDirectory = tokenizerDirectory;
        }

        public Builder device(String value) {
            device = value;
            return this;
        }

        public Builder threads(int value) {
            threads = value;
            return this;
        }

        public Builder kvCacheBytes(long value) {
            kvCacheBytes = value;
            return this;
        }

        public Builder blockSize(int value) {
            blockSize = value;
            return this;
        }

        public Builder maxNumSeqs(int value) {
            maxNumSeqs = value;
            return this;
        }

        public Builder maxNumBatchedTokens(int value) {
            maxNumBatchedTokens = value;
            return this;
        }

        public Builder maxModelLength(int value) {
            maxModelLength = value;
            return this;
        }

        public Builder prefixCaching(boolean value) {
            prefixCaching = value;
            return this;
        }

        public Builder streamBufferEvents(int value) {
            streamBufferEvents = value;
            return this;
        }

        public Builder residentWeights(boolean value) {
            residentWeights = value;
            return this;
        }

        public Builder cudaLibraryPath(List<Path> value) {
            cudaLibraryPath = value;
            return this;
        }

        public EngineConfig build() {
            return new EngineConfig(modelDirectory, tokenizerDirectory, device, threads, kvCacheBytes, blockSize,
                    maxNumSeqs, maxNumBatchedTokens, maxModelLength, prefixCaching, streamBufferEvents,
                    residentWeights, cudaLibraryPath);
        }
    }
}
