package io.hyserve.launcher;

import io.hyserve.engine.Engine;
import io.hyserve.engine.EngineConfig;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** Options shared by the commands that load a model. */
final class EngineOptions {
    @Option(names = "--model", paramLabel = "DIR",
            description = "HunYuan checkpoint folder (default: the bundled random-weight tiny model)")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "DIR",
            description = "Folder with hy.tiktoken (default: the model folder if it has one, else the bundled tokenizer)")
    Path tokenizer;

    @Option(names = "--device", defaultValue = "cpu", description = "auto, cuda, cuda-bf16, cpu or cpu-scalar; cuda-bf16 runs products with BF16 weights on bf16 tensor cores; auto takes the GPU (cuda) when one is usable (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--threads", description = "CPU kernel threads (default: all cores)")
    Integer threads;

    @Option(names = "--kv-cache-bytes", description = "KV cache budget in bytes (default: 2 GiB)")
    Long kvCacheBytes;

    @Option(names = "--max-num-seqs", description = "Most requests running at once (default: 64)")
    Integer maxNumSeqs;

    @Option(names = "--max-num-batched-tokens", description = "Most tokens per forward step (default: 512)")
    Integer maxNumBatchedTokens;

    @Option(names = "--no-prefix-caching", description = "Do not reuse cached KV blocks of matching prompt prefixes")
    boolean noPrefixCaching;

    @Option(names = "--cuda-library-path", paramLabel = "DIR[:DIR...]", split = ":",
            description = "Folders searched first for CUDA libraries that are not part of the driver (cuBLASLt 13 "
                    + "for cuda-bf16's output projection), e.g. PyTorch's nvidia/cu13/lib (default: the dynamic "
                    + "loader's path only)")
    List<Path> cudaLibraryPath = List.of();

    @Option(names = "--mapped-weights",
            description = "Read weights in place from the memory-mapped checkpoint instead of copying them into "
                    + "aligned huge-page memory (less RAM, slower)")
    boolean mappedWeights;

    Path modelDirectory() {
        return model != null ? model : ProjectHome.bundledModel();
    }

    Path tokenizerDirectory() {
        return tokenizer != null ? tokenizer : ProjectHome.tokenizerFor(modelDirectory());
    }

    Engine startEngine() {
        return Engine.start(engineConfig(), new LoadProgressLog(modelDirectory()));
    }

    EngineConfig engineConfig() {
        EngineConfig.Builder config = EngineConfig.builder(modelDirectory(), tokenizerDirectory()).device(device)
                .prefixCaching(!noPrefixCaching).residentWeights(!mappedWeights).cudaLibraryPath(cudaLibraryPath);
        if (threads != null) {
            config.threads(threads);
        }
        if (kvCacheBytes != null) {
            config.kvCacheBytes(kvCacheBytes);
        }
        if (maxNumSeqs != null) {
            config.maxNumSeqs(maxNumSeqs);
        }
        if (maxNumBatchedTokens != null) {
            config.maxNumBatchedTokens(maxNumBatchedTokens);
        }
        return config.build();
    }
}
