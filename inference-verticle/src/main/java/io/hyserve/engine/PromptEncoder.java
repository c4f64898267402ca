package io.hyserve.engine;

import io.hyserve.engine.tokenizer.ChatTemplate;
import io.hyserve.engine.tokenizer.ChatTemplateException;
import io.hyserve.engine.tokenizer.HyTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Turns a {@link Prompt} into the token ids the model sees: text gets {@code <|startoftext|>} prepended,
 * chat goes through the chat template. Shared by the engine and the gateway, so both count the same tokens.
 */
public final class PromptEncoder {
    private static final String START_OF_TEXT = "<|startoftext|>";

    private final HyTokenizer tokenizer;
    private final Path tokenizerDirectory;
    private final int startOfText;
    /** Loaded on the first chat prompt: starting the template engine costs more than a second. */
    private volatile ChatTemplate chatTemplate;

    public PromptEncoder(HyTokenizer tokenizer, Path tokenizerDirectory) {
        this.tokenizer = tokenizer;
        this.tokenizerDirectory = tokenizerDirectory;
        this.startOfText = tokenizer.specialTokenId(START_OF_TEXT).orElseThrow();
    }

    public HyTokenizer tokenizer() {
        return tokenizer;
    }

    /**
     * @throws InvalidRequestException if the chat template rejects the messages or is missing
     */
    public int[] encode(Prompt prompt) {
        return switch (prompt) {
            case Prompt.TokenIds tokens -> tokens.ids().clone();
            case Prompt.Text text -> {
                int[] body = tokenizer.encode(text.text());
                int[] ids = new int[body.length + 1];
                ids[0] = startOfText;
                System.arraycopy(body, 0, ids, 1, body.length);
                yield ids;
            }
            case Prompt.Chat chat -> {
                try {
                    yield chat.parseSpecialTokens()
                            ? tokenizer.encode(chatTemplate().render(chat.messages()))
                            : tokenizer.encode(chatTemplate().renderParts(chat.messages()));
                } catch (ChatTemplateException e) {
                    throw new InvalidRequestException(e.getMessage(), e);
                }
            }
        };
    }

    private ChatTemplate chatTemplate() {
        ChatTemplate template = chatTemplate;
        if (template == null) {
            synchronized (this) {
                if (chatTemplate == null) {
                    Path file = tokenizerDirectory.resolve("tokenizer_config.json");
                    if (!Files.isRegularFile(file)) {
                        throw new InvalidRequestException("chat prompts need a chat template, and " + file + " is missing");
                    }
                    try {
                        chatTemplate = ChatTemplate.fromTokenizerConfig(file);
                    } catch (IOException e) {
                        throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
                    }
                }
                template = chatTemplate;
            }
        }
        return template;
    }
}
