package io.hyserve.engine.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Hand-written matcher for Hunyuan's pre-tokenisation regex (spec §7):
 *
 * <pre>
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * </pre>
 *
 * <p>It gives the same pieces as {@link PreTokenizerReference} (the {@code java.util.regex} form, its slow
 * twin) without allocation or backtracking: one pass over a segment, classifying each code point once
 * through a table for the BMP. {@code \s} is Unicode White_Space, {@code \p{L}}/{@code \p{N}} are the
 * general categories as {@link Character#getType} reports them, exactly what the twin's
 * {@code UNICODE_CHARACTER_CLASS} pattern uses.
 */
final class PreTokenizer {

    static final byte LETTER = 1;
    static final byte NUMBER = 2;
    static final byte WHITESPACE = 4;
    private static final byte[] BMP_CLASSES = new byte[0x10000];

    static {
        for (int c = 0; c < BMP_CLASSES.length; c++) {
            BMP_CLASSES[c] = computeClass(c);
        }
    }

    private PreTokenizer() {}

    /**
     * The end of the piece that starts at {@code i} in the segment that ends at {@code end}. The segment end
     * is end of input for the pattern ({@code (?!\S)} succeeds there). Requires well-formed UTF-16 and
     * {@code i < end}.
     */
    static int pieceEnd(CharSequence s, int i, int end) {
        char c = s.charAt(i);
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if (c == '\'') {
            int length = contractionLength(s, i, end);
            if (length > 0) {
                return i + length;
            }
        }
        int cp = codePointAt(s, i, end);
        int width = Character.charCount(cp);
        int cls = classOf(cp);
        // [^\r\n\p{L}\p{N}]?\p{L}+ where the optional char is absent
        if ((cls & LETTER) != 0) {
            return letterRunEnd(s, i + width, end);
        }
        // \p{N}: exactly one character, so "2024" is four pieces
        if ((cls & NUMBER) != 0) {
            return i + width;
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+ where c is the optional char
        if (c != '\r' && c != '\n' && i + width < end) {
            int next = codePointAt(s, i + width, end);
            if ((classOf(next) & LETTER) != 0) {
                return letterRunEnd(s, i + width + Character.charCount(next), end);
            }
        }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        int symbolStart = c == ' ' && i + 1 < end && isSymbol(codePointAt(s, i + 1, end)) ? i + 1 : i;
        if (isSymbol(codePointAt(s, symbolStart, end))) {
            int j = symbolStart;
            while (j < end) {
                int q = codePointAt(s, j, end);
                if (!isSymbol(q)) {
                    break;
                }
                j += Character.charCount(q);
            }
            while (j < end && (s.charAt(j) == '\r' || s.charAt(j) == '\n')) {
                j++;
            }
            return j;
        }
        // c is whitespace. White_Space is all BMP, so one char per code point from here on.
        int runEnd = i;
        int lastLineBreak = -1;
        while (runEnd < end && isWhitespace(s.charAt(runEnd))) {
            if (s.charAt(runEnd) == '\r' || s.charAt(runEnd) == '\n') {
                lastLineBreak = runEnd;
            }
            runEnd++;
        }
        // \s*[\r\n]+ backtracks to the run's last CR/LF
        if (lastLineBreak >= 0) {
            return lastLineBreak + 1;
        }
        // \s+(?!\S): the whole run at the end of the segment, else the run minus the char before the
        // non-space (which then leads the next piece); \s+ takes a single char when nothing is left.
        if (runEnd == end || runEnd - i == 1) {
            return runEnd;
        }
        return runEnd - 1;
    }

    /** All pieces of one ordinary segment (no special tokens), for tests and diagnostics. */
    static List<String> pieces(String segment) {
        List<String> pieces = new ArrayList<>();
        for (int start = 0; start < segment.length(); ) {
            int end = pieceEnd(segment, start, segment.length());
            pieces.add(segment.substring(start, end));
            start = end;
        }
        return pieces;
    }

    /** Length of a contraction at {@code s[i] == '\''}, or 0. Case-insensitive with Unicode simple folding. */
    private static int contractionLength(CharSequence s, int i, int end) {
        if (i + 1 >= end) {
            return 0;
        }
        char second = i + 2 < end ? foldContractionLetter(s.charAt(i + 2)) : 0;
        return switch (foldContractionLetter(s.charAt(i + 1))) {
            case 's', 't', 'm', 'd' -> 2;
            case 'r', 'v' -> second == 'e' ? 3 : 0;
            case 'l' -> second == 'l' ? 3 : 0;
            default -> 0;
        };
    }

    /**
     * ASCII letters to lower case, and U+017F LATIN SMALL LETTER LONG S to 's' (its simple case fold). No other
     * code point folds to one of the contraction letters s, t, r, e, v, m, l, d; a test checks that against
     * {@code java.util.regex} for every code point.
     */
    private static char foldContractionLetter(char c) {
        if (c >= 'A' && c <= 'Z') {
            return (char) (c + ('a' - 'A'));
        }
        return c == '\u017F' ? 's' : c;
    }

    private static int letterRunEnd(CharSequence s, int j, int end) {
        while (j < end) {
            int cp = codePointAt(s, j, end);
            if ((classOf(cp) & LETTER) == 0) {
                break;
            }
            j += Character.charCount(cp);
        }
        return j;
    }

    private static boolean isSymbol(int cp) {
        return classOf(cp) == 0;
    }

    private static boolean isWhitespace(char c) {
        return (BMP_CLASSES[c] & WHITESPACE) != 0;
    }

    /** {@link #LETTER}, {@link #NUMBER}, {@link #WHITESPACE}, or 0 for everything else. */
    static int classOf(int cp) {
        return cp < BMP_CLASSES.length ? BMP_CLASSES[cp] : computeClass(cp);
    }

    private static int codePointAt(CharSequence s, int i, int end) {
        char c = s.charAt(i);
        if (Character.isHighSurrogate(c) && i + 1 < end && Character.isLowSurrogate(s.charAt(i + 1))) {
            return Character.toCodePoint(c, s.charAt(i + 1));
        }
        return c;
    }

    private static byte computeClass(int cp) {
        return switch (Character.getType(cp)) {
            case Character.UPPERCASE_LETTER,
                    Character.LOWERCASE_LETTER,
                    Character.TITLECASE_LETTER,
                    Character.MODIFIER_LETTER,
                    Character.OTHER_LETTER -> LETTER;
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> NUMBER;
            default -> isWhiteSpaceProperty(cp) ? WHITESPACE : 0;
        };
    }

    /** Unicode White_Space: U+0009–000D, U+0085 and the Zs/Zl/Zp categories. Not U+001C–001F, not U+200B. */
    private static boolean isWhiteSpaceProperty(int cp) {
        return (cp >= 0x09 && cp <= 0x0D)
                || cp == 0x85
                || switch (Character.getType(cp)) {
                    case Character.SPACE_SEPARATOR, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR -> true;
                    default -> false;
                };
    }
}
