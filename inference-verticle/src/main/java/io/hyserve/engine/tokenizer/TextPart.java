package io.hyserve.engine.tokenizer;

import java.util.Objects;

/**
 * A piece of text to encode. A literal part is untrusted content (a chat message): special-token text in it
 * is encoded as ordinary text, never as the special token.
 */
public record TextPart(String text, boolean literal) {
    public TextPart {
        Objects.requireNonNull(text, "text");
    }
}
