package io.hyserve.engine.sample;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SamplerTest {
    private static Sampling sampling(double temperature, int topK, double topP, double minP, double repetition,
            double presence, double frequency, long seed) {
        return new Sampling(temperature, topK, topP, minP, repetition, presence, frequency, seed, 100, List.of(), Set.of(),
                -1, true, Map.of());
    }

    private static Sampling greedy() {
        return sampling(0, 0, 1, 0, 1, 0, 0, 1);
    }

    @Test
    void greedyTakesTheLowestIdOnExactTies() {
        Sampler sampler = new Sampler(greedy(), new int[0], 5);
        assertThat(sampler.next(new float[] {1, 3, 2, 3, 0}, 0)).isEqualTo(1);
        assertThat(sampler.next(new float[] {9, 9, 1, 3, 3, 7, 7}, 2)).isEqualTo(3);
    }

    @Test
    void repetitionPenaltyFollowsTransformers() {
        // id 0 seen with a positive logit is divided, id 1 seen with a negative logit is multiplied.
        Sampler sampler = new Sampler(sampling(0, 0, 1, 0, 2.0, 0, 0, 1), new int[] {0, 1}, 3);
        assertThat(sampler.next(new float[] {3.0f, -0.5f, 1.6f}, 0)).isEqualTo(2); // 1.5 vs -1.0 vs 1.6
        Sampler unseen = new Sampler(sampling(0, 0, 1, 0, 2.0, 0, 0, 1), new int[] {1}, 3);
        assertThat(unseen.next(new float[] {3.0f, -0.5f, 1.6f}, 0)).isEqualTo(0);
    }

    @Test
    void presenceAndFrequencyPenaltiesCountOnlyOutputTokens() {
        Sampler sampler = new Sampler(sampling(0, 0, 1, 0, 1, 0.5, 1.0, 1), new int[] {0}, 2);
        float[] logits = {2.0f, 1.0f};
        assertThat(sampler.next(logits, 0)).isEqualTo(0); // prompt tokens are not penalised
        assertThat(sampler.next(logits, 0)).isEqualTo(1); // 2 - 0.5 - 1 = 0.5 < 1
        assertThat(sampler.next(logits, 0)).isEqualTo(0); // 1 - 1.5 = -0.5 < 0.5
    }

    @Test
    void sameSeedSameTokensDifferentSeedDifferentTokens() {
        float[] logits = new float[1000];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) Math.sin(i) * 2;
        }
        int[] a = draw(sampling(1, 0, 1, 0, 1, 0, 0, 42), logits, 50);
        int[] b = draw(sampling(1, 0, 1, 0, 1, 0, 0, 42), logits, 50);
        int[] c = draw(sampling(1, 0, 1, 0, 1, 0, 0, 43), logits, 50);
        assertThat(a).containsExactly(b);
        assertThat(a).isNotEqualTo(c);
    }

    private static int[] draw(Sampling s, float[] logits, int n) {
        Sampler sampler = new Sampler(s, new int[0], logits.length);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = sampler.next(logits, 0);
        }
        return out;
    }

    @Test
    void temperatureSamplingFollowsTheSoftmax() {
        float[] logits = {0f, (float) Math.log(2), (float) Math.log(7)}; // probabilities 0.1, 0.2, 0.7
        int[] counts = histogram(sampling(1, 0, 1, 0, 1, 0, 0, 5), logits, 20000);
        assertThat(counts[0] / 20000.0).isCloseTo(0.1, within(0.015));
        assertThat(counts[1] / 20000.0).isCloseTo(0.2, within(0.015));
        assertThat(counts[2] / 20000.0).isCloseTo(0.7, within(0.015));
        int[] cold = histogram(sampling(0.5, 0, 1, 0, 1, 0, 0, 5), logits, 20000); // squares the odds: 1 : 4 : 49
        assertThat(cold[2] / 20000.0).isCloseTo(49 / 54.0, within(0.015));
    }

    private static int[] histogram(Sampling s, float[] logits, int n) {
        int[] counts = new int[logits.length];
        for (int id : draw(s, logits, n)) {
            counts[id]++;
        }
        return counts;
    }

    @Test
    void topKKeepsTiesWithTheKthValue() {
        float[] logits = {5, 1, 4, 4, 3};
        Map<Integer, Integer> seen = new HashMap<>();
        for (int id : draw(sampling(1, 2, 1, 0, 1, 0, 0, 9), logits, 3000)) {
            seen.merge(id, 1, Integer::sum);
        }
        assertThat(seen.keySet()).containsExactlyInAnyOrder(0, 2, 3);
    }

    @Test
    void topPKeepsTokensWhileTheBetterMassIsBelowP() {
        float[] logits = {(float) Math.log(5), (float) Math.log(3), (float) Math.log(2)}; // 0.5, 0.3, 0.2
        assertThat(histogram(sampling(1, 0, 0.5, 0, 1, 0, 0, 3), logits, 2000)).containsExactly(2000, 0, 0);
        int[] two = histogram(sampling(1, 0, 0.6, 0, 1, 0, 0, 3), logits, 4000);
        assertThat(two[2]).isZero();
        assertThat(two[1] / 4000.0).isCloseTo(0.375, within(0.03));
        assertThat(histogram(sampling(1, 0, 0.81, 0, 1, 0, 0, 3), logits, 4000)[2]).isPositive();
    }

    @Test
    void topPOverTheWholeVocabularyFindsTheNucleusBeyondTheProbe() {
        float[] flat = new float[3000]; // uniform: the nucleus needs far more than the first 1024 tokens
        Map<Integer, Integer> seen = new HashMap<>();
        for (int id : draw(sampling(1, 0, 0.9, 0, 1, 0, 0, 11), flat, 3000)) {
            seen.merge(id, 1, Integer::sum);
        }
        assertThat(seen.keySet()).allMatch(id -> id <= 2700); // 2700 sits on the boundary up to rounding
        assertThat(seen.keySet().stream().mapToInt(Integer::intValue).max().orElseThrow()).isGreaterThan(2400);
    }

    @Test
    void minPDropsTokensFarBelowTheBest() {
        float[] logits = {(float) Math.log(10), (float) Math.log(4), (float) Math.log(1)};
        int[] counts = histogram(sampling(1, 0, 1, 0.2, 1, 0, 0, 4), logits, 3000);
        assertThat(counts[2]).isZero();
        assertThat(counts[1]).isPositive();
    }

    @Test
    void logprobsAreLogSoftmaxOfTheRawLogits() {
        float[] logits = {0f, (float) Math.log(3)};
        TokenLogprob lp = TokenLogprob.of(logits, 0, 2);
        assertThat((double) lp.logprob()).isCloseTo(Math.log(0.25), within(1e-6));
        assertThat(lp.top()).extracting(TokenLogprob.Alternative::tokenId).containsExactly(1, 0);
        assertThat((double) lp.top().get(0).logprob()).isCloseTo(Math.log(0.75), within(1e-6));
    }

    @Test
    void invalidParametersNameTheParameter() {
        assertThatThrownBy(() -> SamplingParams.builder().topP(0.0).build().validate()).hasMessageContaining("top_p");
        assertThatThrownBy(() -> SamplingParams.builder().temperature(-1.0).build().validate())
                .hasMessageContaining("temperature");
        assertThatThrownBy(() -> SamplingParams.builder().logprobs(21).build().validate()).hasMessageContaining("logprobs");
        assertThatThrownBy(() -> SamplingParams.builder().stop(List.of("")).build().validate()).hasMessageContaining("stop");
    }

    @Test
    void logitBiasShiftsTheChoiceBeforePenalties() {
        float[] logits = {1f, 3f, 2f};
        Sampling biased = new Sampling(0, 0, 1, 0, 1, 0, 0, 1, 100, List.of(), Set.of(), -1, true,
                Map.of(0, 5.0, 1, -100.0));
        assertThat(new Sampler(biased, new int[0], 3).next(logits, 0)).isEqualTo(0);
        assertThat(logits).containsExactly(1f, 3f, 2f);
        Sampling banned = new Sampling(0, 0, 1, 0, 1, 0, 0, 1, 100, List.of(), Set.of(), -1, true, Map.of(1, -100.0));
        assertThat(new Sampler(banned, new int[0], 3).next(logits, 0)).isEqualTo(2);
    }
}
