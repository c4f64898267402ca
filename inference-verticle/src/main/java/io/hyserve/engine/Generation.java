package io.hyserve.engine;

import io.hyserve.engine.kv.SequenceBlocks;
import io.hyserve.engine.sample.Sampler;
import io.hyserve.engine.sample.Sampling;
import io.hyserve.engine.sample.TokenLogprob;
import io.hyserve.engine.tokenizer.HyTokenizer;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Sinks;

/** One request from prefill to its last token, on the engine thread. */
final class Generation {
    private static final Logger log = LoggerFactory.getLogger(Generation.class);

    private final String requestId;
    private final int[] prompt;
    private final Sampling sampling;
    private final Sinks.Many<TokenEvent> sink;
    private final AtomicBoolean cancelled;
    private final ModelRunner runner;
    private final HyTokenizer tokenizer;
    private final int vocab;
    private final int prefillChunk;

    Generation(String requestId, int[] prompt, Sampling sampling, Sinks.Many<TokenEvent> sink, AtomicBoolean cancelled,
            ModelRunner runner, HyTokenizer tokenizer, int vocab, int prefillChunk) {
        this.requestId = requestId;
        this.prompt = prompt;
        this.sampling = sampling;
        this.sink = sink;
        this.cancelled = cancelled;
        this.runner = runner;
        this.tokenizer = tokenizer;
        this.vocab = vocab;
        this.prefillChunk = prefillChunk;
    }

    void run() {
        SequenceBlocks blocks = runner.newSequence();
        try {
            generate(blocks);
        } catch (RuntimeException e) {
            log.atWarn().setMessage("generation failed").addKeyValue("requestId", requestId)
                    .addKeyValue("error", e.toString()).log();
            sink.tryEmitError(e);
        } finally {
            runner.release(blocks);
        }
    }

    private void generate(SequenceBlocks blocks) {
        int generated = 0;
        if (sampling.maxTokens() == 0 || cancelled.get()) {
            finish(cancelled.get() ? FinishReason.ABORT : FinishReason.LENGTH, "", generated);
            return;
        }
        float[] logits = runner.prefill(blocks, prompt, prefillChunk, cancelled::get);
        if (logits == null) {
            finish(FinishReason.ABORT, "", generated);
            return;
        }
        Sampler sampler = new Sampler(sampling, prompt, vocab);
        OutputText text = new OutputText(tokenizer.streamingDetokenizer(sampling.skipSpecialTokens()), sampling.stop());
        while (true) {
            int token = sampler.next(logits, 0);
            if (sampling.stopTokenIds().contains(token)) {
                finish(FinishReason.STOP, text.finish(), generated);
                return;
            }
            TokenLogprob logprob = sampling.logprobs() >= 0
                    ? TokenLogprob.of(logits, token, sampling.logprobs())
                    : null;
            generated++;
            sink.tryEmitNext(new TokenEvent.Token(token, text.append(token), logprob));
            if (text.stopped()) {
                finish(FinishReason.STOP, "", generated);
                return;
            }
            if (generated >= sampling.maxTokens()) {
                finish(FinishReason.LENGTH, text.finish(), generated);
                return;
            }
            if (cancelled.get()) {
                finish(FinishReason.ABORT, text.finish(), generated);
                return;
            }
            logits = runner.append(blocks, prompt.length + generated - 1, new int[] {token});
        }
    }

    private void finish(FinishReason reason, String trailingText, int generated) {
        sink.tryEmitNext(new TokenEvent.Finished(reason, trailingText, prompt.length, generated));
        sink.tryEmitComplete();
    }
}
