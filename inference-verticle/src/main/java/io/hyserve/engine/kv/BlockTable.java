package io.hyserve.engine.kv;

import java.util.Arrays;

/**
 * The KV blocks of one sequence in position order: block {@code i} holds positions
 * {@code i*blockSize ..}. Also remembers the chain hashes of its leading full blocks that are registered in
 * the prefix cache.
 */
public final class BlockTable {
    private int[] blocks = new int[8];
    private int size;
    private long[] hashes = new long[8]; // (hashedBlocks) chain hash of each registered full block
    private int hashedBlocks;

    public int size() {
        return size;
    }

    public int block(int index) {
        return blocks[index];
    }

    /** A copy for a step layout. */
    public int[] toArray() {
        return Arrays.copyOf(blocks, size);
    }

    void add(int block) {
        if (size == blocks.length) {
            blocks = Arrays.copyOf(blocks, size * 2);
        }
        blocks[size++] = block;
    }

    int hashedBlocks() {
        return hashedBlocks;
    }

    long hash(int index) {
        return hashes[index];
    }

    void addHash(long hash) {
        if (hashedBlocks == hashes.length) {
            hashes = Arrays.copyOf(hashes, hashedBlocks * 2);
        }
        hashes[hashedBlocks++] = hash;
    }

    void clear() {
        size = 0;
        hashedBlocks = 0;
    }
}
