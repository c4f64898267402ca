package io.hyserve.engine.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Both lookup tables of the real vocabulary, checked exhaustively against the token bytes. */
class VocabularyTest {

    private static final Vocabulary VOCABULARY = Fixtures.tokenizer().vocabulary();

    @Test
    void everyRankIsFoundByItsBytes() {
        for (int rank = 0; rank < VOCABULARY.size(); rank++) {
            byte[] bytes = VOCABULARY.bytes(rank);
            if (VOCABULARY.rank(bytes, 0, bytes.length) != rank) {
                throw new AssertionError("rank " + rank + " not found by its bytes");
            }
        }
        byte[] absent = "\u4F60\u4F60\u4F60\u4F60 not a token".getBytes(StandardCharsets.UTF_8);
        assertThat(VOCABULARY.rank(absent, 0, absent.length)).isEqualTo(Vocabulary.ABSENT);
    }

    /** The pair table must answer exactly what a byte lookup of the concatenation answers. */
    @Test
    void mergedRankEqualsTheRankOfTheConcatenatedBytes() {
        int found = 0;
        for (int rank = 0; rank < VOCABULARY.size(); rank++) {
            byte[] bytes = VOCABULARY.bytes(rank);
            for (int split = 1; split < bytes.length; split++) {
                int left = VOCABULARY.rank(bytes, 0, split);
                int right = VOCABULARY.rank(bytes, split, bytes.length);
                if (left != Vocabulary.ABSENT && right != Vocabulary.ABSENT) {
                    if (VOCABULARY.mergedRank(left, right) != rank) {
                        throw new AssertionError("split " + split + " of rank " + rank + " not found");
                    }
                    found++;
                }
            }
        }
        assertThat(found).isEqualTo(264_306); // counted independently with Python over hy.tiktoken

        Random random = new Random(7);
        for (int i = 0; i < 200_000; i++) {
            int left = random.nextInt(VOCABULARY.size());
            int right = random.nextInt(VOCABULARY.size());
            byte[] joined = concat(VOCABULARY.bytes(left), VOCABULARY.bytes(right));
            assertThat(VOCABULARY.mergedRank(left, right)).isEqualTo(VOCABULARY.rank(joined, 0, joined.length));
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] joined = new byte[a.length + b.length];
        System.arraycopy(a, 0, joined, 0, a.length);
        System.arraycopy(b, 0, joined, a.length, b.length);
        return joined;
    }
}
