package io.hyserve.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hyserve.engine.Prompt;
import io.hyserve.gateway.GatewayStats;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that reads one byte per 100 ms. Its events wait at the gateway in a bounded queue, its credits stop,
 * the worker stops pulling its stream, and the engine cancels it when its own buffer bound is reached, while
 * every other stream keeps flowing.
 */
class SlowClientTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CREDIT = 8;
    private static final int ENGINE_BUFFER = 1024;

    @TempDir
    Path data;

    @Test
    void aStalledClientIsBoundedAndCancelledWithoutSlowingOthers() throws Exception {
        ServeSettings settings = ServePipelineTest.settings(data);
        settings.streamCredit = CREDIT;
        settings.sendBufferBytes = 4096;
        settings.maxTokensLimit = 4000;
        settings.engineConfig = io.hyserve.engine.EngineConfig.builder(settings.modelDirectory, settings.tokenizerDirectory)
                .kvCacheBytes(64L << 20).maxNumSeqs(64).streamBufferEvents(ENGINE_BUFFER).build();
        try (ServeSystem system = ServeSystem.start(settings)) {
            ServePipelineTest.awaitReady(system);
            GatewayStats stats = system.gateway().stats();
            AtomicLong slowBytes = new AtomicLong();
            String body = JSON.createObjectNode().put("model", ServePipelineTest.MODEL).put("prompt", "slow reader")
                    .put("max_tokens", 4000).put("ignore_eos", true).put("temperature", 0).put("stream", true).toString();
            try (Socket slow = new Socket()) {
                slow.setReceiveBufferSize(1024);
                slow.connect(new InetSocketAddress("127.0.0.1", system.port()));
                OutputStream out = slow.getOutputStream();
                out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                        + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                        .getBytes(StandardCharsets.UTF_8));
                out.flush();
                Thread reader = Thread.ofVirtual().start(() -> {
                    try (InputStream in = slow.getInputStream()) {
                        while (in.read() >= 0) {
                            slowBytes.incrementAndGet();
                            Thread.sleep(100);
                        }
                    } catch (Exception e) {
                        // closed by the test
                    }
                });

                // Stalled: the gateway holds events it cannot write, at least the half window not yet granted back.
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (stats.queuedHighWater() < CREDIT / 2 && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                assertThat(stats.queuedHighWater()).isGreaterThanOrEqualTo(CREDIT / 2);
                assertThat(stats.slowClientCancellations()).isZero();

                // Meanwhile other streams run start to finish, with the engine's exact output.
                List<CompletableFuture<HttpResponse<String>>> others = new ArrayList<>();
                for (int i = 0; i < 16; i++) {
                    String other = JSON.createObjectNode().put("model", ServePipelineTest.MODEL).put("prompt", "other " + i)
                            .put("max_tokens", 24).put("temperature", 0).put("stream", true).toString();
                    others.add(ServePipelineTest.http.sendAsync(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + system.port() + "/v1/completions"))
                            .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(other))
                            .build(), HttpResponse.BodyHandlers.ofString()));
                }
                for (int i = 0; i < others.size(); i++) {
                    HttpResponse<String> response = others.get(i).get();
                    StringBuilder text = new StringBuilder();
                    List<String> chunks = ServePipelineTest.sse(response.body());
                    assertThat(chunks.getLast()).isEqualTo("[DONE]");
                    for (String chunk : chunks.subList(0, chunks.size() - 1)) {
                        text.append(JSON.readTree(chunk).get("choices").get(0).get("text").asText());
                    }
                    assertThat(text.toString()).isEqualTo(ServePipelineTest.direct(system.engine(), Prompt.text("other " + i), 24));
                }
                // They finished while the slow one was still stalled, not cancelled yet: nothing waited for it.
                assertThat(stats.slowClientCancellations()).isZero();
                assertThat(stats.activeExchanges()).isEqualTo(1);

                // The bound: credits stopped, the engine's buffer fills and the request is cancelled.
                deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
                while (stats.slowClientCancellations() == 0 && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(stats.slowClientCancellations()).isEqualTo(1);
                assertThat(stats.queuedHighWater()).as("the gateway never held more than a credit window")
                        .isLessThanOrEqualTo(CREDIT + 1);
                deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
                while (system.engine().stats().running() > 0 && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                assertThat(system.engine().stats().running()).isZero();
                assertThat(system.engine().stats().kvBlocksFree()).isEqualTo(system.engine().stats().kvBlocksTotal());
                assertThat(slowBytes.get()).isLessThan(1000);
            }
        }
    }
}
