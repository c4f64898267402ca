package io.hyserve.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import io.hyserve.engine.sample.SamplingParams;
import io.hyserve.engine.testing.Fixtures;
import io.hyserve.engine.testing.GoldenTensors;
import io.hyserve.engine.tokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

/** The engine API end to end on the BF16 tiny fixture: prompts, stopping, cancelling, sampling, errors. */
class EngineTest {
    private static Engine engine;
    private static JsonNode golden;

    @BeforeAll
    static void start() {
        engine = Engine.start(EngineConfig.builder(Fixtures.model(Fixtures.BF16_MODEL), Fixtures.tokenizer()).threads(2)
                .maxNumBatchedTokens(16).build(), io.hyserve.engine.model.LoadProgress.NONE);
        golden = Fixtures.golden(Fixtures.BF16_MODEL);
    }

    @AfterAll
    static void stop() {
        engine.close();
    }

    private static JsonNode goldenCase(String name) {
        for (JsonNode c : golden.get("cases")) {
            if (c.get("name").asText().equals(name)) {
                return c;
            }
        }
        throw new IllegalArgumentException(name);
    }

    record Output(List<Integer> ids, String text, TokenEvent.Finished finished) {}

    private static Output run(Prompt prompt, SamplingParams params) {
        return collect(engine.submit(new GenerationRequest("t", prompt, params)).events());
    }

    private static Output collect(Flux<TokenEvent> events) {
        List<Integer> ids = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        TokenEvent.Finished[] finished = new TokenEvent.Finished[1];
        events.doOnNext(e -> {
            switch (e) {
                case TokenEvent.Token t -> {
                    ids.add(t.tokenId());
                    text.append(t.text());
                }
                case TokenEvent.Finished f -> {
                    text.append(f.text());
                    finished[0] = f;
                }
            }
        }).blockLast();
        return new Output(ids, text.toString(), finished[0]);
    }

    private static SamplingParams.Builder greedy(int maxTokens) {
        return SamplingParams.builder().temperature(0.0).maxTokens(maxTokens);
    }

    @Test
    void greedyGenerationMatchesTheReferenceContinuation() {
        for (JsonNode c : golden.get("cases")) {
            int[] prompt = Fixtures.ints(c.get("input_ids"));
            int[] expected = Fixtures.ints(c.get("greedy").get("ids"));
            Output out = run(Prompt.tokens(prompt), greedy(expected.length).ignoreEos(true).build());
            assertThat(out.ids()).as(c.get("name").asText()).containsExactly(java.util.Arrays.stream(expected).boxed()
                    .toArray(Integer[]::new));
            assertThat(out.finished().reason()).isEqualTo(FinishReason.LENGTH);
            assertThat(out.finished().promptTokens()).isEqualTo(prompt.length);
            assertThat(out.finished().completionTokens()).isEqualTo(expected.length);
            assertThat(out.text()).isEqualTo(engine.tokenizer().decode(expected, true));
        }
    }

    @Test
    void aStopTokenEndsTheOutputAndIsNotPartOfIt() {
        int[] prompt = Fixtures.ints(goldenCase("len7").get("input_ids"));
        int[] expected = Fixtures.ints(goldenCase("len7").get("greedy").get("ids"));
        Output out = run(Prompt.tokens(prompt), greedy(24).stopTokenIds(List.of(expected[3])).build());
        assertThat(out.ids()).containsExactly(expected[0], expected[1], expected[2]);
        assertThat(out.finished().reason()).isEqualTo(FinishReason.STOP);
    }

    @Test
    void aStopStringTruncatesTheText() {
        int[] prompt = Fixtures.ints(goldenCase("len33").get("input_ids"));
        Output full = run(Prompt.tokens(prompt), greedy(24).ignoreEos(true).build());
        String stop = full.text().substring(full.text().length() / 2, full.text().length() / 2 + 3);
        int at = full.text().indexOf(stop);
        Output cut = run(Prompt.tokens(prompt), greedy(24).ignoreEos(true).stop(List.of(stop)).build());
        assertThat(cut.text()).isEqualTo(full.text().substring(0, at));
        assertThat(cut.finished().reason()).isEqualTo(FinishReason.STOP);
        assertThat(cut.ids()).isEqualTo(full.ids().subList(0, cut.ids().size()));
        assertThat(cut.ids().size()).isLessThan(full.ids().size());
    }

    @Test
    void textPromptsStartWithStartOfTextAndChatPromptsUseTheTemplate() {
        GenerationStream text = engine.submit(new GenerationRequest("a", Prompt.text("Hello, world!"),
                greedy(1).build()));
        assertThat(text.promptIds()).containsExactly(127958, 9906, 11, 1917, 0);
        text.cancel();
        JsonNode chatGolden = Fixtures.json(Fixtures.tokenizer().resolve("chat_template_golden.json")).get("cases").get(0);
        List<ChatMessage> messages = new ArrayList<>();
        chatGolden.get("messages").forEach(m -> messages.add(new ChatMessage(m.get("role").asText(), m.get("content").asText())));
        GenerationStream chat = engine.submit(new GenerationRequest("b", Prompt.chat(messages), greedy(1).build()));
        assertThat(chat.promptIds()).containsExactly(Fixtures.ints(chatGolden.get("ids")));
        chat.cancel();
        assertThatThrownBy(() -> engine.submit(new GenerationRequest("c",
                        Prompt.chat(List.of(new ChatMessage("system", ""), new ChatMessage("user", "Hello"))), null)))
                .isInstanceOf(InvalidRequestException.class);
    }

    @Test
    void cancellingStopsTheGenerationWithAbort() {
        int[] prompt = Fixtures.ints(goldenCase("len7").get("input_ids"));
        GenerationStream stream = engine.submit(new GenerationRequest("long", Prompt.tokens(prompt),
                greedy(4000).ignoreEos(true).build()));
        AtomicInteger tokens = new AtomicInteger();
        Output out = collect(stream.events().doOnNext(e -> {
            if (e instanceof TokenEvent.Token && tokens.incrementAndGet() == 3) {
                stream.cancel();
            }
        }));
        assertThat(out.finished().reason()).isEqualTo(FinishReason.ABORT);
        // Events reach the consumer asynchronously, so a few more tokens may be in flight when it cancels.
        assertThat(out.ids().size()).isGreaterThanOrEqualTo(3).isLessThan(4000 - prompt.length);
        assertThat(out.finished().completionTokens()).isEqualTo(out.ids().size());
        // The engine goes on serving.
        assertThat(run(Prompt.tokens(prompt), greedy(2).build()).ids()).hasSize(2);
    }

    @Test
    void unsubscribingCancelsToo() {
        int[] prompt = Fixtures.ints(goldenCase("len7").get("input_ids"));
        GenerationStream stream = engine.submit(new GenerationRequest("sub", Prompt.tokens(prompt),
                greedy(4000).ignoreEos(true).build()));
        assertThat(stream.events().take(2).collectList().block()).hasSize(2);
        assertThat(run(Prompt.tokens(prompt), greedy(1).build()).ids()).hasSize(1);
    }

    @Test
    void maxTokensZeroAndTheContextLimitEndWithLength() {
        int[] prompt = Fixtures.ints(goldenCase("len7").get("input_ids"));
        Output none = run(Prompt.tokens(prompt), greedy(0).build());
        assertThat(none.ids()).isEmpty();
        assertThat(none.finished().reason()).isEqualTo(FinishReason.LENGTH);
        int context = engine.maxModelLength();
        int[] nearlyFull = new int[context - 3];
        java.util.Arrays.fill(nearlyFull, 9906);
        Output capped = run(Prompt.tokens(nearlyFull), greedy(100).ignoreEos(true).build());
        assertThat(capped.ids()).hasSize(3);
        assertThat(capped.finished().reason()).isEqualTo(FinishReason.LENGTH);
    }

    @Test
    void seededSamplingIsReproducible() {
        int[] prompt = Fixtures.ints(goldenCase("len33").get("input_ids"));
        SamplingParams seeded = SamplingParams.builder().temperature(1.0).topP(0.95).seed(1234L).maxTokens(16)
                .ignoreEos(true).build();
        Output a = run(Prompt.tokens(prompt), seeded);
        Output b = run(Prompt.tokens(prompt), seeded);
        Output other = run(Prompt.tokens(prompt), SamplingParams.builder().temperature(1.0).topP(0.95).seed(99L)
                .maxTokens(16).ignoreEos(true).build());
        assertThat(a.ids()).isEqualTo(b.ids()).hasSize(16);
        assertThat(a.ids()).isNotEqualTo(other.ids());
    }

    @Test
    void logprobsComeWithEachTokenWhenAsked() {
        int[] prompt = Fixtures.ints(goldenCase("len7").get("input_ids"));
        List<TokenEvent> events = engine.submit(new GenerationRequest("lp", Prompt.tokens(prompt),
                greedy(2).logprobs(3).build())).events().collectList().block();
        TokenEvent.Token first = (TokenEvent.Token) events.get(0);
        assertThat(first.logprob().top()).hasSize(3);
        assertThat(first.logprob().top().get(0).tokenId()).isEqualTo(first.tokenId());
        assertThat(first.logprob().logprob()).isNegative().isEqualTo(first.logprob().top().get(0).logprob());
    }

    @Test
    void badRequestsAreRefusedWithAClearMessage() {
        assertThatThrownBy(() -> run(Prompt.tokens(1, 128512), greedy(1).build()))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("128512");
        assertThatThrownBy(() -> run(Prompt.tokens(), greedy(1).build()))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("empty");
        assertThatThrownBy(() -> run(Prompt.tokens(new int[engine.maxModelLength()]), greedy(1).build()))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("context");
        assertThatThrownBy(() -> run(Prompt.tokens(1), SamplingParams.builder().temperature(-2.0).build()))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("temperature");
    }

    @Test
    void lastLogitsMatchTheReference() throws Exception {
        JsonNode c = goldenCase("len200");
        float[] logits = engine.lastLogits(Fixtures.ints(c.get("input_ids"))).get();
        float[] expected = GoldenTensors.read(Fixtures.BF16_MODEL, c.get("last_logits_tensor").asText());
        for (int i = 0; i < expected.length; i++) {
            assertThat(logits[i]).isCloseTo(expected[i], within(2e-3f));
        }
    }

    @Test
    void deviceAutoTakesTheGpuWhenUsableElseTheCpuAndUnknownDevicesAreRefused() {
        boolean gpu = io.hyserve.kernels.Gpu.availability().available();
        try (Engine auto = Engine.start(EngineConfig.builder(Fixtures.model(Fixtures.BF16_MODEL), Fixtures.tokenizer())
                .threads(1).device("auto").build(), io.hyserve.engine.model.LoadProgress.NONE)) {
            assertThat(auto.backendName()).startsWith(gpu ? "cuda (" : "cpu-vector (");
        }
        if (!gpu) {
            for (String device : new String[] {"cuda", "cuda-bf16"}) {
                assertThatThrownBy(() -> Engine.start(EngineConfig.builder(Fixtures.model(Fixtures.BF16_MODEL),
                        Fixtures.tokenizer()).device(device).build(), io.hyserve.engine.model.LoadProgress.NONE))
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("no GPU: ");
            }
        }
        assertThatThrownBy(() -> Engine.start(EngineConfig.builder(Fixtures.model(Fixtures.BF16_MODEL),
                Fixtures.tokenizer()).device("tpu").build(), io.hyserve.engine.model.LoadProgress.NONE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown device 'tpu'");
    }
}
