package io.hyserve.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Five times what the gateway admits, at once: the excess is refused with 429 at once, everything admitted
 * completes, and the heap stays bounded.
 */
class OverloadTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CAPACITY = 40;

    @TempDir
    Path data;

    @Test
    void fiveTimesCapacityIsRefusedQuicklyAndWhatIsAdmittedCompletes() throws Exception {
        ServeSettings settings = ServePipelineTest.settings(data);
        settings.maxConcurrentStreams = CAPACITY;
        try (ServeSystem system = ServeSystem.start(settings)) {
            ServePipelineTest.awaitReady(system);
            record Outcome(HttpResponse<String> response, long millis) {}
            List<CompletableFuture<Outcome>> outcomes = new ArrayList<>();
            for (int i = 0; i < 5 * CAPACITY; i++) {
                long sent = System.nanoTime();
                String body = JSON.createObjectNode().put("model", ServePipelineTest.MODEL).put("prompt", "load " + i)
                        .put("max_tokens", 64).put("ignore_eos", true).put("stream", true).toString();
                outcomes.add(ServePipelineTest.http.sendAsync(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + system.port() + "/v1/completions"))
                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                        HttpResponse.BodyHandlers.ofString())
                        .thenApply(r -> new Outcome(r, (System.nanoTime() - sent) / 1_000_000)));
            }
            int admitted = 0;
            int refused = 0;
            long slowestRefusalMs = 0;
            for (CompletableFuture<Outcome> future : outcomes) {
                Outcome outcome = future.get();
                if (outcome.response().statusCode() == 429) {
                    refused++;
                    slowestRefusalMs = Math.max(slowestRefusalMs, outcome.millis());
                    assertThat(JSON.readTree(outcome.response().body()).get("error").get("type").asText())
                            .isEqualTo("rate_limit_error");
                } else {
                    assertThat(outcome.response().statusCode()).isEqualTo(200);
                    List<String> chunks = ServePipelineTest.sse(outcome.response().body());
                    assertThat(chunks.getLast()).isEqualTo("[DONE]");
                    assertThat(JSON.readTree(chunks.get(chunks.size() - 2)).get("choices").get(0).get("finish_reason")
                            .asText()).isEqualTo("length");
                    admitted++;
                }
            }
            assertThat(admitted + refused).isEqualTo(5 * CAPACITY);
            assertThat(admitted).isGreaterThanOrEqualTo(CAPACITY);
            assertThat(refused).isPositive();
            // A refusal is decided on arrival; even the slowest waits only for the event loop, not for capacity.
            assertThat(slowestRefusalMs).isLessThan(5_000);
            long heapUsed = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
            long heapMax = Runtime.getRuntime().maxMemory();
            assertThat(heapUsed).isLessThan(heapMax * 3 / 4);
            assertThat(system.gateway().stats().activeExchanges()).isZero();
            System.err.printf("overload: %d admitted, %d refused (slowest refusal %d ms), heap %d MB of %d MB%n",
                    admitted, refused, slowestRefusalMs, heapUsed >> 20, heapMax >> 20);
        }
    }
}
