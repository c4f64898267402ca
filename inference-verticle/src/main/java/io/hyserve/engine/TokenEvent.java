package io.hyserve.engine;

import io.hyserve.engine.sample.TokenLogprob;

/** What a generation stream carries: one event per generated token, then exactly one {@link Finished}. */
public sealed interface TokenEvent {
    /**
     * A generated token. {@code text} is the text that became final with it: possibly empty while a UTF-8
     * character or a possible stop string is still incomplete, or for a skipped special token.
     *
     * @param logprob null unless the request asked for logprobs
     */
    record Token(int tokenId, String text, TokenLogprob logprob) implements TokenEvent {}

    /**
     * The end. {@code text} is output held back until now (an incomplete character or stop-string prefix
     * that turned out not to be one); stop tokens and stop strings are never part of the output.
     * {@code cachedTokens} of the prompt were served by the prefix cache instead of computed; {@code queueNanos}
     * is the time from submission to the first step the request was part of.
     */
    record Finished(FinishReason reason, String text, int promptTokens, int completionTokens, int cachedTokens,
            long queueNanos) implements TokenEvent {}
}
