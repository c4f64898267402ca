package io.hyserve.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.IntFunction;

/**
 * Renders a checkpoint's own Jinja {@code chat_template} (from {@code tokenizer_config.json}) the way
 * transformers' {@code apply_chat_template} does, with Jinjava standing in for jinja2.
 *
 * <p>Transformers renders in jinja2's {@code ImmutableSandboxedEnvironment} (with {@code trim_blocks} and
 * {@code lstrip_blocks}), where calling a mutating method on a dict or list is a {@code SecurityError}. The
 * Hunyuan template calls {@code context.update(...)} when the first message is empty, so that input must
 * fail, not render what an unsandboxed engine would. Jinjava is configured to refuse those methods by name,
 * and any Jinjava error, fatal or not, becomes a {@link ChatTemplateException} rather than partial output.
 *
 * <p>Immutable and thread-safe.
 */
public final class ChatTemplate {

    /** The transformers-side keys whose token strings are passed to the template when the config has them. */
    private static final List<String> SPECIAL_TOKEN_KEYS =
            List.of("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token");

    /**
     * Methods the template may not call. The first group is what jinja2's immutable sandbox forbids on dicts,
     * lists, sets and deques; the second is the Java collection API Jinjava would otherwise expose on the same
     * objects. {@code replace} stays allowed because templates use it on strings.
     */
    private static final Set<String> MUTATING_METHODS = Set.of(
            "update", "append", "pop", "clear", "setdefault", "extend", "insert", "remove", "sort", "reverse",
            "popitem", "add", "discard", "difference_update", "intersection_update",
            "symmetric_difference_update", "appendleft", "extendleft", "popleft", "rotate",
            "put", "putAll", "putIfAbsent", "addAll", "removeAll", "retainAll", "removeIf", "replaceAll",
            "compute", "computeIfAbsent", "computeIfPresent", "merge", "set", "addFirst", "addLast",
            "removeFirst", "removeLast");

    private static final String RESTRICTED_METHOD_ERROR = "Cannot find method '";

    /** Private-use characters around a content placeholder: no template has a reason to touch them. */
    private static final String PLACEHOLDER_OPEN = "\uE000";
    private static final String PLACEHOLDER_CLOSE = "\uE001";

    private final String source;
    private final Map<String, String> specialTokens;
    private final Jinjava jinjava;

    ChatTemplate(String source, Map<String, String> specialTokens) {
        this.source = withoutOneTrailingNewline(Objects.requireNonNull(source, "source"));
        this.specialTokens = Map.copyOf(specialTokens);
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder()
                .withRestrictedMethods(MUTATING_METHODS)
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                // Each override below makes Jinjava behave like jinja2 (checked in ChatTemplateTest).
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withEvaluateMapKeys(true)
                        .withIterateOverMapKeys(true)
                        .withUsePyishObjectMapper(true)
                        .withUseTrimmingForNotesAndExpressions(true)
                        .build())
                .build());
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition(
                "", "raise_exception", TemplateFunctions.class, "raiseException", String.class));
    }

    /**
     * Reads {@code chat_template} (a string, or transformers' list of named templates, of which "default" is
     * used) and the special-token strings from a {@code tokenizer_config.json}.
     *
     * @throws IOException if the file cannot be read or has no usable {@code chat_template}
     */
    public static ChatTemplate fromTokenizerConfig(Path tokenizerConfigJson) throws IOException {
        JsonNode config = new ObjectMapper().readTree(tokenizerConfigJson.toFile());
        JsonNode template = config == null ? null : config.get("chat_template");
        if (template == null || template.isNull()) {
            throw new IOException(tokenizerConfigJson + " has no \"chat_template\"");
        }
        String source = template.isTextual() ? template.asText() : defaultNamedTemplate(template);
        if (source == null) {
            throw new IOException(tokenizerConfigJson + ": \"chat_template\" is neither a string nor a list of"
                    + " {name, template} with a \"default\" entry");
        }
        Map<String, String> tokens = new HashMap<>();
        for (String key : SPECIAL_TOKEN_KEYS) {
            JsonNode token = config.get(key);
            // A token is either a plain string or a serialised AddedToken {"content": ...}.
            JsonNode text = token != null && token.isObject() ? token.get("content") : token;
            if (text != null && text.isTextual()) {
                tokens.put(key, text.asText());
            }
        }
        return new ChatTemplate(source, tokens);
    }

    /**
     * The prompt for {@code messages}, rendered with {@code add_generation_prompt=false} (the Hunyuan template
     * has no generation prompt: the reply follows the final {@code <|extra_0|>}).
     *
     * @throws ChatTemplateException if the template fails or rejects the messages
     * @throws NullPointerException if {@code messages} or one of its elements is null
     */
    public String render(List<ChatMessage> messages) {
        Objects.requireNonNull(messages, "messages must not be null");
        return renderTurns(messages, i -> messages.get(i).content());
    }

    /**
     * The prompt for {@code messages} split into template text and message content (literal parts), so the
     * content can be encoded without honouring special-token text in it. Each non-empty content is rendered
     * as a unique placeholder and put back afterwards; a template that alters or repeats the content cannot
     * be split this way and is refused.
     *
     * @throws ChatTemplateException if the template fails, rejects the messages, or rewrites their content
     */
    public List<TextPart> renderParts(List<ChatMessage> messages) {
        Objects.requireNonNull(messages, "messages must not be null");
        String nonce = Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36);
        List<String> placeholders = new ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            placeholders.add(messages.get(i) == null || messages.get(i).content().isEmpty()
                    ? "" : PLACEHOLDER_OPEN + nonce + "-" + i + PLACEHOLDER_CLOSE);
        }
        String rendered = renderTurns(messages, placeholders::get);
        List<TextPart> parts = new ArrayList<>();
        int from = 0;
        for (int i = 0; i < messages.size(); i++) {
            String placeholder = placeholders.get(i);
            if (placeholder.isEmpty()) {
                continue;
            }
            int at = rendered.indexOf(placeholder, from);
            if (at < 0 || rendered.indexOf(placeholder, at + placeholder.length()) >= 0) {
                throw new ChatTemplateException("the chat template rewrites or repeats message content, so special "
                        + "tokens in it cannot be kept literal; allow parsing them to use this template");
            }
            parts.add(new TextPart(rendered.substring(from, at), false));
            parts.add(new TextPart(messages.get(i).content(), true));
            from = at + placeholder.length();
        }
        parts.add(new TextPart(rendered.substring(from), false));
        return parts;
    }

    private String renderTurns(List<ChatMessage> messages, IntFunction<String> content) {
        List<Map<String, Object>> turns = new ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage message = Objects.requireNonNull(messages.get(i), "messages[" + i + "] must not be null");
            Map<String, Object> turn = new LinkedHashMap<>(); // role first, as tojson would print it
            turn.put("role", message.role());
            turn.put("content", content.apply(i));
            turns.add(Collections.unmodifiableMap(turn));
        }
        Map<String, Object> bindings = new HashMap<>(specialTokens);
        bindings.put("messages", Collections.unmodifiableList(turns));
        bindings.put("add_generation_prompt", false);

        RenderResult result;
        try {
            result = jinjava.renderForResult(source, bindings);
        } catch (RuntimeException e) {
            throw new ChatTemplateException("chat template failed: " + e.getMessage(), e);
        }
        if (!result.getErrors().isEmpty()) {
            throw failure(result.getErrors().getFirst());
        }
        return result.getOutput();
    }

    private static ChatTemplateException failure(TemplateError error) {
        for (Throwable t = error.getException(); t != null; t = t.getCause()) {
            if (t instanceof ChatTemplateException raised) {
                return new ChatTemplateException("chat template rejected the messages: " + raised.getMessage(), raised);
            }
        }
        StringBuilder message = new StringBuilder("chat template failed: ").append(error.getMessage());
        if (error.getLineno() > 0) {
            message.append(" (template line ").append(error.getLineno()).append(')');
        }
        String method = restrictedMethod(error.getMessage());
        if (method != null) {
            message.append("; the template calls '").append(method)
                    .append("', which mutates a dict or list and is forbidden by transformers' sandboxed renderer")
                    .append(" (the Hunyuan template does so when the first message is empty: the first message")
                    .append(" must not be empty)");
        }
        return new ChatTemplateException(message.toString(), error.getException());
    }

    /** The mutating method named by Jinjava's "Cannot find method 'x'" error for a restricted call, or null. */
    private static String restrictedMethod(String errorMessage) {
        if (errorMessage == null || !errorMessage.startsWith(RESTRICTED_METHOD_ERROR)) {
            return null;
        }
        int end = errorMessage.indexOf('\'', RESTRICTED_METHOD_ERROR.length());
        String method = end < 0 ? null : errorMessage.substring(RESTRICTED_METHOD_ERROR.length(), end);
        return MUTATING_METHODS.contains(method) ? method : null;
    }

    private static String defaultNamedTemplate(JsonNode templates) {
        if (templates.isArray()) {
            for (JsonNode named : templates) {
                if ("default".equals(named.path("name").asText(null)) && named.path("template").isTextual()) {
                    return named.get("template").asText();
                }
            }
        }
        return null;
    }

    /** jinja2 (keep_trailing_newline=False) drops one trailing newline from the template source. */
    private static String withoutOneTrailingNewline(String source) {
        if (source.endsWith("\r\n")) {
            return source.substring(0, source.length() - 2);
        }
        if (source.endsWith("\n") || source.endsWith("\r")) {
            return source.substring(0, source.length() - 1);
        }
        return source;
    }

    /** Functions transformers adds to the template environment. */
    static final class TemplateFunctions {

        private TemplateFunctions() {}

        /** {@code raise_exception(message)}: templates call it to reject input (e.g. roles out of order). */
        public static String raiseException(String message) {
            throw new ChatTemplateException(message);
        }
    }
}
