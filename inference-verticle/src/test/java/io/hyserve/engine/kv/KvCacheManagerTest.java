package io.hyserve.engine.kv;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class KvCacheManagerTest {
    private static final int BLOCK = 4;

    private static int[] tokens(int from, int count) {
        return IntStream.range(from, from + count).toArray();
    }

    @Test
    void allocatesWholeBlocksAllOrNothing() {
        KvCacheManager kv = new KvCacheManager(5, BLOCK, true);
        BlockTable a = new BlockTable();
        assertThat(kv.allocate(a, 9)).isTrue(); // 3 blocks
        assertThat(a.size()).isEqualTo(3);
        assertThat(kv.allocate(a, 12)).isTrue(); // still 3
        BlockTable b = new BlockTable();
        assertThat(kv.allocate(b, 12)).isFalse(); // needs 3, 2 left: nothing taken
        assertThat(b.size()).isZero();
        assertThat(kv.freeBlocks()).isEqualTo(2);
        kv.free(a);
        assertThat(kv.freeBlocks()).isEqualTo(5);
        assertThat(kv.usedBlocks()).isZero();
    }

    @Test
    void aSharedPrefixIsServedFromCacheAndNeverTheWholePrompt() {
        KvCacheManager kv = new KvCacheManager(16, BLOCK, true);
        int[] first = tokens(100, 14); // 3 full blocks + 2
        BlockTable a = new BlockTable();
        assertThat(kv.matchPrefix(a, first, first.length)).isZero();
        kv.allocate(a, first.length);
        kv.commitFullBlocks(a, first, first.length);
        int[] second = first.clone();
        second[13] = 7; // same first 13 tokens
        BlockTable b = new BlockTable();
        assertThat(kv.matchPrefix(b, second, second.length)).isEqualTo(12);
        assertThat(b.toArray()).containsExactly(a.block(0), a.block(1), a.block(2));
        assertThat(kv.hitTokens()).isEqualTo(12);
        // A prompt that is entirely cached still leaves its last block to compute.
        BlockTable c = new BlockTable();
        assertThat(kv.matchPrefix(c, first, 12)).isEqualTo(8);
        // A different token inside a block stops the match there.
        int[] third = first.clone();
        third[5] = -1;
        BlockTable d = new BlockTable();
        assertThat(kv.matchPrefix(d, third, third.length)).isEqualTo(4);
    }

    @Test
    void unreferencedCachedBlocksAreEvictedLeastRecentlyReleasedFirst() {
        KvCacheManager kv = new KvCacheManager(4, BLOCK, true);
        int[] old = tokens(0, 8);
        int[] recent = tokens(50, 8);
        BlockTable a = new BlockTable();
        kv.allocate(a, 8);
        kv.commitFullBlocks(a, old, 8);
        kv.free(a);
        BlockTable b = new BlockTable();
        kv.allocate(b, 8);
        kv.commitFullBlocks(b, recent, 8);
        kv.free(b);
        assertThat(kv.cachedBlocks()).isEqualTo(4);
        assertThat(kv.freeBlocks()).isEqualTo(4);
        BlockTable fresh = new BlockTable();
        kv.allocate(fresh, 4); // takes one block: the oldest released, the tail of `old`
        BlockTable probe = new BlockTable();
        assertThat(kv.matchPrefix(probe, recent, 9)).isEqualTo(8);
        kv.free(probe);
        BlockTable probeOld = new BlockTable();
        assertThat(kv.matchPrefix(probeOld, old, 9)).isEqualTo(4); // first block survives, its tail was evicted
    }

    @Test
    void heldBlocksAreNeverEvicted() {
        KvCacheManager kv = new KvCacheManager(2, BLOCK, true);
        int[] prompt = tokens(0, 8);
        BlockTable a = new BlockTable();
        kv.allocate(a, 8);
        kv.commitFullBlocks(a, prompt, 8);
        BlockTable b = new BlockTable();
        assertThat(kv.allocate(b, 1)).isFalse();
        kv.free(a);
        assertThat(kv.allocate(b, 1)).isTrue();
    }

    @Test
    void withoutPrefixCachingNothingIsShared() {
        KvCacheManager kv = new KvCacheManager(8, BLOCK, false);
        int[] prompt = tokens(0, 12);
        BlockTable a = new BlockTable();
        kv.allocate(a, 12);
        kv.commitFullBlocks(a, prompt, 12);
        BlockTable b = new BlockTable();
        assertThat(kv.matchPrefix(b, prompt, 12)).isZero();
        assertThat(kv.cachedBlocks()).isZero();
    }
}
