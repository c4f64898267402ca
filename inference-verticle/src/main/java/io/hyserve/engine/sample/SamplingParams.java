package io.hyserve.engine.sample;

import java.util.List;
import java.util.Map;

/**
 * What a request asks of sampling and stopping. A null field is "unset": the model's
 * {@code generation_config.json} defaults fill it in (see {@link GenerationDefaults#resolve}).
 *
 * @param temperature 0 means greedy (argmax, lowest id on ties)
 * @param topK 0 or -1 disables
 * @param logprobs number of top alternatives to report with each token's logprob (0 = only its own)
 */
public record SamplingParams(
        Double temperature,
        Integer topK,
        Double topP,
        Double minP,
        Double repetitionPenalty,
        Double presencePenalty,
        Double frequencyPenalty,
        Long seed,
        Integer maxTokens,
        List<String> stop,
        List<Integer> stopTokenIds,
        Boolean ignoreEos,
        Integer logprobs,
        Boolean skipSpecialTokens,
        Map<Integer, Double> logitBias) {

    public static final int MAX_LOGPROBS = 20;
    /** OpenAI's range for a logit bias. */
    public static final double MAX_LOGIT_BIAS = 100;

    public SamplingParams {
        stop = stop == null ? List.of() : List.copyOf(stop);
        stopTokenIds = stopTokenIds == null ? List.of() : List.copyOf(stopTokenIds);
        logitBias = logitBias == null ? Map.of() : Map.copyOf(logitBias);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Checks ranges; the message names the parameter (it becomes a 400 error over HTTP). */
    public void validate() {
        check(temperature == null || (temperature >= 0 && Double.isFinite(temperature)), "temperature must be >= 0");
        check(topK == null || topK >= -1, "top_k must be -1, 0 (disabled) or positive");
        check(topP == null || (topP > 0 && topP <= 1), "top_p must be in (0, 1]");
        check(minP == null || (minP >= 0 && minP <= 1), "min_p must be in [0, 1]");
        check(repetitionPenalty == null || (repetitionPenalty > 0 && Double.isFinite(repetitionPenalty)),
                "repetition_penalty must be > 0");
        check(presencePenalty == null || (presencePenalty >= -2 && presencePenalty <= 2),
                "presence_penalty must be in [-2, 2]");
        check(frequencyPenalty == null || (frequencyPenalty >= -2 && frequencyPenalty <= 2),
                "frequency_penalty must be in [-2, 2]");
        check(maxTokens == null || maxTokens >= 0, "max_tokens must be >= 0");
        check(logprobs == null || (logprobs >= 0 && logprobs <= MAX_LOGPROBS),
                "logprobs must be in [0, " + MAX_LOGPROBS + "]");
        for (String s : stop) {
            check(s != null && !s.isEmpty(), "stop strings must be non-empty");
        }
        for (Integer id : stopTokenIds) {
            check(id != null && id >= 0, "stop_token_ids must be non-negative");
        }
        for (Map.Entry<Integer, Double> bias : logitBias.entrySet()) {
            check(bias.getKey() >= 0, "logit_bias keys must be token ids");
            check(Math.abs(bias.getValue()) <= MAX_LOGIT_BIAS, "logit_bias values must be in [-100, 100]");
        }
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /** Fluent construction with every field unset. */
    public static final class Builder {
        private Double temperature;
        private Integer topK;
        private Double topP;
        private Double minP;
        private Double repetitionPenalty;
        private Double presencePenalty;
        private Double frequencyPenalty;
        private Long seed;
        private Integer maxTokens;
        private List<String> stop;
        private List<Integer> stopTokenIds;
        private Boolean ignoreEos;
        private Integer logprobs;
        private Boolean skipSpecialTokens;
        private Map<Integer, Double> logitBias;

        public Builder temperature(Double v) { temperature = v; return this; }
        public Builder topK(Integer v) { topK = v; return this; }
        public Builder topP(Double v) { topP = v; return this; }
        public Builder minP(Double v) { minP = v; return this; }
        public Builder repetitionPenalty(Double v) { repetitionPenalty = v; return this; }
        public Builder presencePenalty(Double v) { presencePenalty = v; return this; }
        public Builder frequencyPenalty(Double v) { frequencyPenalty = v; return this; }
        public Builder seed(Long v) { seed = v; return this; }
        public Builder maxTokens(Integer v) { maxTokens = v; return this; }
        public Builder stop(List<String> v) { stop = v; return this; }
        public Builder stopTokenIds(List<Integer> v) { stopTokenIds = v; return this; }
        public Builder ignoreEos(Boolean v) { ignoreEos = v; return this; }
        public Builder logprobs(Integer v) { logprobs = v; return this; }
        public Builder skipSpecialTokens(Boolean v) { skipSpecialTokens = v; return this; }
        public Builder logitBias(Map<Integer, Double> v) { logitBias = v; return this; }

        public SamplingParams build() {
            return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty,
                    frequencyPenalty, seed, maxTokens, stop, stopTokenIds, ignoreEos, logprobs, skipSpecialTokens, logitBias);
        }
    }
}
