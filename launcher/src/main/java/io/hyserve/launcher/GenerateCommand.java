package io.hyserve.launcher;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hyserve.engine.Engine;
import io.hyserve.engine.GenerationRequest;
import io.hyserve.engine.GenerationStream;
import io.hyserve.engine.Prompt;
import io.hyserve.engine.TokenEvent;
import io.hyserve.engine.sample.SamplingParams;
import io.hyserve.engine.tokenizer.ChatMessage;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code generate}: streams a continuation to stdout, or prints one JSON object with {@code --json}. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate a continuation of a prompt.")
final class GenerateCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Mixin
    EngineOptions engine;

    @ArgGroup(exclusive = true, multiplicity = "1")
    PromptSource prompt;

    static final class PromptSource {
        @Option(names = "--prompt", paramLabel = "TEXT", description = "Text; <|startoftext|> is prepended")
        String text;

        @Option(names = "--prompt-ids", paramLabel = "IDS", converter = TokenIdList.Converter.class,
                description = "Comma-separated token ids, fed exactly as given")
        TokenIdList ids;

        @Option(names = "--messages", paramLabel = "JSON",
                description = "Chat messages as a JSON array of {\"role\":…,\"content\":…}, rendered by the chat template")
        String messages;
    }

    @Option(names = "--max-tokens", defaultValue = "128", description = "Most tokens to generate (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temperature", description = "0 is greedy (default: generation_config.json)")
    Double temperature;

    @Option(names = "--top-p")
    Double topP;

    @Option(names = "--top-k")
    Integer topK;

    @Option(names = "--min-p")
    Double minP;

    @Option(names = "--repetition-penalty")
    Double repetitionPenalty;

    @Option(names = "--presence-penalty")
    Double presencePenalty;

    @Option(names = "--frequency-penalty")
    Double frequencyPenalty;

    @Option(names = "--seed")
    Long seed;

    @Option(names = "--stop", paramLabel = "STR", description = "Stop string (repeatable); not part of the output")
    List<String> stop = new ArrayList<>();

    @Option(names = "--stop-token-ids", paramLabel = "IDS", converter = TokenIdList.Converter.class,
            description = "Extra stop token ids")
    TokenIdList stopTokenIds;

    @Option(names = "--ignore-eos", description = "Do not stop on the model's end-of-sequence tokens")
    boolean ignoreEos;

    @Option(names = "--logprobs", paramLabel = "N", description = "Report each token's logprob and N alternatives (with --json)")
    Integer logprobs;

    @Option(names = "--json", description = "Print only {\"ids\":[…],\"text\":\"…\",\"finish_reason\":\"…\"}")
    boolean json;

    @Override
    public Integer call() {
        SamplingParams sampling = SamplingParams.builder()
                .maxTokens(maxTokens)
                .temperature(temperature)
                .topP(topP)
                .topK(topK)
                .minP(minP)
                .repetitionPenalty(repetitionPenalty)
                .presencePenalty(presencePenalty)
                .frequencyPenalty(frequencyPenalty)
                .seed(seed)
                .stop(stop)
                .stopTokenIds(stopTokenIds == null ? null : Arrays.stream(stopTokenIds.ids()).boxed().toList())
                .ignoreEos(ignoreEos)
                .logprobs(logprobs)
                .build();
        Prompt input = prompt.text != null
                ? Prompt.text(prompt.text)
                : prompt.ids != null ? Prompt.tokens(prompt.ids.ids()) : Prompt.chat(parseMessages(prompt.messages));
        PrintWriter out = spec.commandLine().getOut();
        try (Engine running = engine.startEngine()) {
            GenerationStream stream = running.submit(new GenerationRequest("cli-" + UUID.randomUUID(), input, sampling));
            List<Integer> ids = new ArrayList<>();
            StringBuilder text = new StringBuilder();
            ArrayNode tokenLogprobs = JSON.createArrayNode();
            String[] finishReason = new String[1];
            stream.events().doOnNext(event -> {
                switch (event) {
                    case TokenEvent.Token token -> {
                        ids.add(token.tokenId());
                        text.append(token.text());
                        if (token.logprob() != null) {
                            tokenLogprobs.add(JSON.valueToTree(token.logprob()));
                        }
                        if (!json) {
                            out.print(token.text());
                            out.flush();
                        }
                    }
                    case TokenEvent.Finished finished -> {
                        text.append(finished.text());
                        finishReason[0] = finished.reason().wireName();
                        if (!json) {
                            out.println(finished.text());
                        }
                    }
                }
            }).blockLast();
            if (json) {
                ObjectNode result = JSON.createObjectNode();
                result.set("ids", JSON.valueToTree(ids));
                result.put("text", text.toString());
                result.put("finish_reason", finishReason[0]);
                if (logprobs != null) {
                    result.set("logprobs", tokenLogprobs);
                }
                out.println(result);
            }
            out.flush();
        }
        return 0;
    }

    private static List<ChatMessage> parseMessages(String messages) {
        JsonNode root;
        try {
            root = JSON.readTree(messages);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("--messages is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isArray() || root.isEmpty()) {
            throw new IllegalArgumentException("--messages must be a non-empty JSON array of {\"role\", \"content\"} objects");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (JsonNode m : root) {
            if (!m.path("role").isTextual() || !m.path("content").isTextual()) {
                throw new IllegalArgumentException("--messages: every message needs string \"role\" and \"content\", got " + m);
            }
            out.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
        }
        return out;
    }
}
