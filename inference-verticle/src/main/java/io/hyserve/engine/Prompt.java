package io.hyserve.engine;

import io.hyserve.engine.tokenizer.ChatMessage;
import java.util.List;

/** What the model continues: plain text, exact token ids, or chat messages rendered by the chat template. */
public sealed interface Prompt {
    /** Encoded with {@code <|startoftext|>} prepended and nothing appended. */
    record Text(String text) implements Prompt {}

    /** Fed exactly as given. */
    record TokenIds(int[] ids) implements Prompt {}

    /**
     * Rendered by the model's own chat template. Special-token text in message content stays ordinary text
     * unless {@code parseSpecialTokens}, so a user cannot inject {@code <|extra_0|>} and the like.
     */
    record Chat(List<ChatMessage> messages, boolean parseSpecialTokens) implements Prompt {}

    static Prompt text(String text) {
        return new Text(text);
    }

    static Prompt tokens(int... ids) {
        return new TokenIds(ids.clone());
    }

    static Prompt chat(List<ChatMessage> messages) {
        return new Chat(List.copyOf(messages), false);
    }

    static Prompt chat(List<ChatMessage> messages, boolean parseSpecialTokens) {
        return new Chat(List.copyOf(messages), parseSpecialTokens);
    }
}
