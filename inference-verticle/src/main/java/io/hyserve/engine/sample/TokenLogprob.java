package io.hyserve.engine.sample;

import java.util.List;

/**
 * Log-probability of a chosen token under the model's raw distribution (before penalties, temperature or
 * truncation, as vLLM reports by default), with the top alternatives, best first.
 */
public record TokenLogprob(int tokenId, float logprob, List<Alternative> top) {
    public record Alternative(int tokenId, float logprob) {}

    /** Computes the chosen token's logprob and the {@code topN} best from one row of logits, (vocab). */
    public static TokenLogprob of(float[] logits, int token, int topN) {
        float max = Float.NEGATIVE_INFINITY;
        for (float logit : logits) {
            max = Math.max(max, logit);
        }
        double sum = 0;
        for (float logit : logits) {
            sum += Math.exp(logit - max);
        }
        double logZ = max + Math.log(sum);
        List<Alternative> top = List.of();
        if (topN > 0) {
            int[] best = TopSelection.top(logits, null, logits.length, topN);
            Alternative[] alternatives = new Alternative[best.length];
            for (int i = 0; i < best.length; i++) {
                alternatives[i] = new Alternative(best[i], (float) (logits[best[i]] - logZ));
            }
            top = List.of(alternatives);
        }
        return new TokenLogprob(token, (float) (logits[token] - logZ), top);
    }
}
