package io.hyserve.engine.tokenizer;

/**
 * The chat template could not render the messages: a template error, or input the template rejects (for
 * Hunyuan, an empty first message). A client error, not a server fault.
 */
public final class ChatTemplateException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public ChatTemplateException(String message) {
        super(message);
    }

    public ChatTemplateException(String message, Throwable cause) {
        super(message, cause);
    }
}
