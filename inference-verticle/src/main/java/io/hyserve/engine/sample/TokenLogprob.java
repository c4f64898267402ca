package io.hyserve.engine.sample;

import java.util.List;

/**
 * Log-probability of a chosen token under the model's raw distribution (before penalties, temperature or
 * truncation, as vLLM reports by default), with the top alternatives, best first.
 */
public record TokenLogprob(int tokenId, float logprob, List<Alternative> top) {
    public record Alternative(int tokenId, float logprob) {}

    /** Computes the chosen token's logprob and the {@code topN} best from one row of logits. */
    public static TokenLogprob of(float[] logits, int offset, int vocab, int token, int topN) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[offset + i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(logits[offset + i] - max);
        }
        double logZ = max + Math.log(sum);
        List<Alternative> top = List.of();
        if (topN > 0) {
            float[] row = offset == 0 && logits.length == vocab ? logits : java.util.Arrays.copyOfRange(logits, offset, offset + vocab);
            int[] best = TopSelection.top(row, null, vocab, topN);
            Alternative[] alternatives = new Alternative[best.length];
            for (int i = 0; i < best.length; i++) {
                alternatives[i] = new Alternative(best[i], (float) (row[best[i]] - logZ));
            }
            top = List.of(alternatives);
        }
        return new TokenLogprob(token, (float) (logits[offset + token] - logZ), top);
    }
}
