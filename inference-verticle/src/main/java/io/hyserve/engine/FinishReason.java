package io.hyserve.engine;

/** Why a generation ended. */
public enum FinishReason {
    /** A stop token or stop string. */
    STOP("stop"),
    /** max_tokens, or the model's context length. */
    LENGTH("length"),
    /** Cancelled by the client or the server. */
    ABORT("abort");

    private final String wireName;

    FinishReason(String wireName) {
        this.wireName = wireName;
    }

    /** The OpenAI/vLLM spelling. */
    public String wireName() {
        return wireName;
    }
}
