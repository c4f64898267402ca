package io.hyserve.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hyserve.engine.Engine;
import io.hyserve.engine.EngineStats;
import io.hyserve.engine.GenerationRequest;
import io.hyserve.engine.Prompt;
import io.hyserve.engine.TokenEvent;
import io.hyserve.engine.sample.SamplingParams;
import io.hyserve.engine.tokenizer.ChatMessage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The whole system on loopback: embedded KRaft broker, gateway, worker and engine, driven over real HTTP. */
class ServePipelineTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String MODEL = "tiny-hunyuan-moe-bf16";
    static final Duration TIMEOUT = Duration.ofMinutes(2);

    @TempDir
    static Path data;
    static ServeSystem system;
    static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();

    static ServeSettings settings(Path dataDir) {
        ServeSettings settings = new ServeSettings();
        settings.dataDir = dataDir;
        settings.port = 0;
        settings.modelDirectory = ProjectHome.bundledModel();
        settings.tokenizerDirectory = ProjectHome.bundledTokenizer();
        settings.engineConfig = io.hyserve.engine.EngineConfig.builder(settings.modelDirectory, settings.tokenizerDirectory)
                .kvCacheBytes(64L << 20).maxNumSeqs(256).build();
        settings.heartbeatInterval = Duration.ofMillis(200);
        settings.workerTimeout = Duration.ofSeconds(5);
        settings.maxTokensLimit = 512;
        settings.maxBodyBytes = 64 * 1024;
        settings.shutdownGrace = Duration.ofSeconds(2);
        settings.drainDelay = Duration.ZERO;
        return settings;
    }

    @BeforeAll
    static void start() throws Exception {
        system = ServeSystem.start(settings(data));
        awaitReady(system);
    }

    @AfterAll
    static void stop() {
        if (system != null) {
            system.close();
        }
    }

    static void awaitReady(ServeSystem system) throws Exception {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (get(system, "/health/ready").statusCode() == 200) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the system did not become ready");
    }

    static URI uri(ServeSystem system, String path) {
        return URI.create("http://127.0.0.1:" + system.port() + path);
    }

    static HttpResponse<String> get(ServeSystem system, String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(system, path)).timeout(TIMEOUT).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(system, path)).timeout(TIMEOUT)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** The data lines of an SSE response, without the "data: " prefix. */
    static List<String> sse(String body) {
        return body.lines().filter(line -> line.startsWith("data: ")).map(line -> line.substring(6)).toList();
    }

    /** Greedy output of the engine itself, called directly, as text. */
    static String direct(Engine engine, Prompt prompt, int maxTokens) {
        List<TokenEvent> events = engine.submit(new GenerationRequest("direct-" + System.nanoTime(), prompt,
                SamplingParams.builder().temperature(0.0).maxTokens(maxTokens).build())).events()
                .collectList().block(TIMEOUT);
        return events.stream().map(e -> switch (e) {
            case TokenEvent.Token t -> t.text();
            case TokenEvent.Finished f -> f.text();
        }).collect(Collectors.joining());
    }

    @Test
    void aStreamedChatCompletionMatchesTheEngineAndEndsWithUsage() throws Exception {
        HttpResponse<String> response = post("/v1/chat/completions", """
                {"model":"%s","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"海水为什么是咸的"}],
                 "max_tokens":12,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}""".formatted(MODEL));
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
        List<String> data = sse(response.body());
        assertThat(data.getLast()).isEqualTo("[DONE]");
        StringBuilder text = new StringBuilder();
        String finish = null;
        JsonNode usage = null;
        for (String chunk : data.subList(0, data.size() - 1)) {
            JsonNode node = JSON.readTree(chunk);
            assertThat(node.get("object").asText()).isEqualTo("chat.completion.chunk");
            if (node.get("choices").isEmpty()) {
                usage = node.get("usage");
                continue;
            }
            assertThat(node.has("usage")).isTrue();
            JsonNode choice = node.get("choices").get(0);
            text.append(choice.get("delta").path("content").asText(""));
            if (!choice.get("finish_reason").isNull()) {
                finish = choice.get("finish_reason").asText();
            }
        }
        String expected = direct(system.engine(), Prompt.chat(List.of(new ChatMessage("system", "Be brief."),
                new ChatMessage("user", "海水为什么是咸的"))), 12);
        assertThat(text.toString()).isEqualTo(expected);
        assertThat(finish).isIn("length", "stop");
        assertThat(usage).isNotNull();
        assertThat(usage.get("completion_tokens").asInt()).isBetween(1, 12);
        assertThat(usage.get("total_tokens").asInt())
                .isEqualTo(usage.get("prompt_tokens").asInt() + usage.get("completion_tokens").asInt());
    }

    @Test
    void aNonStreamedCompletionHasOpenAisShape() throws Exception {
        HttpResponse<String> response = post("/v1/completions", """
                {"model":"%s","prompt":"The capital of France is","max_tokens":6,"temperature":0}""".formatted(MODEL));
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode body = JSON.readTree(response.body());
        assertThat(body.get("object").asText()).isEqualTo("text_completion");
        assertThat(body.get("choices").get(0).get("text").asText())
                .isEqualTo(direct(system.engine(), Prompt.text("The capital of France is"), 6));
        assertThat(body.get("usage").get("prompt_tokens_details").has("cached_tokens")).isTrue();
    }

    @Test
    void twoHundredConcurrentStreamsMatchDirectEngineCalls() throws Exception {
        int streams = 200;
        List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < streams; i++) {
            String prompt = "Request number " + i + " asks about " + (i % 7) + " things";
            prompts.add(prompt);
            String body = JSON.createObjectNode().put("model", MODEL).put("prompt", prompt).put("max_tokens", 4 + i % 9)
                    .put("temperature", 0).put("stream", true).toString();
            responses.add(http.sendAsync(HttpRequest.newBuilder(uri(system, "/v1/completions")).timeout(TIMEOUT)
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (int i = 0; i < streams; i++) {
            HttpResponse<String> response = responses.get(i).get();
            assertThat(response.statusCode()).as("stream %d", i).isEqualTo(200);
            StringBuilder text = new StringBuilder();
            List<String> data = sse(response.body());
            assertThat(data.getLast()).isEqualTo("[DONE]");
            for (String chunk : data.subList(0, data.size() - 1)) {
                JsonNode node = JSON.readTree(chunk);
                assertThat(node.has("error")).as("stream %d: %s", i, chunk).isFalse();
                text.append(node.get("choices").get(0).get("text").asText());
            }
            assertThat(text.toString()).as("stream %d", i)
                    .isEqualTo(direct(system.engine(), Prompt.text(prompts.get(i)), 4 + i % 9));
        }
    }

    @Test
    void aClientThatDisconnectsFreesItsKvBlocksWithinOneSecond() throws Exception {
        Engine engine = system.engine();
        awaitIdle(engine);
        int total = engine.stats().kvBlocksTotal();
        String body = JSON.createObjectNode().put("model", MODEL).put("prompt", "Tell me a very long story")
                .put("max_tokens", 500).put("temperature", 0).put("ignore_eos", true).put("stream", true).toString();
        try (Socket socket = new Socket("127.0.0.1", system.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = socket.getInputStream();
            String seen = "";
            while (!seen.contains("data: ")) {
                byte[] chunk = new byte[512];
                int n = in.read(chunk);
                assertThat(n).isPositive();
                seen += new String(chunk, 0, n, StandardCharsets.UTF_8);
            }
            // Statistics are published after each step, so they may trail the first token by one step.
            long deadline = System.nanoTime() + 1_000_000_000L;
            while (engine.stats().running() != 1 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertThat(engine.stats().running()).isEqualTo(1);
        }
        long closedAt = System.nanoTime();
        EngineStats stats = engine.stats();
        while ((stats.running() > 0 || stats.kvBlocksFree() != total) && System.nanoTime() - closedAt < 1_000_000_000L) {
            Thread.sleep(5);
            stats = engine.stats();
        }
        assertThat(stats.running()).isZero();
        assertThat(stats.kvBlocksFree()).isEqualTo(total);
    }

    @Test
    void metricsAreExposedWithVllmStyleNamesAndCount() throws Exception {
        double before = metric(get(system, "/metrics").body(), "hunyuan:generation_tokens_total");
        HttpResponse<String> response = post("/v1/completions", """
                {"model":"%s","prompt":"count me","max_tokens":7,"temperature":0,"ignore_eos":true}""".formatted(MODEL));
        assertThat(response.statusCode()).isEqualTo(200);
        HttpResponse<String> scrape = get(system, "/metrics");
        assertThat(scrape.statusCode()).isEqualTo(200);
        assertThat(scrape.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
        String body = scrape.body();
        for (String name : List.of("hunyuan:time_to_first_token_seconds_bucket", "hunyuan:inter_token_latency_seconds_bucket",
                "hunyuan:e2e_request_latency_seconds_bucket", "hunyuan:request_queue_time_seconds_bucket",
                "hunyuan:kv_cache_usage_perc", "hunyuan:num_requests_running", "hunyuan:num_requests_waiting",
                "hunyuan:num_preemptions_total", "hunyuan:kv_blocks_used", "hunyuan:kv_blocks_free",
                "hunyuan:prefix_cache_queries_total", "hunyuan:prefix_cache_hits_total", "hunyuan:prompt_tokens_total",
                "hunyuan:iteration_tokens_bucket", "hunyuan:iteration_sequences_bucket", "hunyuan:kafka_consumer_lag",
                "hunyuan:gateway_active_streams", "hunyuan:gateway_slow_client_cancellations_total",
                "hunyuan:request_success_total{finished_reason=\"length\"}")) {
            assertThat(body).as(name).contains(name);
        }
        // Other tests may run requests meanwhile, so at least this request's tokens were counted.
        assertThat(metric(body, "hunyuan:generation_tokens_total") - before).isGreaterThanOrEqualTo(7);

        // The health endpoints beside it, on the same port, as probes see them.
        HttpResponse<String> live = get(system, "/health/live");
        assertThat(live.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(live.body()).get("status").asText()).isEqualTo("live");
        HttpResponse<String> ready = get(system, "/health/ready");
        assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
        assertThat(JSON.readTree(ready.body()).get("workers").asBoolean()).isTrue();
    }

    static double metric(String scrape, String name) {
        return scrape.lines().filter(line -> line.startsWith(name + " ")).mapToDouble(line ->
                Double.parseDouble(line.substring(name.length() + 1).trim())).findFirst().orElse(0);
    }

    static void awaitIdle(Engine engine) throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while ((engine.stats().running() > 0 || engine.stats().waiting() > 0) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
    }
}
