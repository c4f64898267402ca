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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI contract scripts rely on: exact stdout shapes, exit codes and error messages. */
class MainTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path FIXTURES = Path.of(System.getProperty("hyserve.fixtures"));
    private static final String MODEL = FIXTURES.resolve("tiny-hunyuan-moe").toString();
    private static final String TOKENIZER = FIXTURES.resolve("tokenizer").toString();

    record Result(int exit, String out, String err) {
        JsonNode json() throws IOException {
            return JSON.readTree(out);
        }
    }

    private static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static JsonNode golden() throws IOException {
        return JSON.readTree(FIXTURES.resolve("tiny-hunyuan-moe/golden.json").toFile());
    }

    @Test
    void generateJsonPrintsOnlyTheGreedyContinuation() throws IOException {
        JsonNode c = golden().get("cases").get(1);
        String ids = c.get("input_ids").toString().replaceAll("[\\[\\] ]", "");
        Result r = run("generate", "--model", MODEL, "--tokenizer", TOKENIZER, "--prompt-ids", ids, "--max-tokens", "24",
                "--temperature", "0", "--ignore-eos", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode out = r.json();
        assertThat(out.get("ids")).isEqualTo(c.get("greedy").get("ids"));
        assertThat(out.get("finish_reason").asText()).isEqualTo("length");
        assertThat(out.get("text").isTextual()).isTrue();
        assertThat(out.size()).isEqualTo(3);
    }

    @Test
    void generateStreamsTextForAUtf8Prompt() {
        Result r = run("generate", "--model", MODEL, "--tokenizer", TOKENIZER, "--prompt", "海水为什么是咸的",
                "--max-tokens", "4", "--temperature", "0");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).endsWith(System.lineSeparator());
    }

    @Test
    void scoreJsonMatchesTheReferenceTopLogits() throws IOException {
        JsonNode c = golden().get("cases").get(2);
        String ids = c.get("input_ids").toString().replaceAll("[\\[\\] ]", "");
        Result r = run("score", "--model", MODEL, "--tokenizer", TOKENIZER, "--prompt-ids", ids, "--top", "20", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode out = r.json();
        JsonNode expectedIds = c.get("last_top20").get("ids");
        JsonNode expectedValues = c.get("last_top20").get("values");
        for (int i = 0; i < 20; i++) {
            assertThat(out.get("logits").get(i).asDouble()).isCloseTo(expectedValues.get(i).asDouble(),
                    org.assertj.core.api.Assertions.within(2e-3));
            boolean nearTie = (i > 0 && Math.abs(expectedValues.get(i).asDouble() - expectedValues.get(i - 1).asDouble()) < 2e-3)
                    || (i < 19 && Math.abs(expectedValues.get(i).asDouble() - expectedValues.get(i + 1).asDouble()) < 2e-3);
            if (!nearTie) {
                assertThat(out.get("ids").get(i).asInt()).isEqualTo(expectedIds.get(i).asInt());
            }
        }
    }

    @Test
    void tokenizeAndDetokenizeRoundTrip(@TempDir Path dir) throws IOException {
        Result encoded = run("tokenize", "--tokenizer", TOKENIZER, "--text", "Hello, world!<|eos|>", "--json");
        assertThat(encoded.exit()).as(encoded.err()).isZero();
        assertThat(encoded.json().get("ids").toString()).isEqualTo("[9906,11,1917,0,127960]");
        Path file = dir.resolve("in.txt");
        Files.writeString(file, "", StandardCharsets.UTF_8);
        assertThat(run("tokenize", "--tokenizer", TOKENIZER, "--text-file", file.toString(), "--json").out().strip())
                .isEqualTo("{\"ids\":[]}");
        Result decoded = run("detokenize", "--tokenizer", TOKENIZER, "--ids", "9906,11,1917,0", "--json");
        assertThat(decoded.json().get("text").asText()).isEqualTo("Hello, world!");
    }

    @Test
    void badInputGivesAClearErrorAndANonZeroExit() {
        Result notNumeric = run("generate", "--model", MODEL, "--prompt-ids", "1,2,x");
        assertThat(notNumeric.exit()).isEqualTo(2);
        assertThat(notNumeric.err()).contains("'x' is not a token id");

        Result tooLarge = run("generate", "--model", MODEL, "--tokenizer", TOKENIZER, "--prompt-ids", "1,128512", "--json");
        assertThat(tooLarge.exit()).isEqualTo(1);
        assertThat(tooLarge.err()).contains("token id 128512 is outside the vocabulary");
        assertThat(tooLarge.out()).isEmpty();

        Result badDetok = run("detokenize", "--tokenizer", TOKENIZER, "--ids", "9906,128200");
        assertThat(badDetok.exit()).isEqualTo(1);
        assertThat(badDetok.err()).contains("128200");

        Result noModel = run("score", "--model", "/nonexistent/model", "--tokenizer", TOKENIZER, "--prompt-ids", "1");
        assertThat(noModel.exit()).isEqualTo(1);
        assertThat(noModel.err()).contains("/nonexistent/model");

        Result noPrompt = run("generate", "--model", MODEL);
        assertThat(noPrompt.exit()).isEqualTo(2);
    }
}
