package io.hyserve.engine.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Streaming output, concatenated, must equal {@link HyTokenizer#decode} of the same ids. */
class StreamingDetokenizerTest {

    private static final HyTokenizer TOKENIZER = Fixtures.tokenizer();

    @Test
    void concatenatedOutputEqualsDecode() {
        RandomTrials.check(0x57DE_0001L, 1500, StreamingDetokenizerTest::idSequence, IdSequence::toString, sequence -> {
            int[] ids = sequence.ids();
            boolean skipSpecialTokens = sequence.skipSpecialTokens();
            StreamingDetokenizer stream = TOKENIZER.streamingDetokenizer(skipSpecialTokens);
            StringBuilder streamed = new StringBuilder();
            for (int id : ids) {
                String piece = stream.next(id);
                assertThat(isWellFormed(piece)).as("no split surrogate pair in %s", piece).isTrue();
                streamed.append(piece);
            }
            streamed.append(stream.finish());
            assertThat(streamed.toString()).isEqualTo(TOKENIZER.decode(ids, skipSpecialTokens));
        });
    }

    record IdSequence(int[] ids, boolean skipSpecialTokens) {
        @Override
        public String toString() {
            return "ids " + Arrays.toString(ids) + ", skipSpecialTokens " + skipSpecialTokens;
        }
    }

    private static final int[] EDGY_BYTES = {0x41, 0x80, 0x9F, 0xA0, 0xBF, 0xC2, 0xE0, 0xE4, 0xED, 0xF0, 0xF4, 0xF5, 0xFF};
    private static final int[] CHINESE_TOKENS = TOKENIZER.encode("\u4F60\u597D\uFF0C\u4E16\u754C\u6D77\u6C34\uD83C\uDF55");
    private static final int FIRST_SPECIAL = 127957;

    /**
     * 0..30 ids biased toward single raw bytes (lead, continuation and invalid bytes, so characters split
     * across tokens and sequences that can no longer complete), plus any token and special tokens; weights
     * 4 raw byte : 4 edge-case byte : 3 any token : 1 special token : 2 token of Chinese text.
     */
    static IdSequence idSequence(SplittableRandom random) {
        Vocabulary vocabulary = TOKENIZER.vocabulary();
        int[] ids = new int[random.nextInt(31)];
        for (int i = 0; i < ids.length; i++) {
            int pick = random.nextInt(14);
            ids[i] = pick < 4 ? vocabulary.singleByteRank(random.nextInt(256))
                    : pick < 8 ? vocabulary.singleByteRank(EDGY_BYTES[random.nextInt(EDGY_BYTES.length)])
                    : pick < 11 ? random.nextInt(TOKENIZER.size())
                    : pick < 12 ? random.nextInt(FIRST_SPECIAL, TOKENIZER.size())
                    : CHINESE_TOKENS[random.nextInt(CHINESE_TOKENS.length)];
        }
        return new IdSequence(ids, random.nextBoolean());
    }

    @Test
    void holdsBackACharacterSplitOverByteTokens() {
        // U+4F60 as three single-byte tokens (tokenizer_golden.json "char_split_over_byte_tokens").
        StreamingDetokenizer stream = TOKENIZER.streamingDetokenizer(false);
        assertThat(stream.next(160)).isEmpty();
        assertThat(stream.next(121)).isEmpty();
        assertThat(stream.next(254)).isEqualTo("\u4F60");
        assertThat(stream.finish()).isEmpty();
    }

    @Test
    void emitsReplacementAsSoonAsASequenceCannotComplete() {
        StreamingDetokenizer stream = TOKENIZER.streamingDetokenizer(false);
        assertThat(stream.next(160)).isEmpty(); // E4: may still become a character
        assertThat(stream.next(121)).isEmpty(); // E4 BD
        assertThat(stream.next(32)).isEqualTo("\uFFFDA"); // 41 ends it: one U+FFFD, then "A"
    }

    @Test
    void finishFlushesAnIncompleteTailAsOneReplacement() {
        StreamingDetokenizer stream = TOKENIZER.streamingDetokenizer(false);
        assertThat(stream.next(160)).isEmpty();
        assertThat(stream.finish()).isEqualTo("\uFFFD");
        assertThat(stream.finish()).isEmpty();
    }

    @Test
    void skippedSpecialTokensDoNotBreakAPendingCharacter() {
        int eos = TOKENIZER.specialTokenId("<|eos|>").orElseThrow();
        StreamingDetokenizer skipping = TOKENIZER.streamingDetokenizer(true);
        assertThat(List.of(skipping.next(160), skipping.next(eos), skipping.next(121), skipping.next(254)))
                .containsExactly("", "", "", "\u4F60");
        StreamingDetokenizer keeping = TOKENIZER.streamingDetokenizer(false);
        assertThat(List.of(keeping.next(160), keeping.next(eos))).containsExactly("", "\uFFFD<|eos|>");
    }

    @Test
    void streamsEncodedTextBackExactly() {
        String text = "\u77E5\u9053\u91CD\u5E86\u68EE\u6797\u8FD9\u90E8\u7535\u5F71\u5417\uFF1F \uD83D\uDC68\u200D\uD83D\uDC69 caf\u00E9";
        StreamingDetokenizer stream = TOKENIZER.streamingDetokenizer(false);
        List<String> pieces = new ArrayList<>();
        for (int id : TOKENIZER.encode(text)) {
            pieces.add(stream.next(id));
        }
        pieces.add(stream.finish());
        assertThat(String.join("", pieces)).isEqualTo(text);
        assertThat(pieces).allSatisfy(p -> assertThat(p).doesNotContain("\uFFFD"));
    }

    @Test
    void rejectsIdsWithoutAToken() {
        StreamingDetokenizer stream = TOKENIZER.streamingDetokenizer(true);
        assertThatThrownBy(() -> stream.next(128166)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("128166");
        assertThatThrownBy(() -> stream.next(-1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
    }

    private static boolean isWellFormed(String s) {
        return new String(s.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8).equals(s);
    }
}
