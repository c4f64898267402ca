package io.hyserve.engine;

import java.util.concurrent.atomic.AtomicBoolean;
import reactor.core.publisher.Flux;

/**
 * A running generation: its token events and a way to stop it. Cancelling the event subscription
 * cancels the generation too.
 */
public final class GenerationStream {
    private final String requestId;
    private final int[] promptIds;
    private final Flux<TokenEvent> events;
    private final AtomicBoolean cancelled;

    GenerationStream(String requestId, int[] promptIds, Flux<TokenEvent> events, AtomicBoolean cancelled) {
        this.requestId = requestId;
        this.promptIds = promptIds;
        this.events = events.doOnCancel(this::cancel);
        this.cancelled = cancelled;
    }

    public String requestId() {
        return requestId;
    }

    /** The prompt as the model sees it, after templating and tokenization. */
    public int[] promptIds() {
        return promptIds.clone();
    }

    public Flux<TokenEvent> events() {
        return events;
    }

    /** Stops the generation at its next step (or before it starts); the stream then finishes with ABORT. */
    public void cancel() {
        cancelled.set(true);
    }
}
