package io.hyserve.engine.sample;

import static org.assertj.core.api.Assertions.assertThat;

import io.hyserve.engine.testing.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GenerationDefaultsTest {
    @TempDir
    Path empty;

    @Test
    void modelFolderFirstThenTokenizerFolderThenTheRelease() throws Exception {
        GenerationDefaults fromTokenizer = GenerationDefaults.load(empty, Fixtures.tokenizer());
        assertThat(fromTokenizer.eosTokenIds()).containsExactly(127960, 127967);
        assertThat(fromTokenizer.topK()).isEqualTo(20);
        assertThat(fromTokenizer.source()).endsWith("generation_config.json");
        assertThat(GenerationDefaults.load(empty)).isEqualTo(GenerationDefaults.RELEASE);
        Files.writeString(empty.resolve("generation_config.json"), "{\"eos_token_id\": 5, \"do_sample\": false}");
        GenerationDefaults own = GenerationDefaults.load(empty, Fixtures.tokenizer());
        assertThat(own.eosTokenIds()).containsExactly(5);
        assertThat(own.resolve(SamplingParams.builder().build(), 10).greedy()).isTrue();
    }

    @Test
    void defaultsFillOnlyWhatTheRequestLeavesUnset() {
        Sampling s = GenerationDefaults.RELEASE.resolve(SamplingParams.builder().topK(5).build(), 100);
        assertThat(s.temperature()).isEqualTo(0.7);
        assertThat(s.topK()).isEqualTo(5);
        assertThat(s.topP()).isEqualTo(0.6);
        assertThat(s.repetitionPenalty()).isEqualTo(1.05);
        assertThat(s.stopTokenIds()).containsExactlyInAnyOrder(127960, 127967);
        assertThat(s.maxTokens()).isEqualTo(100);
    }

    @Test
    void temperatureZeroIsPlainArgmaxUnlessAPenaltyIsGiven() {
        Sampling plain = GenerationDefaults.RELEASE.resolve(SamplingParams.builder().temperature(0.0).build(), 100);
        assertThat(plain.greedy()).isTrue();
        assertThat(plain.repetitionPenalty()).isEqualTo(1.0);
        assertThat(plain.topK()).isZero();
        Sampling penalised = GenerationDefaults.RELEASE.resolve(
                SamplingParams.builder().temperature(0.0).repetitionPenalty(1.3).build(), 100);
        assertThat(penalised.repetitionPenalty()).isEqualTo(1.3);
    }

    @Test
    void ignoreEosKeepsExplicitStopIdsAndCapsMaxTokensAtTheContext() {
        Sampling s = GenerationDefaults.RELEASE.resolve(
                SamplingParams.builder().ignoreEos(true).stopTokenIds(java.util.List.of(7)).maxTokens(500).build(), 40);
        assertThat(s.stopTokenIds()).containsExactly(7);
        assertThat(s.maxTokens()).isEqualTo(40);
    }
}
