package io.hyserve.engine;

import io.hyserve.engine.tokenizer.StreamingDetokenizer;
import java.util.List;

/**
 * Turns generated tokens into streamed text and applies stop strings. Text that could still be the start of
 * a stop string is held back; when a stop string completes, the text before it is released and the rest is
 * dropped (OpenAI behaviour: the stop sequence is not part of the output).
 */
final class OutputText {
    private final StreamingDetokenizer detokenizer;
    /** Ids from here up exist only as padding rows of the model's embedding: they have no text. */
    private final int textTokens;
    private final List<String> stops;
    private final StringBuilder pending = new StringBuilder();
    private boolean stopped;

    OutputText(StreamingDetokenizer detokenizer, int textTokens, List<String> stops) {
        this.detokenizer = detokenizer;
        this.textTokens = textTokens;
        this.stops = stops;
    }

    /** Text released by this token. After a stop string matched, {@link #stopped()} is true. */
    String append(int tokenId) {
        // A trained model never picks a padding id; a random-weight one can, and it must not end the stream.
        pending.append(tokenId < textTokens ? detokenizer.next(tokenId) : "");
        return release();
    }

    /** Everything still held, at the end of a generation that did not end on a stop string. */
    String finish() {
        if (stopped) {
            return "";
        }
        pending.append(detokenizer.finish());
        String released = release();
        if (stopped) {
            return released;
        }
        String all = released + pending;
        pending.setLength(0);
        return all;
    }

    boolean stopped() {
        return stopped;
    }

    private String release() {
        if (stops.isEmpty()) {
            String all = pending.toString();
            pending.setLength(0);
            return all;
        }
        int earliest = -1;
        for (String stop : stops) {
            int at = pending.indexOf(stop);
            if (at >= 0 && (earliest < 0 || at < earliest)) {
                earliest = at;
            }
        }
        if (earliest >= 0) {
            stopped = true;
            String out = pending.substring(0, earliest);
            pending.setLength(0);
            return out;
        }
        int held = 0;
        for (String stop : stops) {
            held = Math.max(held, longestSuffixThatPrefixes(pending, stop));
        }
        String out = pending.substring(0, pending.length() - held);
        pending.delete(0, pending.length() - held);
        return out;
    }

    /** Length of the longest suffix of {@code text} that is a proper prefix of {@code stop}. */
    private static int longestSuffixThatPrefixes(CharSequence text, String stop) {
        for (int length = Math.min(text.length(), stop.length() - 1); length > 0; length--) {
            boolean match = true;
            for (int i = 0; i < length && match; i++) {
                match = text.charAt(text.length() - length + i) == stop.charAt(i);
            }
            if (match) {
                return length;
            }
        }
        return 0;
    }
}
