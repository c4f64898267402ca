package io.hyserve.engine.kv;

import java.util.ArrayDeque;

/** Hands out the block ids of a paged KV pool; lowest ids first so a fresh pool fills front to back. */
public final class BlockAllocator {
    private final int numBlocks;
    private final ArrayDeque<Integer> free = new ArrayDeque<>();

    public BlockAllocator(int numBlocks) {
        this.numBlocks = numBlocks;
        for (int block = 0; block < numBlocks; block++) {
            free.addLast(block);
        }
    }

    public int numBlocks() {
        return numBlocks;
    }

    public int freeBlocks() {
        return free.size();
    }

    /** A free block id, or -1 when the pool is exhausted. */
    public int allocate() {
        Integer block = free.pollFirst();
        return block == null ? -1 : block;
    }

    public void free(int block) {
        if (block < 0 || block >= numBlocks) {
            throw new IllegalArgumentException("block %d is not in a pool of %d".formatted(block, numBlocks));
        }
        free.addFirst(block);
    }
}
