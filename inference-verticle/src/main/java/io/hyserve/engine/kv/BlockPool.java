package io.hyserve.engine.kv;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;

/**
 * The blocks of the paged KV pool, reference-counted, with a content-addressed cache of full blocks. A full
 * block is registered under the chain hash of its tokens and its prefix; when no sequence holds it any more it
 * stays cached, ready for a request with the same prefix, until an allocation needs it (least recently
 * released first). A hit is verified against the block's own tokens and its parent's hash, so a hash
 * collision can only cost a miss.
 */
final class BlockPool {
    private final int numBlocks;
    private final int blockSize;
    private final int[] refCount;
    private final long[] hashOf; // valid while cached[block]
    private final long[] parentHashOf;
    private final int[][] tokensOf;
    private final boolean[] cached;
    private final ArrayDeque<Integer> free = new ArrayDeque<>(); // never cached, or dropped from the cache
    private final LinkedHashSet<Integer> evictable = new LinkedHashSet<>(); // cached, unreferenced, oldest first
    private final Map<Long, Integer> byHash = new HashMap<>();

    BlockPool(int numBlocks, int blockSize) {
        this.numBlocks = numBlocks;
        this.blockSize = blockSize;
        this.refCount = new int[numBlocks];
        this.hashOf = new long[numBlocks];
        this.parentHashOf = new long[numBlocks];
        this.tokensOf = new int[numBlocks][];
        this.cached = new boolean[numBlocks];
        for (int block = 0; block < numBlocks; block++) {
            free.addLast(block);
        }
    }

    int numBlocks() {
        return numBlocks;
    }

    /** Blocks an allocation can take now: free ones plus cached ones nobody holds. */
    int allocatable() {
        return free.size() + evictable.size();
    }

    int cachedBlocks() {
        return byHash.size();
    }

    /** A block for new content (evicting the least recently released cached block if needed), or -1. */
    int allocate() {
        Integer block = free.pollFirst();
        if (block == null) {
            if (evictable.isEmpty()) {
                return -1;
            }
            block = evictable.removeFirst();
            uncache(block);
        }
        refCount[block] = 1;
        return block;
    }

    /** Takes a reference to a cached block found by {@link #lookup}. */
    void retain(int block) {
        if (refCount[block]++ == 0) {
            evictable.remove(block);
        }
    }

    void release(int block) {
        if (refCount[block] <= 0) {
            throw new IllegalStateException("block %d released more often than taken".formatted(block));
        }
        if (--refCount[block] == 0) {
            if (cached[block]) {
                evictable.addLast(block);
            } else {
                free.addFirst(block);
            }
        }
    }

    /** The cached block holding exactly {@code tokens[from .. from+blockSize)} after the prefix {@code parentHash}. */
    int lookup(long hash, long parentHash, int[] tokens, int from) {
        Integer block = byHash.get(hash);
        if (block == null || parentHashOf[block] != parentHash
                || !Arrays.equals(tokensOf[block], 0, blockSize, tokens, from, from + blockSize)) {
            return -1;
        }
        return block;
    }

    /** Makes a full, computed block findable; a block with the same content already cached is kept instead. */
    void register(int block, long hash, long parentHash, int[] tokens, int from) {
        if (cached[block] || byHash.containsKey(hash)) {
            return;
        }
        cached[block] = true;
        hashOf[block] = hash;
        parentHashOf[block] = parentHash;
        tokensOf[block] = Arrays.copyOfRange(tokens, from, from + blockSize);
        byHash.put(hash, block);
    }

    private void uncache(int block) {
        byHash.remove(hashOf[block]);
        cached[block] = false;
        tokensOf[block] = null;
    }
}
