package io.hyserve.gateway;

import io.hyserve.schemas.ErrorCode;
import io.hyserve.schemas.Logprob;
import io.hyserve.schemas.StreamEvent;
import io.hyserve.schemas.Usage;
import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * One completions or chat request in flight: its generations (choices), the events that arrived for them and
 * have not been written to the client yet, and the client's response. Event-loop thread only.
 *
 * <p>Backpressure: events are written only while the response's write queue has room; the rest wait here.
 * A worker may run ahead of what the client read by at most the stream credit, granted back as events are
 * written, so this queue is bounded by choices × credit (+ one terminal event each). A client that stops
 * reading stops the grants, the worker stops pulling the engine's stream, and the engine cancels the
 * request when its own bounded buffer overflows.
 */
final class Exchange {
    final String id;
    final GenerationPlan plan;
    final long created;
    private final ExchangeOutput output;
    private final Gateway gateway;
    final List<Choice> choices = new ArrayList<>();
    private final ArrayDeque<Queued> queue = new ArrayDeque<>();
    private final int creditBatch;
    private boolean ended;
    long deadlineTimer = -1;
    /** The request's server span; ends when the exchange does. */
    io.opentelemetry.api.trace.Span span = io.opentelemetry.api.trace.Span.getInvalid();
    /** The API key's name, for its rate limits, and what this request reserved of them. */
    String key;
    int reservedTokens;

    private record Queued(Choice choice, StreamEvent event) {}

    /** One generation of the exchange. */
    final class Choice {
        final int index;
        final int promptIndex;
        final String requestId;
        private long expectedSeq;
        String workerId;
        private int unGranted;
        private boolean roleSent;
        boolean finished;
        final StringBuilder text = new StringBuilder();
        final List<Logprob> logprobs = new ArrayList<>();
        String finishReason;
        private Usage usage;

        /** Sends the assistant role before this choice's first content (chat streaming). */
        boolean takeRole() {
            boolean first = !roleSent;
            roleSent = true;
            return first;
        }

        Exchange exchange() {
            return Exchange.this;
        }

        Choice(int index, int promptIndex, String requestId) {
            this.index = index;
            this.promptIndex = promptIndex;
            this.requestId = requestId;
        }
    }

    /** The output is created from the exchange, since its shape depends on the request. */
    Exchange(String id, GenerationPlan plan, java.util.function.Function<Exchange, ExchangeOutput> output, Gateway gateway,
            int streamCredit) {
        this.id = id;
        this.plan = plan;
        this.created = System.currentTimeMillis() / 1000;
        this.gateway = gateway;
        this.creditBatch = Math.max(1, streamCredit / 2);
        int index = 0;
        for (int p = 0; p < plan.prompts().size(); p++) {
            for (int i = 0; i < plan.n(); i++, index++) {
                choices.add(new Choice(index, p, id + "-" + index));
            }
        }
        this.output = output.apply(this);
    }

    boolean ended() {
        return ended;
    }

    int queued() {
        return queue.size();
    }

    /** An event for one of this exchange's generations, from the events topic. */
    void onEvent(Choice choice, StreamEvent event) {
        if (ended || choice.finished) {
            return;
        }
        if (event.seq() != choice.expectedSeq) {
            fail(choice, ErrorCode.INTERNAL_ERROR, "stream events arrived out of order (expected %d, got %d)"
                    .formatted(choice.expectedSeq, event.seq()));
            return;
        }
        choice.expectedSeq++;
        if (event instanceof StreamEvent.Started started) {
            choice.workerId = started.workerId();
            return;
        }
        if (event instanceof StreamEvent.Finish || event instanceof StreamEvent.Failure) {
            choice.finished = true;
        }
        if (event instanceof StreamEvent.Failure failure) {
            fail(choice, failure.code(), failure.message());
            return;
        }
        if (!plan.stream()) {
            accumulate(choice, event);
            if (choices.stream().allMatch(c -> c.finished)) {
                complete();
            }
            return;
        }
        queue.add(new Queued(choice, event));
        gateway.stats().queuedHighWater(queue.size());
        pump();
    }

    /** Writes queued events while the client keeps up; resumes on drain. */
    void pump() {
        while (!ended && !queue.isEmpty() && !output.writeQueueFull()) {
            Queued next = queue.poll();
            write(next.choice(), next.event());
            if (next.event() instanceof StreamEvent.Delta && ++next.choice().unGranted >= creditBatch
                    && !next.choice().finished) {
                gateway.grant(next.choice().requestId, next.choice().unGranted);
                next.choice().unGranted = 0;
            }
        }
        if (ended) {
            return;
        }
        if (!queue.isEmpty()) {
            output.onDrain(this::pump);
        } else if (choices.stream().allMatch(c -> c.finished)) {
            complete();
        }
    }

    private void accumulate(Choice choice, StreamEvent event) {
        switch (event) {
            case StreamEvent.Delta delta -> {
                choice.text.append(delta.text());
                if (delta.logprobs() != null) {
                    choice.logprobs.addAll(delta.logprobs());
                }
            }
            case StreamEvent.Finish finish -> {
                choice.text.append(finish.text());
                choice.finishReason = finish.finishReason();
                choice.usage = finish.usage();
            }
            default -> { }
        }
    }

    private void write(Choice choice, StreamEvent event) {
        switch (event) {
            case StreamEvent.Delta delta -> output.delta(choice, delta.text(), delta.tokenIds(), delta.logprobs());
            case StreamEvent.Finish finish -> {
                choice.usage = finish.usage();
                choice.finishReason = finish.finishReason();
                output.finish(choice, finish.text(), finish.finishReason());
            }
            default -> { }
        }
    }

    /** Prompt and completion tokens counted so far (a generation that failed counts what it reported). */
    int usedTokens() {
        int used = 0;
        for (Choice choice : choices) {
            if (choice.usage != null) {
                used += choice.usage.promptTokens() + choice.usage.completionTokens();
            }
        }
        return used;
    }

    JsonObject usage() {
        int prompt = 0;
        int completion = 0;
        int cached = 0;
        for (Choice choice : choices) {
            if (choice.usage == null) {
                continue;
            }
            completion += choice.usage.completionTokens();
            if (choice.index % plan.n() == 0) { // each prompt once, however many choices it has
                prompt += choice.usage.promptTokens();
                cached += choice.usage.cachedTokens();
            }
        }
        return new JsonObject().put("prompt_tokens", prompt).put("completion_tokens", completion)
                .put("total_tokens", prompt + completion)
                .put("prompt_tokens_details", new JsonObject().put("cached_tokens", cached));
    }

    private void complete() {
        output.complete(choices, usage());
        close();
    }

    /** Ends the whole exchange with an error; the other generations are cancelled. */
    void fail(Choice culprit, ErrorCode code, String message) {
        if (ended) {
            return;
        }
        if (culprit != null) {
            culprit.finished = true;
        }
        if (code == ErrorCode.STREAM_OVERFLOW) {
            gateway.stats().slowClientCancelled();
        }
        cancelUnfinished("ended by an error in a sibling generation");
        ApiError error = switch (code) {
            case INVALID_REQUEST -> ApiError.badRequest(message, null);
            case WORKER_LOST, SHUTTING_DOWN -> ApiError.unavailable(message);
            case DEADLINE_EXCEEDED -> new ApiError(504, "timeout_error", message, null, code.wireName());
            case STREAM_OVERFLOW, INTERNAL_ERROR -> new ApiError(500, "internal_error", message, null, code.wireName());
        };
        queue.clear(); // the client is told at once
        span.setStatus(io.opentelemetry.api.trace.StatusCode.ERROR, error.getMessage());
        output.error(error);
        close();
    }

    /** The client went away: cancel what still runs and free everything. */
    void abandon() {
        if (ended) {
            return;
        }
        cancelUnfinished("client disconnected");
        close();
    }

    private void cancelUnfinished(String reason) {
        for (Choice choice : choices) {
            if (!choice.finished) {
                choice.finished = true;
                gateway.cancel(choice.requestId, reason);
            }
        }
    }

    private void close() {
        ended = true;
        queue.clear();
        gateway.closed(this);
    }
}
