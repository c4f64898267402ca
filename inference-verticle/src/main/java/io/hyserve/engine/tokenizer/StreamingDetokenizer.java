package io.hyserve.engine.tokenizer;

import java.util.Arrays;

/**
 * Incremental decoding of generated tokens: {@link #next} returns the text that became complete with each
 * token, holding back the bytes of a character split across tokens (a Chinese character often spans two
 * or three byte-level tokens). Concatenating every {@code next} result and {@link #finish()} gives exactly
 * {@link HyTokenizer#decode} of all the ids, replacement characters included.
 *
 * <p>Not thread-safe; one per generated sequence.
 */
public final class StreamingDetokenizer {

    private final HyTokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private byte[] buffer = new byte[32]; // [0, pending) holds an incomplete but still valid UTF-8 prefix
    private int pending;

    StreamingDetokenizer(HyTokenizer tokenizer, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /**
     * The text completed by {@code id}, possibly empty.
     *
     * @throws IllegalArgumentException if {@code id} has no token (see {@link HyTokenizer#decode})
     */
    public String next(int id) {
        tokenizer.checkId(id);
        if (skipSpecialTokens && tokenizer.isSpecial(id)) {
            return "";
        }
        int total = pending + tokenizer.byteLength(id);
        if (buffer.length < total) {
            buffer = Arrays.copyOf(buffer, Math.max(total, buffer.length * 2));
        }
        tokenizer.copyBytes(id, buffer, pending);
        StringBuilder out = new StringBuilder(total);
        int stop = Utf8Decoder.decode(buffer, 0, total, out, false);
        pending = total - stop;
        System.arraycopy(buffer, stop, buffer, 0, pending);
        return out.toString();
    }

    /**
     * Flushes held-back bytes at the end of the sequence: an incomplete character becomes U+FFFD, as in
     * {@link HyTokenizer#decode}. The detokenizer is empty afterwards.
     */
    public String finish() {
        String tail = Utf8Decoder.decode(buffer, 0, pending);
        pending = 0;
        return tail;
    }
}
