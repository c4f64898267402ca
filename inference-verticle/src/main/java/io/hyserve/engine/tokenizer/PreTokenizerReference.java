package io.hyserve.engine.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Slow twin of {@link PreTokenizer}: Hunyuan's pre-tokenisation regex, verbatim, run by
 * {@code java.util.regex}. Tests compare the two on the golden pieces and on random text.
 *
 * <p>{@code UNICODE_CHARACTER_CLASS} makes {@code \s} Unicode White_Space and implies {@code UNICODE_CASE},
 * so the {@code (?i:...)} group folds like the reference engines ({@code 'ſ} is a contraction). Java's
 * backtracking alternation is leftmost-first like fancy-regex and Python's {@code regex}.
 */
final class PreTokenizerReference {

    static final String PATTERN =
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static final Pattern COMPILED = Pattern.compile(PATTERN, Pattern.UNICODE_CHARACTER_CLASS);

    private PreTokenizerReference() {}

    /** The pieces of one ordinary segment (no special tokens); the segment end is end of input. */
    static List<String> pieces(String segment) {
        List<String> pieces = new ArrayList<>();
        Matcher m = COMPILED.matcher(segment);
        while (m.find()) {
            pieces.add(m.group());
        }
        return pieces;
    }
}
