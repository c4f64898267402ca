package io.hyserve.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The concurrency limit, and a worker that drains on stop while the gateway keeps delivering. */
class ShutdownAndLimitsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path data;

    private static HttpRequest completion(ServeSystem system, int maxTokens) {
        String body = JSON.createObjectNode().put("model", ServePipelineTest.MODEL).put("prompt", "drain me")
                .put("max_tokens", maxTokens).put("ignore_eos", true).put("temperature", 0).put("stream", true).toString();
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + system.port() + "/v1/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    @Test
    void overTheConcurrencyLimitIs429AndAStoppingWorkerFinishesWhatItHolds() throws Exception {
        ServeSettings settings = ServePipelineTest.settings(data);
        settings.maxConcurrentStreams = 1;
        settings.shutdownGrace = Duration.ofSeconds(30);
        try (ServeSystem system = ServeSystem.start(settings)) {
            ServePipelineTest.awaitReady(system);
            CompletableFuture<HttpResponse<String>> running = ServePipelineTest.http.sendAsync(completion(system, 300),
                    HttpResponse.BodyHandlers.ofString());
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (system.engine().stats().running() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            HttpResponse<String> refused = ServePipelineTest.http.send(completion(system, 5), HttpResponse.BodyHandlers.ofString());
            assertThat(refused.statusCode()).isEqualTo(429);
            assertThat(JSON.readTree(refused.body()).get("error").get("type").asText()).isEqualTo("rate_limit_error");

            // Stop the worker mid-stream: it takes nothing new but finishes the stream within its grace period.
            Thread stopper = Thread.ofPlatform().start(() -> system.worker().close());
            HttpResponse<String> drained = running.get();
            List<String> chunks = ServePipelineTest.sse(drained.body());
            assertThat(chunks.getLast()).isEqualTo("[DONE]");
            JsonNode last = JSON.readTree(chunks.get(chunks.size() - 2));
            assertThat(last.get("choices").get(0).get("finish_reason").asText()).isEqualTo("length");
            stopper.join(60_000);
            assertThat(system.worker().ready()).isFalse();
            deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (system.gateway().ready() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            HttpResponse<String> noWorker = ServePipelineTest.http.send(completion(system, 5), HttpResponse.BodyHandlers.ofString());
            assertThat(noWorker.statusCode()).isEqualTo(503);
            assertThat(ServePipelineTest.get(system, "/health/ready").statusCode()).isEqualTo(503);
            assertThat(ServePipelineTest.get(system, "/health/live").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void aStoppingGatewayReportsNotReadyAndLetsOpenStreamsFinish() throws Exception {
        ServeSettings settings = ServePipelineTest.settings(data.resolve("drain"));
        settings.shutdownGrace = Duration.ofSeconds(30);
        settings.drainDelay = Duration.ofSeconds(1);
        ServeSystem system = ServeSystem.start(settings);
        Thread stopper = null;
        try {
            ServePipelineTest.awaitReady(system);
            CompletableFuture<HttpResponse<String>> running = ServePipelineTest.http.sendAsync(completion(system, 500),
                    HttpResponse.BodyHandlers.ofString());
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (system.engine().stats().running() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }

            // What the stop signal starts: out of the load balancer at once, still serving while it drains.
            stopper = Thread.ofPlatform().start(system::close);
            deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            HttpResponse<String> readiness = ServePipelineTest.get(system, "/health/ready");
            while (readiness.statusCode() == 200 && System.nanoTime() < deadline) {
                Thread.sleep(5);
                readiness = ServePipelineTest.get(system, "/health/ready");
            }
            assertThat(readiness.statusCode()).isEqualTo(503);
            assertThat(JSON.readTree(readiness.body()).get("status").asText()).isEqualTo("draining");
            assertThat(running).isNotDone();
            HttpResponse<String> late = ServePipelineTest.http.send(completion(system, 2), HttpResponse.BodyHandlers.ofString());
            assertThat(late.statusCode()).as("a request that reaches a draining gateway").isEqualTo(200);

            List<String> chunks = ServePipelineTest.sse(running.get().body());
            assertThat(chunks.getLast()).isEqualTo("[DONE]");
            JsonNode last = JSON.readTree(chunks.get(chunks.size() - 2));
            assertThat(last.get("choices").get(0).get("finish_reason").asText()).isEqualTo("length");
        } finally {
            if (stopper == null) {
                system.close();
            } else {
                stopper.join(60_000);
            }
        }
    }
}
