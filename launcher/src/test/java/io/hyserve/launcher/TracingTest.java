package io.hyserve.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One trace from the client's traceparent through the gateway, Kafka and the worker to the last token. */
class TracingTest {
    private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

    @TempDir
    Path data;

    @Test
    void aRequestIsOneTraceAcrossGatewayKafkaAndWorker() throws Exception {
        InMemorySpanExporter spans = InMemorySpanExporter.create();
        ServeSettings settings = ServePipelineTest.settings(data);
        settings.telemetry = OpenTelemetrySdk.builder()
                .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(spans)).build())
                .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance())).build();
        try (ServeSystem system = ServeSystem.start(settings)) {
            ServePipelineTest.awaitReady(system);
            HttpResponse<String> response = ServePipelineTest.http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + system.port() + "/v1/chat/completions"))
                    .header("Content-Type", "application/json")
                    .header("traceparent", "00-" + TRACE_ID + "-00f067aa0ba902b7-01")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + ServePipelineTest.MODEL
                            + "\",\"messages\":[{\"role\":\"user\",\"content\":\"trace me\"}],\"max_tokens\":5}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).isEqualTo(200);

            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            List<SpanData> trace = List.of();
            while (System.nanoTime() < deadline) {
                trace = spans.getFinishedSpanItems().stream().filter(s -> s.getTraceId().equals(TRACE_ID)).toList();
                if (trace.size() >= 6) {
                    break;
                }
                Thread.sleep(20);
            }
            Map<String, SpanData> byName = trace.stream().collect(Collectors.toMap(SpanData::getName, Function.identity()));
            assertThat(byName).containsKeys("POST /v1/chat/completions", "hyserve.requests publish",
                    "hyserve.requests process", "queue", "prefill", "decode");
            SpanData server = byName.get("POST /v1/chat/completions");
            SpanData publish = byName.get("hyserve.requests publish");
            SpanData process = byName.get("hyserve.requests process");
            assertThat(server.getKind()).isEqualTo(SpanKind.SERVER);
            assertThat(server.getParentSpanId()).isEqualTo("00f067aa0ba902b7");
            assertThat(publish.getKind()).isEqualTo(SpanKind.PRODUCER);
            assertThat(publish.getParentSpanId()).isEqualTo(server.getSpanId());
            assertThat(process.getKind()).isEqualTo(SpanKind.CONSUMER);
            assertThat(process.getParentSpanId()).isEqualTo(publish.getSpanId());
            assertThat(process.getAttributes().asMap().toString()).contains("gen_ai.usage.output_tokens=5");
            for (String phase : List.of("queue", "prefill", "decode")) {
                assertThat(byName.get(phase).getParentSpanId()).isEqualTo(process.getSpanId());
            }
            assertThat(byName.get("queue").getEndEpochNanos()).isLessThanOrEqualTo(byName.get("prefill").getStartEpochNanos());
            assertThat(byName.get("prefill").getEndEpochNanos()).isLessThanOrEqualTo(byName.get("decode").getStartEpochNanos());

            // Probes and scrapes, which a cluster sends every few seconds, answer without adding traces.
            int before = spans.getFinishedSpanItems().size();
            for (String path : List.of("/health/live", "/health/ready", "/metrics")) {
                assertThat(ServePipelineTest.get(system, path).statusCode()).as(path).isEqualTo(200);
            }
            assertThat(spans.getFinishedSpanItems()).hasSize(before);
        }
    }
}
