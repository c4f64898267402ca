package io.hyserve.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hyserve.gateway.ApiKeys;
import io.hyserve.gateway.GatewayConfig;
import io.hyserve.gateway.RateLimits;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** Bearer keys and per-key limits: 401 without a valid key, 429 with Retry-After over a limit. */
class AuthAndRateLimitTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ALICE = "sk-alice-0123456789abcdef";
    private static final String BOB = "sk-bob-0123456789abcdef00";
    private static final String CAROL = "sk-carol-0123456789abcdef";
    private static final String DAVE = "sk-dave-0123456789abcdef0";

    @TempDir
    static Path data;
    static ServeSystem system;

    @BeforeAll
    static void start() throws Exception {
        ServeSettings settings = ServePipelineTest.settings(data);
        settings.security = new GatewayConfig.Security(
                ApiKeys.parse(List.of("# team keys", "alice:" + ALICE, "bob:" + BOB, "carol:" + CAROL, "dave:" + DAVE)),
                new RateLimits(3, 100, 1), List.of(), null, null);
        system = ServeSystem.start(settings);
        ServePipelineTest.awaitReady(system); // health needs no key
    }

    @AfterAll
    static void stop() {
        if (system != null) {
            system.close();
        }
    }

    private static HttpResponse<String> complete(String key, int maxTokens) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + system.port() + "/v1/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                        JSON.createObjectNode().put("model", ServePipelineTest.MODEL).put("prompt", "Hi")
                                .put("max_tokens", maxTokens).put("ignore_eos", true).toString()));
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        return ServePipelineTest.http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode error(HttpResponse<String> response) throws Exception {
        return JSON.readTree(response.body()).get("error");
    }

    @Test
    void requestsWithoutAValidKeyAreRefused() throws Exception {
        HttpResponse<String> missing = complete(null, 2);
        assertThat(missing.statusCode()).isEqualTo(401);
        assertThat(error(missing).get("code").asText()).isEqualTo("invalid_api_key");
        assertThat(error(missing).get("message").asText()).contains("didn't provide");
        HttpResponse<String> wrong = complete(ALICE + "x", 2);
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(error(wrong).get("message").asText()).contains("Incorrect API key");
        assertThat(ServePipelineTest.get(system, "/v1/models").statusCode()).isEqualTo(401);
        assertThat(ServePipelineTest.get(system, "/health/live").statusCode()).isEqualTo(200);

        CompletableFuture<WebSocket> socket = ServePipelineTest.http.newWebSocketBuilder()
                .buildAsync(URI.create("ws://127.0.0.1:" + system.port() + "/v1/stream"), new WebSocket.Listener() {});
        assertThatThrownBy(() -> socket.get(30, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(WebSocketHandshakeException.class)
                .satisfies(e -> assertThat(((WebSocketHandshakeException) e).getResponse().statusCode()).isEqualTo(401));
    }

    @Test
    void overTheRequestRateIs429WithRetryAfterAndOtherKeysAreUnaffected() throws Exception {
        for (int i = 0; i < 3; i++) {
            assertThat(complete(ALICE, 2).statusCode()).isEqualTo(200);
        }
        HttpResponse<String> limited = complete(ALICE, 2);
        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(error(limited).get("message").asText()).contains("requests per minute");
        assertThat(Long.parseLong(limited.headers().firstValue("Retry-After").orElseThrow())).isBetween(1L, 20L);
        assertThat(complete(BOB, 2).statusCode()).isEqualTo(200);
    }

    @Test
    void overTheTokenRateOrTheStreamCapIs429() throws Exception {
        // carol: 100 tokens per minute; each request reserves its prompt (2 tokens) plus max_tokens (40).
        assertThat(complete(CAROL, 40).statusCode()).isEqualTo(200);
        assertThat(complete(CAROL, 40).statusCode()).isEqualTo(200);
        HttpResponse<String> tokens = complete(CAROL, 40);
        assertThat(tokens.statusCode()).isEqualTo(429);
        assertThat(error(tokens).get("message").asText()).contains("tokens per minute");
        assertThat(Long.parseLong(tokens.headers().firstValue("Retry-After").orElseThrow())).isGreaterThanOrEqualTo(10);

        // bob: one request in flight at a time.
        CompletableFuture<HttpResponse<String>> running = ServePipelineTest.http.sendAsync(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + system.port() + "/v1/completions"))
                .header("Content-Type", "application/json").header("Authorization", "Bearer " + BOB)
                .POST(HttpRequest.BodyPublishers.ofString(JSON.createObjectNode().put("model", ServePipelineTest.MODEL)
                        .put("prompt", "long").put("max_tokens", 60).put("ignore_eos", true).put("stream", true).toString()))
                .build(), HttpResponse.BodyHandlers.ofString());
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (system.gateway().stats().activeExchanges() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(2);
        }
        HttpResponse<String> second = complete(BOB, 2);
        assertThat(second.statusCode()).isEqualTo(429);
        assertThat(error(second).get("message").asText()).contains("concurrent");
        assertThat(second.headers().firstValue("Retry-After")).hasValue("1");
        assertThat(running.get().statusCode()).isEqualTo(200);
    }

    @Test
    void neitherKeysNorPromptsNorOutputsReachTheLogs() throws Exception {
        Logger hyserve = (Logger) LoggerFactory.getLogger("io.hyserve");
        Level testLevel = hyserve.getLevel();
        ListAppender<ILoggingEvent> captured = new ListAppender<>();
        captured.start();
        Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
        root.addAppender(captured);
        hyserve.setLevel(Level.DEBUG); // more than the shipped logback.xml logs (INFO)
        String prompt = "zebra-7c1e private words";
        String wrongKey = "sk-wrong-secret-5f3a9d";
        List<String> texts = new java.util.ArrayList<>(List.of(prompt, DAVE, wrongKey));
        try {
            HttpResponse<String> chat = ServePipelineTest.http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + system.port() + "/v1/chat/completions"))
                    .header("Content-Type", "application/json").header("Authorization", "Bearer " + DAVE)
                    .POST(HttpRequest.BodyPublishers.ofString(JSON.createObjectNode().put("model", ServePipelineTest.MODEL)
                            .put("max_tokens", 4).put("ignore_eos", true).set("messages", JSON.createArrayNode()
                                    .add(JSON.createObjectNode().put("role", "user").put("content", prompt))).toString()))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
            texts.add(JSON.readTree(chat.body()).get("choices").get(0).get("message").get("content").asText());
            assertThat(ServePipelineTest.http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + system.port() + "/v1/completions"))
                    .header("Content-Type", "application/json").header("Authorization", "Bearer " + DAVE)
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\": \"" + prompt + "\", \"prompt\": [")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(400);
            assertThat(complete(wrongKey, 2).statusCode()).isEqualTo(401);
        } finally {
            hyserve.setLevel(testLevel);
            root.detachAppender(captured);
        }
        assertThat(captured.list).as("the requests were logged at all").isNotEmpty();
        for (ILoggingEvent event : captured.list) {
            String logged = event.getFormattedMessage() + " " + event.getKeyValuePairs()
                    + (event.getThrowableProxy() != null ? " " + event.getThrowableProxy().getMessage() : "");
            for (String text : texts) {
                if (!text.isBlank()) {
                    assertThat(logged).as("log line of %s", event.getLoggerName()).doesNotContain(text);
                }
            }
        }
    }
}
