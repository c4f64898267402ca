package io.hyserve.engine.tokenizer;

import java.util.Objects;

/** One chat turn as the chat template sees it: {@code role} ("system", "user", "assistant", …) and text. */
public record ChatMessage(String role, String content) {

    public ChatMessage {
        Objects.requireNonNull(role, "chat message role must not be null");
        Objects.requireNonNull(content, "chat message content must not be null");
    }
}
