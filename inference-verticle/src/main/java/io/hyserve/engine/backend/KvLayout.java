package io.hyserve.engine.backend;

/**
 * Shape of a paged KV pool: {@code numBlocks} blocks of {@code blockSize} token slots, each slot holding
 * K and V of {@code numKvHeads × headDim} floats for every KV-owning layer (CLA followers own none).
 */
public record KvLayout(int numBlocks, int blockSize, int numKvLayers, int numKvHeads, int headDim) {
    public KvLayout {
        if (numBlocks <= 0 || blockSize <= 0 || numKvLayers <= 0 || numKvHeads <= 0 || headDim <= 0) {
            throw new IllegalArgumentException("KV layout dimensions must be positive: " + this);
        }
    }

    /** Bytes one token occupies across all KV-owning layers (K and V, float32). */
    public long bytesPerToken() {
        return 2L * numKvLayers * numKvHeads * headDim * Float.BYTES;
    }

    public long totalBytes() {
        return bytesPerToken() * numBlocks * blockSize;
    }

    /** Number of blocks a budget of {@code bytes} holds (at least one). */
    public static int blocksFor(long bytes, int blockSize, int numKvLayers, int numKvHeads, int headDim) {
        long perBlock = 2L * numKvLayers * numKvHeads * headDim * Float.BYTES * blockSize;
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, bytes / perBlock));
    }
}
