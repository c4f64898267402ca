package io.hyserve.engine;

import io.hyserve.engine.backend.KvStorage;
import io.hyserve.engine.backend.StepLayout;
import io.hyserve.engine.kv.BlockAllocator;
import io.hyserve.engine.kv.SequenceBlocks;
import io.hyserve.engine.model.HunyuanModel;
import java.util.Arrays;
import java.util.function.BooleanSupplier;

/** Runs forward steps of sequences over one model and its paged KV pool. Engine thread only. */
final class ModelRunner implements AutoCloseable {
    private final HunyuanModel model;
    private final KvStorage kv;
    private final BlockAllocator allocator;
    private final int blockSize;

    ModelRunner(HunyuanModel model, int numBlocks, int blockSize) {
        this.model = model;
        this.kv = model.allocateKv(numBlocks, blockSize);
        this.allocator = new BlockAllocator(numBlocks);
        this.blockSize = blockSize;
    }

    int blockSize() {
        return blockSize;
    }

    int capacityTokens() {
        return allocator.numBlocks() * blockSize;
    }

    SequenceBlocks newSequence() {
        return new SequenceBlocks(blockSize);
    }

    void release(SequenceBlocks blocks) {
        blocks.release(allocator);
    }

    /**
     * Runs the prompt through the model {@code chunk} tokens per step and returns the logits of its last
     * position, or null if {@code cancelled} turned true between steps.
     */
    float[] prefill(SequenceBlocks blocks, int[] prompt, int chunk, BooleanSupplier cancelled) {
        float[] logits = null;
        for (int start = 0; start < prompt.length; start += chunk) {
            if (cancelled.getAsBoolean()) {
                return null;
            }
            logits = append(blocks, start, Arrays.copyOfRange(prompt, start, Math.min(prompt.length, start + chunk)));
        }
        return logits;
    }

    /**
     * Appends {@code ids} at positions {@code start..} of the sequence and returns the logits of its last
     * position, (vocab).
     */
    float[] append(SequenceBlocks blocks, int start, int[] ids) {
        if (!blocks.ensureCapacity(start + ids.length, allocator)) {
            throw new IllegalStateException("the KV cache (%d tokens) cannot hold %d tokens"
                    .formatted(capacityTokens(), start + ids.length));
        }
        int[] positions = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            positions[i] = start + i;
        }
        StepLayout step = StepLayout.of(positions, new int[ids.length], new int[][] {blocks.table()}, blockSize);
        return model.forward(ids, step, kv, new int[] {ids.length - 1});
    }

    @Override
    public void close() {
        kv.close();
    }
}
