package io.hyserve.engine;

import io.hyserve.engine.sample.SamplingParams;
import java.util.Objects;

/** One generation: an id (for logs and cancel), the prompt and what the request asks of sampling. */
public record GenerationRequest(String requestId, Prompt prompt, SamplingParams sampling) {
    public GenerationRequest {
        Objects.requireNonNull(requestId, "requestId");
        Objects.requireNonNull(prompt, "prompt");
        sampling = sampling == null ? SamplingParams.builder().build() : sampling;
    }
}
