package io.hyserve.engine.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Jinjava configured to behave like transformers' jinja2 sandbox, beyond the Hunyuan template. */
class ChatTemplateTest {

    private static final List<ChatMessage> ONE_USER = List.of(new ChatMessage("user", "He said \"hi\"\n"));

    @TempDir
    Path dir;

    /** Expected output printed by jinja2 3.1.6 {@code ImmutableSandboxedEnvironment(trim_blocks, lstrip_blocks)}. */
    static Stream<Arguments> jinja2Outputs() {
        return Stream.of(
                Arguments.of("{% set d = {'a': 1, 'b': 2} %}{% for k in d %}{{k}}{% endfor %}", "ab"),
                Arguments.of("{% set k = 'z' %}{{ {k: 1} }}", "{'z': 1}"),
                Arguments.of("{{ {'a': 'x', 'b': [1, 'y']} }}", "{'a': 'x', 'b': [1, 'y']}"),
                Arguments.of("x\n", "x"),
                Arguments.of("x\n\n", "x\n"),
                Arguments.of("{% for m in messages %}\n  {% if m.role == 'user' %}\n    X{{ m.content }}\n  {% endif %}\n{% endfor %}",
                        "    XHe said \"hi\"\n\n"),
                Arguments.of("a  {{- ' b ' -}}  c", "a b c"),
                Arguments.of("{# note #}\n  x", "  x"),
                Arguments.of("{{ messages[0]['content'].strip() }}|", "He said \"hi\"|"),
                Arguments.of("{{ 'a' if messages|length > 0 else 'b' }}", "a"),
                Arguments.of("{% for m in messages %}{% if loop.first %}F{% endif %}{{ m['role'] }}{% endfor %}", "Fuser"),
                Arguments.of("{{ 'abc'.replace('b', 'x') }}", "axc"),
                Arguments.of("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}", "1"));
    }

    @ParameterizedTest
    @MethodSource("jinja2Outputs")
    void rendersLikeJinja2(String source, String expected) {
        assertThat(new ChatTemplate(source, Map.of()).render(ONE_USER)).isEqualTo(expected);
    }

    @Test
    void mutatingACollectionFailsInsteadOfRenderingPartially() {
        for (String source : List.of(
                "{% set xs = [1] %}{% do xs.append(2) %}{{ xs }}",
                "{% set d = {} %}{{ d.put('a', 1) }}",
                "{% set d = {'a': 1} %}{{ d.pop('a') }}",
                "before{% set c = {'h': true} %}{% set _ = c.update({'h': false}) %}after")) {
            assertThatThrownBy(() -> new ChatTemplate(source, Map.of()).render(ONE_USER))
                    .as(source)
                    .isInstanceOf(ChatTemplateException.class)
                    .hasMessageContaining("forbidden by transformers' sandboxed renderer");
        }
    }

    @Test
    void raiseExceptionRejectsTheMessagesWithTheTemplatesReason() {
        ChatTemplate template = new ChatTemplate(
                "{% if messages[0].role != 'system' %}{{ raise_exception('System message first') }}{% endif %}ok", Map.of());
        assertThat(template.render(List.of(new ChatMessage("system", "s")))).isEqualTo("ok");
        assertThatThrownBy(() -> template.render(ONE_USER))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessage("chat template rejected the messages: System message first");
    }

    @Test
    void templateErrorsBecomeChatTemplateExceptions() {
        for (String source : List.of("{% if %}x{% endif %}", "{% nosuchtag %}", "{{ no_such_function(1) }}", "{% include 'x.j2' %}")) {
            assertThatThrownBy(() -> new ChatTemplate(source, Map.of()).render(ONE_USER))
                    .as(source)
                    .isInstanceOf(ChatTemplateException.class)
                    .hasMessageStartingWith("chat template failed: ");
        }
    }

    @Test
    void messagesAndTheirFieldsMustNotBeNull() {
        ChatTemplate template = new ChatTemplate("{{ messages|length }}", Map.of());
        assertThatThrownBy(() -> new ChatMessage(null, "x")).isInstanceOf(NullPointerException.class).hasMessageContaining("role");
        assertThatThrownBy(() -> new ChatMessage("user", null)).isInstanceOf(NullPointerException.class).hasMessageContaining("content");
        assertThatThrownBy(() -> template.render(null)).isInstanceOf(NullPointerException.class);
        List<ChatMessage> withNull = new ArrayList<>(ONE_USER);
        withNull.add(null);
        assertThatThrownBy(() -> template.render(withNull)).isInstanceOf(NullPointerException.class).hasMessageContaining("messages[1]");
    }

    @Test
    void passesSpecialTokenStringsAndNoGenerationPrompt() throws IOException {
        Path config = dir.resolve("tokenizer_config.json");
        Files.writeString(config, """
                {"bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false}, "pad_token": null,
                 "chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}{{ add_generation_prompt }}{{ pad_token }}"}
                """);
        assertThat(ChatTemplate.fromTokenizerConfig(config).render(ONE_USER)).isEqualTo("<s>He said \"hi\"\n</s>false");
    }

    @Test
    void usesTheDefaultOfNamedTemplates() throws IOException {
        Path config = dir.resolve("tokenizer_config.json");
        Files.writeString(config, """
                {"chat_template": [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": "plain"}]}
                """);
        assertThat(ChatTemplate.fromTokenizerConfig(config).render(ONE_USER)).isEqualTo("plain");
    }

    @Test
    void configWithoutAChatTemplateIsAnError() throws IOException {
        Path config = dir.resolve("tokenizer_config.json");
        Files.writeString(config, "{\"model_max_length\": 1024}");
        assertThatThrownBy(() -> ChatTemplate.fromTokenizerConfig(config))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(config.toString())
                .hasMessageContaining("no \"chat_template\"");
        Files.writeString(config, "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"t\"}]}");
        assertThatThrownBy(() -> ChatTemplate.fromTokenizerConfig(config))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("\"default\"");
    }
}
