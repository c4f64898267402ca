package io.hyserve.engine.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The hand-written pre-tokeniser against its {@code java.util.regex} twin and Python {@code regex} output. */
class PreTokenizerTest {

    @Test
    void handWrittenMatcherEqualsRegexTwin() {
        RandomTrials.check(0x9E70_0001L, 3000, RandomText::text, RandomTrials::quote, text -> {
            assertThat(PreTokenizer.pieces(text)).isEqualTo(PreTokenizerReference.pieces(text));
        });
    }

    @Test
    void piecesCoverTheSegmentWithoutGapsOrEmptyPieces() {
        RandomTrials.check(0x9E70_0002L, 500, RandomText::text, RandomTrials::quote, text -> {
            List<String> pieces = PreTokenizer.pieces(text);
            assertThat(String.join("", pieces)).isEqualTo(text);
            assertThat(pieces).allSatisfy(piece -> assertThat(piece).isNotEmpty());
        });
    }

    /** Expected pieces printed by Python's {@code regex} module (the golden generator's engine). */
    static Stream<Arguments> pythonRegexExamples() {
        return Stream.of(
                Arguments.of("x'\u017F '\u0130", List.of("x", "'\u017F", " '", "\u0130")),
                Arguments.of("it'S'LL'rE", List.of("it", "'S", "'LL", "'rE")),
                Arguments.of("\u0085x", List.of("\u0085x")),
                Arguments.of("a\u2028\u2028b", List.of("a", "\u2028", "\u2028b")),
                Arguments.of("  \r\n  x", List.of("  \r\n", " ", " x")),
                Arguments.of("\u001Cabc", List.of("\u001Cabc")),
                Arguments.of("x\u0300y", List.of("x", "\u0300y")),
                Arguments.of(" \u0300y", List.of(" \u0300", "y")),
                Arguments.of("\uFEFF!", List.of("\uFEFF!")),
                Arguments.of("a \t b", List.of("a", " \t", " b")),
                Arguments.of("a\u00A0\u00A0b", List.of("a", "\u00A0", "\u00A0b")),
                Arguments.of("!!\n\n\nx", List.of("!!\n\n\n", "x")),
                Arguments.of("  ", List.of("  ")),
                Arguments.of("x  ", List.of("x", "  ")),
                Arguments.of("\t\tx", List.of("\t", "\tx")),
                Arguments.of("'''s", List.of("'''", "s")),
                Arguments.of("e\u0301\u0301", List.of("e", "\u0301\u0301")),
                Arguments.of("\u200Bx", List.of("\u200Bx")),
                Arguments.of("1\u00B2\u00BD\u216B", List.of("1", "\u00B2", "\u00BD", "\u216B")),
                Arguments.of("a\u3000\u3000\u3000b", List.of("a", "\u3000\u3000", "\u3000b")));
    }

    @ParameterizedTest
    @MethodSource("pythonRegexExamples")
    void bothMatchersSplitLikePythonRegex(String text, List<String> expected) {
        assertThat(PreTokenizer.pieces(text)).isEqualTo(expected);
        assertThat(PreTokenizerReference.pieces(text)).isEqualTo(expected);
    }

    @Test
    void characterClassesEqualTheRegexClassesForEveryCodePoint() {
        Pattern letter = Pattern.compile("\\p{L}");
        Pattern number = Pattern.compile("\\p{N}");
        Pattern whitespace = Pattern.compile("\\s", Pattern.UNICODE_CHARACTER_CLASS);
        List<String> mismatches = new ArrayList<>();
        for (int cp = 0; cp <= Character.MAX_CODE_POINT; cp++) {
            if (cp >= Character.MIN_SURROGATE && cp <= Character.MAX_SURROGATE) {
                continue;
            }
            String s = Character.toString(cp);
            int expected = (letter.matcher(s).matches() ? PreTokenizer.LETTER : 0)
                    | (number.matcher(s).matches() ? PreTokenizer.NUMBER : 0)
                    | (whitespace.matcher(s).matches() ? PreTokenizer.WHITESPACE : 0);
            if (PreTokenizer.classOf(cp) != expected) {
                mismatches.add("U+%04X: %d != %d".formatted(cp, PreTokenizer.classOf(cp), expected));
            }
        }
        assertThat(mismatches).isEmpty();
    }

    @Test
    void whitespaceIsExactlyTheUnicodeWhiteSpaceProperty() {
        List<Integer> whitespace = new ArrayList<>();
        for (int cp = 0; cp <= Character.MAX_CODE_POINT; cp++) {
            if ((PreTokenizer.classOf(cp) & PreTokenizer.WHITESPACE) != 0) {
                whitespace.add(cp);
            }
        }
        assertThat(whitespace).containsExactly(
                0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
                0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000);
    }

    /**
     * The hand-written contraction check folds only ASCII case and U+017F; this scans every code point to
     * show the regex twin's case-insensitive match (and Python's simple folding) admits nothing else, then
     * checks both matchers on those code points and on near misses (U+0130, U+0131, U+212A, U+2019).
     */
    @Test
    void onlyAsciiCaseAndLongSFoldToContractionLetters() {
        Pattern contractionLetter = Pattern.compile("(?i:s|t|r|e|v|m|l|d)", Pattern.UNICODE_CHARACTER_CLASS);
        List<String> folding = new ArrayList<>();
        for (int cp = 0; cp <= Character.MAX_CODE_POINT; cp++) {
            if (contractionLetter.matcher(Character.toString(cp)).matches()) {
                folding.add(Character.toString(cp));
            }
        }
        assertThat(String.join("", folding)).isEqualTo("DELMRSTVdelmrstv\u017F");

        List<String> probes = new ArrayList<>(folding);
        probes.addAll(List.of("\u0130", "\u0131", "\u212A", "\u2019", "x"));
        for (String a : probes) {
            for (String b : probes) {
                String text = "'" + a + b + " q'" + a;
                assertThat(PreTokenizer.pieces(text)).as(text).isEqualTo(PreTokenizerReference.pieces(text));
            }
        }
    }

    @Test
    void pathologicalRunsAreLinear() {
        String spaces = " ".repeat(100_000) + "x";
        assertThat(PreTokenizer.pieces(spaces)).containsExactly(" ".repeat(99_999), " x");
        String letters = "a".repeat(1 << 20);
        assertThat(PreTokenizer.pieces(letters)).containsExactly(letters);
        String newlines = " \n".repeat(50_000) + "x";
        assertThat(PreTokenizer.pieces(newlines)).containsExactly(" \n".repeat(50_000), "x");
    }
}
