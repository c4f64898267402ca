package io.hyserve.engine.kv;

import java.util.Arrays;

/** The block table of one sequence: block {@code i} holds positions {@code i*blockSize ..}. */
public final class SequenceBlocks {
    private final int blockSize;
    private int[] table = new int[0];

    public SequenceBlocks(int blockSize) {
        this.blockSize = blockSize;
    }

    public int[] table() {
        return table;
    }

    public int capacity() {
        return table.length * blockSize;
    }

    /** Grows the table to hold {@code tokens} positions; false (and nothing held) if the pool runs out. */
    public boolean ensureCapacity(int tokens, BlockAllocator allocator) {
        int needed = (tokens + blockSize - 1) / blockSize;
        if (needed <= table.length) {
            return true;
        }
        if (needed - table.length > allocator.freeBlocks()) {
            return false;
        }
        int old = table.length;
        table = Arrays.copyOf(table, needed);
        for (int i = old; i < needed; i++) {
            table[i] = allocator.allocate();
        }
        return true;
    }

    public void release(BlockAllocator allocator) {
        for (int block : table) {
            allocator.free(block);
        }
        table = new int[0];
    }
}
