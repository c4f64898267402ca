package io.hyserve.schemas;

/** Token counts of one generation; {@code cachedTokens} of the prompt came from the prefix cache. */
public record Usage(int promptTokens, int completionTokens, int cachedTokens) {}
