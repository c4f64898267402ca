package io.hyserve.engine;

import io.hyserve.engine.sample.Sampler;
import io.hyserve.engine.sample.Sampling;
import io.hyserve.engine.sample.TokenLogprob;
import io.hyserve.engine.sched.Request;
import io.hyserve.engine.tokenizer.HyTokenizer;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import reactor.core.publisher.Sinks;

/**
 * One request inside the engine: its scheduling state plus what turns logits into output: the sampler,
 * stop handling, detokenization and the bounded event stream to the caller. Engine thread only (except
 * the cancel flag).
 */
final class Generation extends Request {
    private final Sampling sampling;
    private final Sampler sampler;
    private final OutputText text;
    private final Sinks.Many<TokenEvent> sink;
    private final AtomicBoolean cancelled;
    private final int vocab;
    /** Set for a scoring request: it receives the last prompt position's logits and generates nothing. */
    private final CompletableFuture<float[]> scores;
    private boolean done;

    Generation(String id, int[] prompt, Sampling sampling, Sinks.Many<TokenEvent> sink, AtomicBoolean cancelled,
            HyTokenizer tokenizer, int vocab, CompletableFuture<float[]> scores) {
        super(id, prompt);
        this.sampling = sampling;
        this.sampler = new Sampler(sampling, prompt, vocab);
        this.text = new OutputText(tokenizer.streamingDetokenizer(sampling.skipSpecialTokens()), tokenizer.size(),
                sampling.stop());
        this.sink = sink;
        this.cancelled = cancelled;
        this.vocab = vocab;
        this.scores = scores;
    }

    boolean cancelled() {
        return cancelled.get();
    }

    boolean done() {
        return done;
    }

    /**
     * Takes the logits of this request's last token ({@code logits[offset .. offset+vocab)}): samples the
     * next token and streams it, or ends the request. Returns true when the request is done.
     */
    boolean accept(float[] logits, int offset) {
        if (scores != null) {
            scores.complete(Arrays.copyOfRange(logits, offset, offset + vocab));
            done = true;
            return true;
        }
        int token = sampler.next(logits, offset);
        if (sampling.stopTokenIds().contains(token)) {
            return finish(FinishReason.STOP, text.finish());
        }
        TokenLogprob logprob = sampling.logprobs() >= 0
                ? TokenLogprob.of(Arrays.copyOfRange(logits, offset, offset + vocab), token, sampling.logprobs())
                : null;
        append(token);
        if (!emit(new TokenEvent.Token(token, text.append(token), logprob))) {
            return true;
        }
        if (text.stopped()) {
            return finish(FinishReason.STOP, "");
        }
        if (generated() >= sampling.maxTokens()) {
            return finish(FinishReason.LENGTH, text.finish());
        }
        return false;
    }

    /** Ends the stream normally (stop, length or abort), flushing text held back for stop strings. */
    boolean finish(FinishReason reason) {
        return finish(reason, reason == FinishReason.ABORT ? "" : text.finish());
    }

    private boolean finish(FinishReason reason, String trailingText) {
        if (scores != null) {
            scores.cancel(false);
        } else if (emit(new TokenEvent.Finished(reason, trailingText, promptLength(), generated(), cachedPromptTokens(),
                queueNanos()))) {
            sink.tryEmitComplete();
        }
        done = true;
        return true;
    }

    /** Ends the stream with an error the caller sees as the Flux's error signal. */
    void fail(Throwable error) {
        if (scores != null) {
            scores.completeExceptionally(error);
        } else {
            sink.tryEmitError(error);
        }
        done = true;
    }

    /**
     * Emits an event without ever blocking the engine. A full buffer means the consumer stopped requesting:
     * the request is cancelled with an error that says so; a gone subscriber cancels it quietly.
     */
    private boolean emit(TokenEvent event) {
        Sinks.EmitResult result = sink.tryEmitNext(event);
        if (result.isSuccess()) {
            return true;
        }
        if (result == Sinks.EmitResult.FAIL_OVERFLOW) {
            sink.tryEmitError(new StreamOverflowException(
                    "request %s cancelled: its consumer stopped reading and the stream buffer is full".formatted(id())));
        }
        done = true;
        return false;
    }
}
