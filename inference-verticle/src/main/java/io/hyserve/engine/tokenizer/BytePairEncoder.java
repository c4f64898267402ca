package io.hyserve.engine.tokenizer;

import java.util.Arrays;

/**
 * Byte-pair merging of one pre-tokenised piece, in O(n log n) for a piece of n bytes.
 *
 * <p>Same result as {@link BytePairEncoderReference} (repeatedly merge the adjacent pair with the lowest
 * rank, leftmost on ties) but without rescanning every pair after each merge: parts form a linked list
 * over byte offsets, and candidate pairs sit in a binary min-heap keyed by {@code rank << 32 | start}, so
 * ties pop leftmost. A merge only changes the pairs on either side of it; their old heap entries go stale
 * and are skipped when popped ({@code pairRank[start]} no longer matches). A 1 MB run of one letter or
 * 100k spaces stays linearithmic instead of quadratic. Parts are tokens, so a candidate pair is looked up
 * by its two ranks ({@link Vocabulary#mergedRank}) rather than by hashing its bytes.
 *
 * <p>Not thread-safe: one instance per encode call, reusing its scratch arrays across pieces.
 */
final class BytePairEncoder {

    private static final int NO_PAIR = Integer.MAX_VALUE; // pair is not a vocabulary entry
    private static final int MERGED_AWAY = -1; // part no longer starts at this offset

    private final Vocabulary vocabulary;
    private int[] next = new int[64]; // start of the following part, indexed by part start
    private int[] prev = new int[64]; // start of the preceding part
    private int[] pairRank = new int[64]; // rank of (part, following part) merged, NO_PAIR or MERGED_AWAY
    private int[] partRank = new int[64]; // rank of the part itself
    private long[] heap = new long[64]; // rank << 32 | start
    private int heapSize;

    BytePairEncoder(Vocabulary vocabulary) {
        this.vocabulary = vocabulary;
    }

    /** Appends the ranks of {@code piece[0, length)} to {@code out}; the whole piece is tried first. */
    void encode(byte[] piece, int length, IntList out) {
        int whole = vocabulary.rank(piece, 0, length);
        if (whole != Vocabulary.ABSENT) {
            out.add(whole);
            return;
        }
        merge(piece, length, out);
    }

    /** Byte-pair merges {@code piece[0, length)} from single bytes and appends the parts' ranks. */
    void merge(byte[] piece, int length, IntList out) {
        ensureCapacity(length);
        heapSize = 0;
        for (int i = 0; i < length; i++) {
            next[i] = i + 1;
            prev[i] = i - 1;
            partRank[i] = vocabulary.singleByteRank(piece[i] & 0xFF);
            pairRank[i] = NO_PAIR;
        }
        for (int i = 0; i + 1 < length; i++) {
            pairRank[i] = pairRankOf(i, i + 1);
            if (pairRank[i] != NO_PAIR) {
                heap[heapSize++] = (long) pairRank[i] << 32 | i;
            }
        }
        for (int i = heapSize / 2 - 1; i >= 0; i--) {
            siftDown(i, heap[i]); // Floyd's heap construction: O(n) rather than n pushes
        }
        while (heapSize > 0) {
            long top = pop();
            int rank = (int) (top >>> 32);
            int start = (int) top;
            if (pairRank[start] != rank) {
                continue; // stale: a neighbouring merge changed this pair
            }
            int absorbed = next[start];
            int after = next[absorbed];
            next[start] = after;
            if (after < length) {
                prev[after] = start;
            }
            pairRank[absorbed] = MERGED_AWAY;
            partRank[start] = rank;
            pairRank[start] = after < length ? pairRankOf(start, after) : NO_PAIR;
            if (pairRank[start] != NO_PAIR) {
                push((long) pairRank[start] << 32 | start);
            }
            if (start > 0) {
                int before = prev[start];
                pairRank[before] = pairRankOf(before, start);
                if (pairRank[before] != NO_PAIR) {
                    push((long) pairRank[before] << 32 | before);
                }
            }
        }
        for (int i = 0; i < length; i = next[i]) {
            out.add(partRank[i]);
        }
    }

    /** The rank of the parts starting at {@code left} and {@code right} merged, or NO_PAIR. */
    private int pairRankOf(int left, int right) {
        int rank = vocabulary.mergedRank(partRank[left], partRank[right]);
        return rank == Vocabulary.ABSENT ? NO_PAIR : rank;
    }

    private void push(long key) {
        int i = heapSize++;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (heap[parent] <= key) {
                break;
            }
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = key;
    }

    private long pop() {
        long top = heap[0];
        heapSize--;
        if (heapSize > 0) {
            siftDown(0, heap[heapSize]);
        }
        return top;
    }

    /** Places {@code key} at or below index {@code i}, moving smaller children up. */
    private void siftDown(int i, long key) {
        while (true) {
            int child = 2 * i + 1;
            if (child >= heapSize) {
                break;
            }
            if (child + 1 < heapSize && heap[child + 1] < heap[child]) {
                child++;
            }
            if (key <= heap[child]) {
                break;
            }
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = key;
    }

    private void ensureCapacity(int length) {
        if (next.length < length) {
            int capacity = Math.max(length, next.length * 2);
            next = new int[capacity];
            prev = new int[capacity];
            pairRank = new int[capacity];
            partRank = new int[capacity];
        }
        // Each merge pushes at most two entries, and there are fewer than `length` merges.
        if (heap.length < 3 * length) {
            heap = Arrays.copyOf(heap, Math.max(3 * length, heap.length * 2));
        }
    }
}
