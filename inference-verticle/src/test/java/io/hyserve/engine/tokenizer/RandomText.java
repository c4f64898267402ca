package io.hyserve.engine.tokenizer;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * Random text biased toward what the pre-tokeniser treats specially: whitespace (and look-alikes that are
 * not White_Space), CR/LF, digits and other numbers, letters, combining marks, apostrophes and contraction
 * case variants, supplementary characters, and special-token fragments. Always well-formed UTF-16.
 *
 * <p>Every draw comes from the given {@link SplittableRandom}, so the same seed gives the same text.
 */
final class RandomText {

    /** A text is 0 to this many fragments, joined. */
    static final int MAX_FRAGMENTS = 24;

    private RandomText() {}

    static String text(SplittableRandom random) {
        int fragments = random.nextInt(MAX_FRAGMENTS + 1);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < fragments; i++) {
            text.append(fragment(random));
        }
        return text.toString();
    }

    /** One fragment, its kind chosen by the weights in {@link #KINDS}. */
    static String fragment(SplittableRandom random) {
        int pick = random.nextInt(TOTAL_WEIGHT);
        for (Kind kind : KINDS) {
            pick -= kind.weight();
            if (pick < 0) {
                return kind.draw().apply(random);
            }
        }
        throw new AssertionError("unreachable");
    }

    /** A uniformly chosen element of {@code choices}. */
    static <T> T oneOf(SplittableRandom random, List<T> choices) {
        return choices.get(random.nextInt(choices.size()));
    }

    /** {@code minLength..maxLength} characters, each chosen uniformly from {@code alphabet}. */
    static String charsFrom(SplittableRandom random, String alphabet, int minLength, int maxLength) {
        int length = random.nextInt(minLength, maxLength + 1);
        StringBuilder s = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            s.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return s.toString();
    }

    /** {@code minLength..maxLength} characters, each chosen uniformly from {@code first..last} (BMP, no surrogates). */
    static String charsInRange(SplittableRandom random, char first, char last, int minLength, int maxLength) {
        int length = random.nextInt(minLength, maxLength + 1);
        StringBuilder s = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            s.append((char) random.nextInt(first, last + 1));
        }
        return s.toString();
    }

    /**
     * Any scalar value (no surrogate code points), so every plane and unassigned code points appear too:
     * uniform over 0..0x7FF, 0..0xFFFF or 0..0x10FFFF, each range equally likely.
     */
    static String anyCodePoint(SplittableRandom random) {
        int bound = switch (random.nextInt(3)) {
            case 0 -> 0x7FF;
            case 1 -> 0xFFFF;
            default -> Character.MAX_CODE_POINT;
        };
        while (true) {
            int cp = random.nextInt(0, bound + 1);
            if (cp < Character.MIN_SURROGATE || cp > Character.MAX_SURROGATE) {
                return Character.toString(cp);
            }
        }
    }

    private record Kind(int weight, Function<SplittableRandom, String> draw) {}

    private static final String DIGITS = "0123456789";
    private static final String ASCII_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    private static final String PUNCTUATION = "!?.,;:-()[]{}\"'`<>|/\\#$%&*+=~^_@";

    private static final List<String> WHITESPACE = List.of(
            " ", "  ", "   ", "\t", "\n", "\r", "\r\n", "\n\n", " \n", "\u000B", "\u000C", "\u0085", "\u00A0",
            "\u1680", "\u2000", "\u200A", "\u2028", "\u2029", "\u202F", "\u205F", "\u3000",
            // look-alikes that are not White_Space
            "\u001C", "\u001F", "\u200B", "\uFEFF", "\u180E");

    private static final List<String> CONTRACTIONS = List.of(
            "'", "''", "'s", "'S", "'\u017F", "'t", "'T", "'re", "'rE", "'Re", "'r", "'ve", "'VE", "'m", "'M",
            "'ll", "'lL", "'l", "'d", "'D", "'x", "\u2019s", "'\u0130", "'\u212A", "'\u0131");

    private static final List<String> OTHER_CHARACTERS = List.of(
            "\u0300", "\u0301", "\u093F", "\u094D", "\u0E31", "\u20DD", // Mn, Mc, Me marks: neither L nor N
            "\u00B2", "\u00BD", "\u216B", "\u2460", "\u0663", "\uFF11", "\uD835\uDFCE", // numbers beyond 0-9
            "\u00C9", "e\u0301", "\u1E9E", "\u01C5", "\u02B0", "\u3005", "\uFF21", "\uD835\uDC00", // letters
            "\uD83C\uDF55", "\uD83D\uDC4D\uD83C\uDFFD", "\u200D", "\uD83C\uDDE8\uD83C\uDDF3", "\uFFFD");

    private static final List<String> SPECIAL_FRAGMENTS = List.of(
            "<|", "|>", "<|eos|>", "<|endoftext|>", "<|extra_", "<|extra_0|>", "<|extra_204|>", "<|EOS|>", "|");

    /** Fragment kinds and their relative weights. */
    private static final List<Kind> KINDS = List.of(
            new Kind(6, r -> oneOf(r, WHITESPACE)),
            new Kind(3, r -> oneOf(r, CONTRACTIONS)),
            new Kind(4, r -> charsFrom(r, DIGITS, 1, 4)),
            new Kind(6, r -> charsFrom(r, ASCII_LETTERS, 1, 6)),
            new Kind(4, r -> oneOf(r, OTHER_CHARACTERS)),
            new Kind(3, r -> charsFrom(r, PUNCTUATION, 1, 3)),
            new Kind(2, r -> oneOf(r, SPECIAL_FRAGMENTS)),
            new Kind(2, r -> charsInRange(r, '\u4E00', '\u9FFF', 1, 5)),
            new Kind(4, RandomText::anyCodePoint));

    private static final int TOTAL_WEIGHT = KINDS.stream().mapToInt(Kind::weight).sum();
}
