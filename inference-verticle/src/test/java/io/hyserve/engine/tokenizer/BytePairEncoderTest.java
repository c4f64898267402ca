package io.hyserve.engine.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The heap-based merge against the plain quadratic one, on the real vocabulary and a tiny hand-made one. */
class BytePairEncoderTest {

    private static final Vocabulary VOCABULARY = Fixtures.tokenizer().vocabulary();

    @Test
    void fastMergeEqualsPlainMerge() {
        RandomTrials.check(0x6B9E_0001L, 1500, BytePairEncoderTest::piece, RandomTrials::hex, piece -> {
            assertThat(fastMerge(VOCABULARY, piece)).isEqualTo(BytePairEncoderReference.merge(VOCABULARY, piece));
        });
    }

    @Test
    void fastEncodeEqualsPlainEncode() {
        RandomTrials.check(0x6B9E_0002L, 500, BytePairEncoderTest::piece, RandomTrials::hex, piece -> {
            IntList out = new IntList(4);
            new BytePairEncoder(VOCABULARY).encode(piece, piece.length, out);
            assertThat(boxed(out)).isEqualTo(BytePairEncoderReference.encode(VOCABULARY, piece));
        });
    }

    private static final List<String> RUN_UNITS = List.of("a", " ", "!", "ab", "\u4F60", "\n");

    /**
     * Equally likely: 1..40 random bytes, non-empty UTF-8 text from the pre-tokeniser's biased generator, or
     * a run of 1..400 copies of one or two bytes (or one CJK character).
     */
    static byte[] piece(SplittableRandom random) {
        return switch (random.nextInt(3)) {
            case 0 -> {
                byte[] bytes = new byte[random.nextInt(1, 41)];
                random.nextBytes(bytes);
                yield bytes;
            }
            case 1 -> {
                String text;
                do {
                    text = RandomText.text(random);
                } while (text.isEmpty());
                yield text.getBytes(StandardCharsets.UTF_8);
            }
            default -> {
                int n = random.nextInt(1, 401);
                yield RandomText.oneOf(random, RUN_UNITS).repeat(n).getBytes(StandardCharsets.UTF_8);
            }
        };
    }

    @Test
    void tiesMergeLeftmostFirst() {
        // "aa" (rank 256) ties with itself along "aaa": the left pair merges, leaving "aa" + "a".
        Vocabulary tiny = tinyVocabulary("aa", "aaa!", "a!");
        byte[] piece = "aaa".getBytes(StandardCharsets.US_ASCII);
        assertThat(fastMerge(tiny, piece)).containsExactly(256, (int) 'a').isEqualTo(BytePairEncoderReference.merge(tiny, piece));
        // The lowest rank wins wherever it is: "aa" (256) merges before "a!" (258), and "aa!" is no token.
        byte[] bang = "aa!".getBytes(StandardCharsets.US_ASCII);
        assertThat(fastMerge(tiny, bang)).containsExactly(256, (int) '!').isEqualTo(BytePairEncoderReference.merge(tiny, bang));
    }

    @Test
    void wholePieceInVocabularyIsEmittedEvenIfMergesCannotReachIt() {
        // "abc" is a token but neither "ab" nor "bc" is, so merging alone would stop at three bytes.
        Vocabulary tiny = tinyVocabulary("abc");
        byte[] piece = "abc".getBytes(StandardCharsets.US_ASCII);
        assertThat(BytePairEncoderReference.merge(tiny, piece)).containsExactly((int) 'a', (int) 'b', (int) 'c');
        IntList out = new IntList(1);
        new BytePairEncoder(tiny).encode(piece, piece.length, out);
        assertThat(boxed(out)).containsExactly(256);
    }

    @Test
    void longRunsAgreeWithThePlainMerge() {
        for (String unit : List.of("a", " ", "!", "\u4F60", "ab")) {
            byte[] piece = unit.repeat(1500).getBytes(StandardCharsets.UTF_8);
            assertThat(fastMerge(VOCABULARY, piece)).as(unit).isEqualTo(BytePairEncoderReference.merge(VOCABULARY, piece));
        }
    }

    @Test
    void pathologicalInputStaysFast() {
        HyTokenizer tokenizer = Fixtures.tokenizer();
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            String letters = "a".repeat(1 << 20);
            assertThat(tokenizer.decode(tokenizer.encode(letters), false)).isEqualTo(letters);
            String spaces = " ".repeat(100_000) + "x";
            assertThat(tokenizer.decode(tokenizer.encode(spaces), false)).isEqualTo(spaces);
            String chinese = "\u4F60".repeat(200_000);
            assertThat(tokenizer.decode(tokenizer.encode(chinese), false)).isEqualTo(chinese);
        });
    }

    private static List<Integer> fastMerge(Vocabulary vocabulary, byte[] piece) {
        IntList out = new IntList(4);
        new BytePairEncoder(vocabulary).merge(piece, piece.length, out);
        return boxed(out);
    }

    private static List<Integer> boxed(IntList list) {
        List<Integer> values = new ArrayList<>();
        for (int v : list.toArray()) {
            values.add(v);
        }
        return values;
    }

    /** The 256 single bytes as ranks 0..255 (rank = byte value), then {@code merged} from rank 256 on. */
    static Vocabulary tinyVocabulary(String... merged) {
        List<byte[]> tokens = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            tokens.add(new byte[] {(byte) b});
        }
        for (String m : merged) {
            tokens.add(m.getBytes(StandardCharsets.UTF_8));
        }
        try {
            return new Vocabulary(tokens, "test vocabulary");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
