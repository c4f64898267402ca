package io.hyserve.worker;

import io.hyserve.engine.FinishReason;
import io.hyserve.engine.Prompt;
import io.hyserve.engine.sample.SamplingParams;
import io.hyserve.engine.sample.TokenLogprob;
import io.hyserve.engine.tokenizer.ChatMessage;
import io.hyserve.schemas.InferenceRequest;
import io.hyserve.schemas.Logprob;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Wire request to engine request, engine output to wire fields. */
final class RequestMapping {
    private RequestMapping() {}

    static Prompt prompt(InferenceRequest.PromptInput input) {
        if (input.text() != null) {
            return Prompt.text(input.text());
        }
        if (input.tokenIds() != null) {
            return Prompt.tokens(input.tokenIds().stream().mapToInt(Integer::intValue).toArray());
        }
        List<ChatMessage> messages = input.messages().stream()
                .map(m -> new ChatMessage(m.role(), m.content())).toList();
        return Prompt.chat(messages, Boolean.TRUE.equals(input.parseSpecialTokens()));
    }

    static SamplingParams sampling(InferenceRequest.Sampling s) {
        if (s == null) {
            return SamplingParams.builder().build();
        }
        Map<Integer, Double> bias = null;
        if (s.logitBias() != null) {
            bias = new HashMap<>();
            for (Map.Entry<String, Double> entry : s.logitBias().entrySet()) {
                bias.put(Integer.parseInt(entry.getKey()), entry.getValue());
            }
        }
        return SamplingParams.builder()
                .temperature(s.temperature()).topP(s.topP()).topK(s.topK()).minP(s.minP())
                .repetitionPenalty(s.repetitionPenalty()).presencePenalty(s.presencePenalty())
                .frequencyPenalty(s.frequencyPenalty()).seed(s.seed()).maxTokens(s.maxTokens())
                .stop(s.stop()).stopTokenIds(s.stopTokenIds()).ignoreEos(s.ignoreEos())
                .logprobs(s.logprobs()).skipSpecialTokens(s.skipSpecialTokens()).logitBias(bias)
                .build();
    }

    static Logprob logprob(TokenLogprob logprob) {
        return new Logprob(logprob.tokenId(), logprob.logprob(),
                logprob.top().stream().map(a -> new Logprob.Alternative(a.tokenId(), a.logprob())).toList());
    }

    static String finishReason(FinishReason reason) {
        return reason.wireName();
    }
}
