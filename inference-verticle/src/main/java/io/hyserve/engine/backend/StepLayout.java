package io.hyserve.engine.backend;

/**
 * Where the tokens of one forward step belong. Token {@code t} is at absolute {@code positions[t]} of
 * sequence {@code tokenSequence[t]}; its K/V go to pool slot {@code slots[t]}
 * ({@code block * blockSize + offset}); it attends to its own sequence's positions {@code 0..positions[t]},
 * found through {@code blockTables[tokenSequence[t]]}. Sequences never see each other.
 */
public record StepLayout(int[] positions, int[] tokenSequence, int[] slots, int[][] blockTables, int blockSize) {

    public int numTokens() {
        return positions.length;
    }

    /** Floating-point operations of causal attention over this step: QK^T and PV, a multiply-add counting two. */
    public long attentionFlops(int heads, int headDim) {
        long multiplyAdds = 0;
        for (int position : positions) {
            multiplyAdds += (long) (position + 1) * headDim * heads * 2;
        }
        return 2 * multiplyAdds;
    }

    /** Builds the layout of tokens appended to sequences whose block tables already cover them. */
    public static StepLayout of(int[] positions, int[] tokenSequence, int[][] blockTables, int blockSize) {
        int[] slots = new int[positions.length];
        for (int t = 0; t < positions.length; t++) {
            int[] table = blockTables[tokenSequence[t]];
            int block = positions[t] / blockSize;
            if (block >= table.length) {
                throw new IllegalArgumentException("position %d of sequence %d is beyond its %d blocks"
                        .formatted(positions[t], tokenSequence[t], table.length));
            }
            slots[t] = table[block] * blockSize + positions[t] % blockSize;
        }
        return new StepLayout(positions, tokenSequence, slots, blockTables, blockSize);
    }
}
