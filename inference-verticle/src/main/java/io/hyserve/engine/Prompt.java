package io.hyserve.engine;

import io.hyserve.engine.tokenizer.ChatMessage;
import java.util.List;

/** What the model continues: plain text, exact token ids, or chat messages rendered by the chat template. */
public sealed interface Prompt {
    /** Encoded with {@code <|startoftext|>} prepended and nothing appended. */
    record Text(String text) implements Prompt {}

    /** Fed exactly as given. */
    record TokenIds(int[] ids) implements Prompt {}

    /** Rendered by the model's own chat template, then encoded with special tokens parsed. */
    record Chat(List<ChatMessage> messages) implements Prompt {}

    static Prompt text(String text) {
        return new Text(text);
    }

    static Prompt tokens(int... ids) {
        return new TokenIds(ids.clone());
    }

    static Prompt chat(List<ChatMessage> messages) {
        return new Chat(List.copyOf(messages));
    }
}
