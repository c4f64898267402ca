package io.hyserve.engine.sample;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The model's {@code generation_config.json}: sampling defaults for parameters a request leaves unset, and
 * the stop token ids. Without a file the released model's values apply (spec §9).
 */
public record GenerationDefaults(
        boolean doSample, double temperature, int topK, double topP, double repetitionPenalty, List<Integer> eosTokenIds,
        String source) {

    public static final String FILE_NAME = "generation_config.json";
    public static final GenerationDefaults RELEASE =
            new GenerationDefaults(true, 0.7, 20, 0.6, 1.05, List.of(127960, 127967), "built-in release defaults");

    /** Reads the first {@code generation_config.json} found in {@code folders}, else {@link #RELEASE}. */
    public static GenerationDefaults load(Path... folders) {
        for (Path folder : folders) {
            Path file = folder.resolve(FILE_NAME);
            if (Files.isRegularFile(file)) {
                return parse(file);
            }
        }
        return RELEASE;
    }

    static GenerationDefaults parse(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException("%s: invalid JSON: %s".formatted(file, e.getMessage()), e);
        }
        List<Integer> eos = new ArrayList<>();
        JsonNode eosNode = root.path("eos_token_id");
        if (eosNode.isArray()) {
            eosNode.forEach(id -> eos.add(id.asInt()));
        } else if (eosNode.isInt()) {
            eos.add(eosNode.asInt());
        } else {
            eos.addAll(RELEASE.eosTokenIds);
        }
        return new GenerationDefaults(
                root.path("do_sample").asBoolean(false),
                root.path("temperature").asDouble(1.0),
                root.path("top_k").asInt(0),
                root.path("top_p").asDouble(1.0),
                root.path("repetition_penalty").asDouble(1.0),
                List.copyOf(eos),
                file.toString());
    }

    /**
     * Fills what {@code request} leaves unset. A greedy request (temperature 0, explicit or because the
     * defaults do not sample) gets no default penalty: only penalties it names itself apply.
     *
     * @param contextRoom tokens left before the context limit; the default and the cap for max_tokens
     */
    public Sampling resolve(SamplingParams request, int contextRoom) {
        double temperature = request.temperature() != null ? request.temperature() : doSample ? this.temperature : 0;
        boolean greedy = temperature == 0;
        int topK = request.topK() != null ? Math.max(0, request.topK()) : greedy ? 0 : this.topK;
        double topP = request.topP() != null ? request.topP() : greedy ? 1 : this.topP;
        double minP = request.minP() != null ? request.minP() : 0;
        double repetition = request.repetitionPenalty() != null
                ? request.repetitionPenalty()
                : greedy ? 1 : this.repetitionPenalty;
        Set<Integer> stopIds = new LinkedHashSet<>(request.stopTokenIds());
        if (!Boolean.TRUE.equals(request.ignoreEos())) {
            stopIds.addAll(eosTokenIds);
        }
        int maxTokens = request.maxTokens() != null ? Math.min(request.maxTokens(), contextRoom) : contextRoom;
        long seed = request.seed() != null ? request.seed() : new SplittableRandom().nextLong();
        return new Sampling(
                temperature,
                topK,
                topP,
                minP,
                repetition,
                request.presencePenalty() != null ? request.presencePenalty() : 0,
                request.frequencyPenalty() != null ? request.frequencyPenalty() : 0,
                seed,
                maxTokens,
                request.stop(),
                Set.copyOf(stopIds),
                request.logprobs() != null ? request.logprobs() : -1,
                request.skipSpecialTokens() == null || request.skipSpecialTokens(),
                request.logitBias());
    }
}
