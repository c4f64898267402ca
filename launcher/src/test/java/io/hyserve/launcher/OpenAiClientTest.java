package io.hyserve.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client this project did not write: the official OpenAI Node package streams a chat completion and a
 * completion from the gateway; the text equals {@code hunyuan generate} for the same greedy request and the
 * usage arrives in the stream. Needs node and npm (the npm registry, once, for {@code npm ci}).
 */
class OpenAiClientTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path CLIENT_SOURCE = Path.of("src/test/openai-client");
    private static final Path CLIENT = Path.of("target/openai-client");

    @TempDir
    Path data;

    @Test
    void theOfficialClientStreamsWhatTheCliGenerates() throws Exception {
        installClient();
        try (ServeSystem system = ServeSystem.start(ServePipelineTest.settings(data))) {
            ServePipelineTest.awaitReady(system);
            String output = run(List.of("node", "stream.mjs", "http://127.0.0.1:" + system.port() + "/v1",
                    ServePipelineTest.MODEL));
            JsonNode received = JSON.readTree(output.lines().reduce((a, b) -> b).orElseThrow());

            JsonNode chatCli = cli("--messages", "[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
                    + "{\"role\":\"user\",\"content\":\"海水为什么是咸的\"}]");
            assertThat(received.get("chat").get("text").asText()).isEqualTo(chatCli.get("text").asText());
            assertThat(received.get("chat").get("finish").asText()).isEqualTo(chatCli.get("finish_reason").asText());
            assertUsage(received.get("chat").get("usage"), chatCli.get("ids").size());

            JsonNode completionCli = cli("--prompt", "The capital of France is");
            assertThat(received.get("completion").get("text").asText()).isEqualTo(completionCli.get("text").asText());
            assertUsage(received.get("completion").get("usage"), completionCli.get("ids").size());
            assertThat(received.get("models").get(0).asText()).isEqualTo(ServePipelineTest.MODEL);
        }
    }

    private static void assertUsage(JsonNode usage, int completionTokens) {
        assertThat(usage).as("usage arrived in the stream").isNotNull();
        assertThat(usage.get("completion_tokens").asInt()).isEqualTo(completionTokens);
        assertThat(usage.get("total_tokens").asInt())
                .isEqualTo(usage.get("prompt_tokens").asInt() + completionTokens);
    }

    private static JsonNode cli(String... prompt) throws IOException {
        List<String> args = new java.util.ArrayList<>(List.of("generate", "--max-tokens", "16", "--temperature", "0",
                "--json"));
        args.addAll(List.of(prompt));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int exit = Main.run(args.toArray(String[]::new), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        assertThat(exit).isZero();
        return JSON.readTree(out.toString(StandardCharsets.UTF_8));
    }

    private static void installClient() throws Exception {
        Files.createDirectories(CLIENT);
        for (String file : List.of("package.json", "package-lock.json", "stream.mjs")) {
            Files.copy(CLIENT_SOURCE.resolve(file), CLIENT.resolve(file), StandardCopyOption.REPLACE_EXISTING);
        }
        if (!Files.isDirectory(CLIENT.resolve("node_modules/openai"))) {
            run(List.of("npm", "ci", "--no-audit", "--no-fund"));
        }
    }

    private static String run(List<String> command) throws Exception {
        Process process = new ProcessBuilder(command).directory(CLIENT.toFile()).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(process.exitValue()).as("%s exited with:%n%s", command, output).isZero();
        return output;
    }
}
