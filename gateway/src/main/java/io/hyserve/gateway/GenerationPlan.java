package io.hyserve.gateway;

import io.hyserve.engine.InvalidRequestException;
import io.hyserve.engine.Prompt;
import io.hyserve.engine.PromptEncoder;
import io.hyserve.engine.sample.SamplingParams;
import io.hyserve.engine.tokenizer.ChatMessage;
import io.hyserve.schemas.InferenceRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What one OpenAI completions or chat request asks for, checked and tokenized: every limit is enforced here,
 * before anything reaches Kafka.
 *
 * @param prompts one tokenized prompt per prompt of the request (chat: exactly one)
 * @param maxTokens per prompt, after the context-length default
 * @param topLogprobs null when no logprobs were asked for, else alternatives per token
 */
record GenerationPlan(
        boolean chat,
        String model,
        boolean stream,
        boolean includeUsage,
        int n,
        List<int[]> prompts,
        int[] maxTokens,
        InferenceRequest.Sampling sampling,
        Integer topLogprobs) {

    static final int MAX_N = 16;
    /** OpenAI's limit for completions' integer logprobs. */
    static final int MAX_COMPLETION_LOGPROBS = 5;

    /** Limits the plan is checked against. */
    record Limits(int maxModelLength, int maxPromptTokens, int maxTokens, int vocabulary, boolean allowSpecialTokensInChat) {}

    static GenerationPlan parse(JsonObject body, boolean chat, String servedModel, PromptEncoder encoder, Limits limits) {
        Fields f = new Fields(body);
        String model = f.string("model", true);
        if (!servedModel.equals(model)) {
            throw ApiError.notFound("The model `%s` does not exist.".formatted(model), "model_not_found");
        }
        boolean stream = Boolean.TRUE.equals(f.bool("stream"));
        Boolean includeUsage = null;
        JsonObject streamOptions = f.object("stream_options");
        if (streamOptions != null) {
            if (!stream) {
                throw ApiError.badRequest("stream_options is only allowed when stream is true", "stream_options");
            }
            includeUsage = new Fields(streamOptions, "stream_options.").bool("include_usage");
        }
        Integer n = f.integer("n");
        if (n != null && (n < 1 || n > MAX_N)) {
            throw ApiError.badRequest("n must be between 1 and " + MAX_N, "n");
        }
        Integer maxTokens = f.integer("max_completion_tokens");
        String maxTokensParam = "max_completion_tokens";
        if (maxTokens == null) {
            maxTokens = f.integer("max_tokens");
            maxTokensParam = "max_tokens";
        }
        if (maxTokens != null && maxTokens < 1) {
            throw ApiError.badRequest(maxTokensParam + " must be at least 1", maxTokensParam);
        }
        if (maxTokens != null && maxTokens > limits.maxTokens()) {
            throw ApiError.badRequest("%s is %d; this server allows at most %d".formatted(maxTokensParam, maxTokens,
                    limits.maxTokens()), maxTokensParam);
        }
        Integer topLogprobs;
        if (chat) {
            Integer top = f.integer("top_logprobs");
            boolean logprobs = Boolean.TRUE.equals(f.bool("logprobs"));
            if (top != null && !logprobs) {
                throw ApiError.badRequest("top_logprobs needs logprobs set to true", "top_logprobs");
            }
            topLogprobs = logprobs ? (top == null ? 0 : top) : null;
            if (topLogprobs != null && (topLogprobs < 0 || topLogprobs > SamplingParams.MAX_LOGPROBS)) {
                throw ApiError.badRequest("top_logprobs must be between 0 and " + SamplingParams.MAX_LOGPROBS, "top_logprobs");
            }
        } else {
            topLogprobs = f.integer("logprobs");
            if (topLogprobs != null && (topLogprobs < 0 || topLogprobs > MAX_COMPLETION_LOGPROBS)) {
                throw ApiError.badRequest("logprobs must be between 0 and " + MAX_COMPLETION_LOGPROBS, "logprobs");
            }
        }
        Map<Integer, Double> logitBias = f.logitBias();
        SamplingParams params = SamplingParams.builder()
                .temperature(f.number("temperature")).topP(f.number("top_p")).topK(f.integer("top_k"))
                .minP(f.number("min_p")).repetitionPenalty(f.number("repetition_penalty"))
                .presencePenalty(f.number("presence_penalty")).frequencyPenalty(f.number("frequency_penalty"))
                .seed(f.longInteger("seed")).stop(f.stop()).stopTokenIds(f.integers("stop_token_ids"))
                .ignoreEos(f.bool("ignore_eos")).skipSpecialTokens(f.bool("skip_special_tokens"))
                .logprobs(topLogprobs).logitBias(logitBias).maxTokens(maxTokens)
                .build();
        try {
            params.validate();
        } catch (IllegalArgumentException e) {
            throw ApiError.badRequest(e.getMessage(), null);
        }
        for (int id : logitBias.keySet()) {
            if (id >= limits.vocabulary()) {
                throw ApiError.badRequest("logit_bias has token id %d, outside the vocabulary [0, %d)"
                        .formatted(id, limits.vocabulary()), "logit_bias");
            }
        }

        List<Prompt> prompts = chat ? List.of(chatPrompt(f, limits)) : completionPrompts(f);
        List<int[]> ids = new ArrayList<>(prompts.size());
        int[] budgets = new int[prompts.size()];
        for (int i = 0; i < prompts.size(); i++) {
            int[] promptIds;
            try {
                promptIds = encoder.encode(prompts.get(i));
            } catch (InvalidRequestException e) {
                throw ApiError.badRequest(e.getMessage(), chat ? "messages" : "prompt");
            }
            checkPrompt(promptIds, maxTokens, limits, chat);
            ids.add(promptIds);
            budgets[i] = maxTokens != null ? maxTokens
                    : Math.min(limits.maxTokens(), limits.maxModelLength() - promptIds.length);
        }
        Map<String, Double> wireBias = null;
        if (!logitBias.isEmpty()) {
            wireBias = new HashMap<>();
            for (Map.Entry<Integer, Double> e : logitBias.entrySet()) {
                wireBias.put(Integer.toString(e.getKey()), e.getValue());
            }
        }
        InferenceRequest.Sampling sampling = new InferenceRequest.Sampling(params.temperature(), params.topP(),
                params.topK(), params.minP(), params.repetitionPenalty(), params.presencePenalty(),
                params.frequencyPenalty(), params.seed(), null, params.stop().isEmpty() ? null : params.stop(),
                params.stopTokenIds().isEmpty() ? null : params.stopTokenIds(), params.ignoreEos(), topLogprobs,
                params.skipSpecialTokens(), wireBias);
        return new GenerationPlan(chat, model, stream, Boolean.TRUE.equals(includeUsage), n == null ? 1 : n, ids,
                budgets, sampling, topLogprobs);
    }

    private static void checkPrompt(int[] ids, Integer maxTokens, Limits limits, boolean chat) {
        if (ids.length == 0) {
            throw ApiError.badRequest("the prompt is empty", chat ? "messages" : "prompt");
        }
        for (int id : ids) {
            if (id < 0 || id >= limits.vocabulary()) {
                throw ApiError.badRequest("token id %d is outside the vocabulary [0, %d)".formatted(id, limits.vocabulary()),
                        "prompt");
            }
        }
        if (ids.length > limits.maxPromptTokens()) {
            throw ApiError.badRequest("the prompt has %d tokens; this server allows at most %d"
                    .formatted(ids.length, limits.maxPromptTokens()), chat ? "messages" : "prompt");
        }
        int completion = maxTokens == null ? 1 : maxTokens;
        if (ids.length + completion > limits.maxModelLength()) {
            throw ApiError.badRequest(("This model's maximum context length is %d tokens. However, you requested %d "
                    + "tokens (%d in the %s, %d in the completion). Please reduce the length of the %s or completion.")
                    .formatted(limits.maxModelLength(), ids.length + completion, ids.length, chat ? "messages" : "prompt",
                            completion, chat ? "messages" : "prompt"), chat ? "messages" : "max_tokens");
        }
    }

    private static Prompt chatPrompt(Fields f, Limits limits) {
        JsonArray messages = f.array("messages", true);
        if (messages.isEmpty()) {
            throw ApiError.badRequest("messages must not be empty", "messages");
        }
        List<ChatMessage> turns = new ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            String where = "messages[" + i + "]";
            if (!(messages.getValue(i) instanceof JsonObject message)) {
                throw ApiError.badRequest(where + " must be an object", "messages");
            }
            Fields m = new Fields(message, where + ".");
            String role = m.string("role", true);
            if (!role.equals("system") && !role.equals("user") && !role.equals("assistant")) {
                throw ApiError.badRequest("%s.role '%s' is not supported; use system, user or assistant".formatted(where, role),
                        "messages");
            }
            turns.add(new ChatMessage(role, content(message.getValue("content"), where)));
        }
        return Prompt.chat(turns, limits.allowSpecialTokensInChat());
    }

    /** A string, or OpenAI's list of content parts of which only text parts are supported. */
    private static String content(Object value, String where) {
        if (value instanceof String text) {
            return text;
        }
        if (value instanceof JsonArray parts) {
            StringBuilder text = new StringBuilder();
            for (int i = 0; i < parts.size(); i++) {
                if (!(parts.getValue(i) instanceof JsonObject part) || !"text".equals(part.getValue("type"))
                        || !(part.getValue("text") instanceof String partText)) {
                    throw ApiError.badRequest("%s.content[%d] must be a text part ({\"type\":\"text\",\"text\":…})"
                            .formatted(where, i), "messages");
                }
                text.append(partText);
            }
            return text.toString();
        }
        throw ApiError.badRequest(where + ".content must be a string or a list of text parts", "messages");
    }

    private static List<Prompt> completionPrompts(Fields f) {
        Object prompt = f.body.getValue("prompt");
        if (prompt instanceof String text) {
            return List.of(Prompt.text(text));
        }
        if (prompt instanceof JsonArray array && !array.isEmpty()) {
            Object first = array.getValue(0);
            if (first instanceof Number) {
                return List.of(Prompt.tokens(tokenIds(array, "prompt")));
            }
            List<Prompt> prompts = new ArrayList<>(array.size());
            for (int i = 0; i < array.size(); i++) {
                Object item = array.getValue(i);
                if (item instanceof String text) {
                    prompts.add(Prompt.text(text));
                } else if (item instanceof JsonArray ids) {
                    prompts.add(Prompt.tokens(tokenIds(ids, "prompt[" + i + "]")));
                } else {
                    throw ApiError.badRequest("prompt[%d] must be a string or a list of token ids".formatted(i), "prompt");
                }
            }
            if (prompts.size() > MAX_N) {
                throw ApiError.badRequest("at most %d prompts per request".formatted(MAX_N), "prompt");
            }
            return prompts;
        }
        throw ApiError.badRequest("prompt must be a string, a list of strings, or a list of token ids", "prompt");
    }

    private static int[] tokenIds(JsonArray array, String where) {
        if (array.isEmpty()) {
            throw ApiError.badRequest(where + " must not be empty", "prompt");
        }
        int[] ids = new int[array.size()];
        for (int i = 0; i < ids.length; i++) {
            if (!(array.getValue(i) instanceof Number number) || number.doubleValue() != Math.rint(number.doubleValue())
                    || Math.abs(number.doubleValue()) > Integer.MAX_VALUE) {
                throw ApiError.badRequest("%s[%d] must be an integer token id".formatted(where, i), "prompt");
            }
            ids[i] = number.intValue();
        }
        return ids;
    }

    /** Typed reads of a JSON object; a wrong type is a 400 that names the field. */
    private static final class Fields {
        final JsonObject body;
        private final String prefix;

        Fields(JsonObject body) {
            this(body, "");
        }

        Fields(JsonObject body, String prefix) {
            this.body = body;
            this.prefix = prefix;
        }

        private ApiError wrongType(String name, String expected) {
            return ApiError.badRequest("%s%s must be %s".formatted(prefix, name, expected), prefix + name);
        }

        String string(String name, boolean required) {
            Object value = body.getValue(name);
            if (value == null) {
                if (required) {
                    throw ApiError.badRequest("%s%s is required".formatted(prefix, name), prefix + name);
                }
                return null;
            }
            if (!(value instanceof String s)) {
                throw wrongType(name, "a string");
            }
            return s;
        }

        Boolean bool(String name) {
            Object value = body.getValue(name);
            if (value != null && !(value instanceof Boolean)) {
                throw wrongType(name, "a boolean");
            }
            return (Boolean) value;
        }

        Double number(String name) {
            Object value = body.getValue(name);
            if (value == null) {
                return null;
            }
            if (!(value instanceof Number number)) {
                throw wrongType(name, "a number");
            }
            return number.doubleValue();
        }

        Long longInteger(String name) {
            Object value = body.getValue(name);
            if (value == null) {
                return null;
            }
            if (!(value instanceof Number number) || number.doubleValue() != Math.rint(number.doubleValue())
                    || value instanceof Double && Math.abs(number.doubleValue()) > 0x1p53) {
                throw wrongType(name, "an integer");
            }
            return number.longValue();
        }

        Integer integer(String name) {
            Long value = longInteger(name);
            if (value == null) {
                return null;
            }
            if (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE) {
                throw ApiError.badRequest("%s%s is out of range".formatted(prefix, name), prefix + name);
            }
            return value.intValue();
        }

        JsonObject object(String name) {
            Object value = body.getValue(name);
            if (value != null && !(value instanceof JsonObject)) {
                throw wrongType(name, "an object");
            }
            return (JsonObject) value;
        }

        JsonArray array(String name, boolean required) {
            Object value = body.getValue(name);
            if (value == null && required) {
                throw ApiError.badRequest("%s%s is required".formatted(prefix, name), prefix + name);
            }
            if (value != null && !(value instanceof JsonArray)) {
                throw wrongType(name, "an array");
            }
            return (JsonArray) value;
        }

        List<Integer> integers(String name) {
            JsonArray array = array(name, false);
            if (array == null) {
                return null;
            }
            List<Integer> out = new ArrayList<>(array.size());
            for (Object item : array) {
                if (!(item instanceof Number number) || number.doubleValue() != Math.rint(number.doubleValue())) {
                    throw wrongType(name, "a list of integers");
                }
                out.add(number.intValue());
            }
            return out;
        }

        List<String> stop() {
            Object value = body.getValue("stop");
            if (value == null) {
                return null;
            }
            if (value instanceof String s) {
                return List.of(s);
            }
            if (value instanceof JsonArray array && array.size() <= 16) {
                List<String> out = new ArrayList<>();
                for (Object item : array) {
                    if (!(item instanceof String s)) {
                        throw wrongType("stop", "a string or a list of up to 16 strings");
                    }
                    out.add(s);
                }
                return out;
            }
            throw wrongType("stop", "a string or a list of up to 16 strings");
        }

        Map<Integer, Double> logitBias() {
            JsonObject bias = object("logit_bias");
            Map<Integer, Double> out = new HashMap<>();
            if (bias == null) {
                return out;
            }
            for (String key : bias.fieldNames()) {
                int id;
                try {
                    id = Integer.parseInt(key);
                } catch (NumberFormatException e) {
                    throw ApiError.badRequest("logit_bias keys must be token ids, not '%s'".formatted(key), "logit_bias");
                }
                if (!(bias.getValue(key) instanceof Number value)) {
                    throw ApiError.badRequest("logit_bias values must be numbers", "logit_bias");
                }
                out.put(id, value.doubleValue());
            }
            return out;
        }
    }
}
