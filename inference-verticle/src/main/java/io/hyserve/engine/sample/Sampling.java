package io.hyserve.engine.sample;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Fully resolved sampling and stopping for one request; no field is unset.
 *
 * @param temperature 0 = greedy
 * @param topK 0 = off
 * @param topP 1 = off
 * @param minP 0 = off
 * @param repetitionPenalty 1 = off (HF semantics, over prompt and output)
 * @param maxTokens upper bound on generated tokens (the context length may end a sequence sooner)
 * @param stopTokenIds ids that end generation and are not part of the output
 * @param logprobs -1 = none, else how many top alternatives to report
 * @param logitBias added to the logits of those ids before anything else (OpenAI {@code logit_bias})
 */
public record Sampling(
        double temperature,
        int topK,
        double topP,
        double minP,
        double repetitionPenalty,
        double presencePenalty,
        double frequencyPenalty,
        long seed,
        int maxTokens,
        List<String> stop,
        Set<Integer> stopTokenIds,
        int logprobs,
        boolean skipSpecialTokens,
        Map<Integer, Double> logitBias) {

    public boolean greedy() {
        return temperature == 0;
    }
}
