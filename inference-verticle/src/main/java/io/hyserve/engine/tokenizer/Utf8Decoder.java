package io.hyserve.engine.tokenizer;

/**
 * UTF-8 → UTF-16 with one U+FFFD per maximal subpart of an ill-formed sequence (Unicode §3.9, the practice
 * of Python's {@code bytes.decode(errors="replace")}): {@code E4 BD 41} → {@code "\uFFFDA"}, {@code BD A0} →
 * {@code "\uFFFD\uFFFD"}, {@code ED A0 80} (a surrogate) → three U+FFFD.
 *
 * <p>Decoding can stop before a trailing sequence that is incomplete but could still become valid, which is
 * what {@link StreamingDetokenizer} needs to hold back a character split across tokens.
 */
final class Utf8Decoder {

    static final char REPLACEMENT = '\uFFFD';

    private Utf8Decoder() {}

    /** Decodes all of {@code bytes[from, to)}; an incomplete tail becomes one U+FFFD. */
    static String decode(byte[] bytes, int from, int to) {
        StringBuilder out = new StringBuilder(to - from);
        decode(bytes, from, to, out, true);
        return out.toString();
    }

    /**
     * Appends the decoding of {@code bytes[from, to)} to {@code out} and returns where decoding stopped: at
     * {@code to}, or, when {@code endOfInput} is false, at the start of a trailing incomplete sequence that more
     * bytes could still complete. With {@code endOfInput} that tail is replaced like any maximal subpart.
     */
    static int decode(byte[] bytes, int from, int to, StringBuilder out, boolean endOfInput) {
        int i = from;
        while (i < to) {
            int lead = bytes[i] & 0xFF;
            if (lead < 0x80) {
                out.append((char) lead);
                i++;
                continue;
            }
            int continuations;
            int codePoint;
            int low = 0x80; // allowed range of the first continuation byte; later ones are always 80..BF
            int high = 0xBF;
            if (lead >= 0xC2 && lead <= 0xDF) {
                continuations = 1;
                codePoint = lead & 0x1F;
            } else if (lead >= 0xE0 && lead <= 0xEF) {
                continuations = 2;
                codePoint = lead & 0x0F;
                if (lead == 0xE0) {
                    low = 0xA0; // shorter forms are overlong
                } else if (lead == 0xED) {
                    high = 0x9F; // D800..DFFF are surrogates
                }
            } else if (lead >= 0xF0 && lead <= 0xF4) {
                continuations = 3;
                codePoint = lead & 0x07;
                if (lead == 0xF0) {
                    low = 0x90; // overlong
                } else if (lead == 0xF4) {
                    high = 0x8F; // above U+10FFFF
                }
            } else {
                out.append(REPLACEMENT); // 80..C1 and F5..FF never start a character
                i++;
                continue;
            }
            int j = i + 1;
            int seen = 0;
            while (seen < continuations && j < to) {
                int b = bytes[j] & 0xFF;
                if (b < low || b > high) {
                    break;
                }
                codePoint = codePoint << 6 | (b & 0x3F);
                low = 0x80;
                high = 0xBF;
                j++;
                seen++;
            }
            if (seen == continuations) {
                out.appendCodePoint(codePoint);
            } else if (j == to && !endOfInput) {
                return i; // a valid prefix: wait for the rest
            } else {
                out.append(REPLACEMENT); // bytes[i, j) is one maximal subpart; bytes[j] starts afresh
            }
            i = j;
        }
        return to;
    }
}
