package io.hyserve.engine.kv;

/**
 * Paged KV memory for sequences: grows block tables, frees them, and (with prefix caching) lets a new
 * sequence start from cached blocks of a matching prefix. One block holds {@code blockSize} positions of
 * every KV-owning layer, so CLA groups share blocks by construction. Engine thread only.
 */
public final class KvCacheManager {
    private static final long ROOT_HASH = 0x6A09E667F3BCC908L;

    private final BlockPool pool;
    private final int blockSize;
    private final boolean prefixCaching;
    private long queryTokens;
    private long hitTokens;

    public KvCacheManager(int numBlocks, int blockSize, boolean prefixCaching) {
        this.pool = new BlockPool(numBlocks, blockSize);
        this.blockSize = blockSize;
        this.prefixCaching = prefixCaching;
    }

    public int blockSize() {
        return blockSize;
    }

    public int numBlocks() {
        return pool.numBlocks();
    }

    /** Blocks that new tokens can use now (free, or cached and unreferenced). */
    public int freeBlocks() {
        return pool.allocatable();
    }

    public int usedBlocks() {
        return pool.numBlocks() - pool.allocatable();
    }

    /** Blocks findable by prefix, held or not. */
    public int cachedBlocks() {
        return pool.cachedBlocks();
    }

    /** Prompt tokens looked up in the prefix cache so far. */
    public long queryTokens() {
        return queryTokens;
    }

    /** Of those, tokens found cached (not recomputed). */
    public long hitTokens() {
        return hitTokens;
    }

    /**
     * Starts an empty table from the cached blocks that hold the longest prefix of {@code tokens[0..count)},
     * in whole blocks, always leaving at least one token to compute (its logits are needed). Returns the
     * number of tokens covered.
     */
    public int matchPrefix(BlockTable table, int[] tokens, int count) {
        if (table.size() != 0) {
            throw new IllegalStateException("prefix matching needs an empty block table");
        }
        queryTokens += count;
        if (!prefixCaching) {
            return 0;
        }
        long parent = ROOT_HASH;
        int matched = 0;
        while ((matched + 1) * blockSize < count) { // strictly: a fully cached prompt still recomputes its last block
            int from = matched * blockSize;
            long hash = chain(parent, tokens, from);
            int block = pool.lookup(hash, parent, tokens, from);
            if (block < 0) {
                break;
            }
            pool.retain(block);
            table.add(block);
            table.addHash(hash);
            parent = hash;
            matched++;
        }
        hitTokens += (long) matched * blockSize;
        return matched * blockSize;
    }

    /** Grows {@code table} to hold {@code tokens} positions; all or nothing. */
    public boolean allocate(BlockTable table, int tokens) {
        int needed = (tokens + blockSize - 1) / blockSize - table.size();
        if (needed <= 0) {
            return true;
        }
        if (needed > pool.allocatable()) {
            return false;
        }
        for (int i = 0; i < needed; i++) {
            table.add(pool.allocate());
        }
        return true;
    }

    /** Registers the table's blocks that are full and computed ({@code computed} tokens) in the prefix cache. */
    public void commitFullBlocks(BlockTable table, int[] tokens, int computed) {
        if (!prefixCaching) {
            return;
        }
        int full = Math.min(computed / blockSize, table.size());
        for (int i = table.hashedBlocks(); i < full; i++) {
            long parent = i == 0 ? ROOT_HASH : table.hash(i - 1);
            long hash = chain(parent, tokens, i * blockSize);
            pool.register(table.block(i), hash, parent, tokens, i * blockSize);
            table.addHash(hash);
        }
    }

    /** Returns every block of the table; the tail goes first so a prefix outlives its continuations in the cache. */
    public void free(BlockTable table) {
        for (int i = table.size() - 1; i >= 0; i--) {
            pool.release(table.block(i));
        }
        table.clear();
    }

    /** Chain hash of one block: its tokens mixed into the hash of everything before it. */
    private long chain(long parent, int[] tokens, int from) {
        long h = parent;
        for (int i = from; i < from + blockSize; i++) {
            h = mix(h ^ tokens[i]);
        }
        return mix(h ^ blockSize);
    }

    /** SplitMix64's finaliser: every input bit affects every output bit. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
