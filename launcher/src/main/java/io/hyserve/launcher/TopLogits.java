package io.hyserve.launcher;

import java.util.Arrays;

/** Ids of the largest logits, best first, ties to the lower id. */
final class TopLogits {
    private TopLogits() {}

    static int[] of(float[] logits, int count) {
        Integer[] order = new Integer[logits.length];
        Arrays.setAll(order, i -> i);
        Arrays.sort(order, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
        return Arrays.stream(order, 0, Math.min(count, logits.length)).mapToInt(Integer::intValue).toArray();
    }
}
