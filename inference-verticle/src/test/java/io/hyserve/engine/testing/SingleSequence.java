package io.hyserve.engine.testing;

import io.hyserve.engine.backend.KvStorage;
import io.hyserve.engine.backend.StepLayout;
import io.hyserve.engine.kv.BlockTable;
import io.hyserve.engine.kv.KvCacheManager;
import io.hyserve.engine.model.ForwardObserver;
import io.hyserve.engine.model.HunyuanModel;
import java.util.Arrays;

/** Drives one sequence through a model step by step, the way the engine does, for numeric tests. */
public final class SingleSequence implements AutoCloseable {
    public static final int BLOCK_SIZE = 16;

    private final HunyuanModel model;
    private final KvStorage kv;
    private final KvCacheManager cache;
    private final BlockTable blocks = new BlockTable();
    private int length;

    public SingleSequence(HunyuanModel model, int maxTokens) {
        this.model = model;
        int numBlocks = (maxTokens + BLOCK_SIZE - 1) / BLOCK_SIZE;
        this.kv = model.allocateKv(numBlocks, BLOCK_SIZE);
        this.cache = new KvCacheManager(numBlocks, BLOCK_SIZE, false);
    }

    /** Appends {@code ids}; returns logits (ids.length, vocab) for every appended position. */
    public float[] appendAll(int[] ids, ForwardObserver observer) {
        int[] rows = new int[ids.length];
        Arrays.setAll(rows, i -> i);
        return append(ids, rows, observer);
    }

    /** Appends {@code ids}; returns the logits of the last appended position. */
    public float[] appendLast(int... ids) {
        return append(ids, new int[] {ids.length - 1}, ForwardObserver.NONE);
    }

    private float[] append(int[] ids, int[] logitRows, ForwardObserver observer) {
        if (!cache.allocate(blocks, length + ids.length)) {
            throw new IllegalStateException("KV pool too small");
        }
        int[] positions = new int[ids.length];
        Arrays.setAll(positions, i -> length + i);
        StepLayout step = StepLayout.of(positions, new int[ids.length], new int[][] {blocks.toArray()}, BLOCK_SIZE);
        float[] logits = model.forward(ids, step, kv, logitRows, observer);
        length += ids.length;
        return logits;
    }

    @Override
    public void close() {
        kv.close();
    }
}
