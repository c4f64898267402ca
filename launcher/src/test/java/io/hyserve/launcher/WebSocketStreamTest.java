package io.hyserve.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hyserve.engine.Prompt;
import java.net.URI;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code /v1/stream}: multiplexed generations, cancel, and refused frames, with the JDK's WebSocket client. */
class WebSocketStreamTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path data;
    static ServeSystem system;

    @BeforeAll
    static void start() throws Exception {
        system = ServeSystem.start(ServePipelineTest.settings(data));
        ServePipelineTest.awaitReady(system);
    }

    @AfterAll
    static void stop() {
        if (system != null) {
            system.close();
        }
    }

    /** Collects text frames and the close code. */
    static final class Frames implements WebSocket.Listener {
        final LinkedBlockingQueue<JsonNode> messages = new LinkedBlockingQueue<>();
        final CompletableFuture<Integer> closed = new CompletableFuture<>();
        private final StringBuilder partial = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket socket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                try {
                    messages.add(JSON.readTree(partial.toString()));
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
                partial.setLength(0);
            }
            socket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket socket, int statusCode, String reason) {
            closed.complete(statusCode);
            return null;
        }

        JsonNode next() throws InterruptedException {
            JsonNode message = messages.poll(60, TimeUnit.SECONDS);
            assertThat(message).as("a frame within 60 s").isNotNull();
            return message;
        }
    }

    private static WebSocket connect(Frames frames) throws Exception {
        return ServePipelineTest.http.newWebSocketBuilder()
                .buildAsync(URI.create("ws://127.0.0.1:" + system.port() + "/v1/stream"), frames).get(30, TimeUnit.SECONDS);
    }

    private static String generate(String id, String endpoint, String request) {
        return "{\"type\":\"generate\",\"id\":\"" + id + "\",\"endpoint\":\"" + endpoint + "\",\"request\":" + request + "}";
    }

    @Test
    void generationsShareOneSocketAndCancelStopsOne() throws Exception {
        Frames frames = new Frames();
        WebSocket socket = connect(frames);
        String model = ServePipelineTest.MODEL;
        socket.sendText(generate("a", "completion", "{\"model\":\"" + model
                + "\",\"prompt\":\"First stream\",\"max_tokens\":8,\"temperature\":0}"), true).get();
        socket.sendText(generate("b", "chat", "{\"model\":\"" + model
                + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Second\"}],\"max_tokens\":6,\"temperature\":0}"), true).get();
        socket.sendText(generate("c", "completion", "{\"model\":\"" + model
                + "\",\"prompt\":\"A long one\",\"max_tokens\":400,\"ignore_eos\":true,\"temperature\":0}"), true).get();
        Map<String, StringBuilder> text = new HashMap<>();
        Map<String, JsonNode> done = new HashMap<>();
        boolean cancelSent = false;
        JsonNode cancelled = null;
        while (done.size() < 2 || cancelled == null) {
            JsonNode frame = frames.next();
            String id = frame.get("id").asText();
            switch (frame.get("type").asText()) {
                case "token", "finish" -> text.computeIfAbsent(id, k -> new StringBuilder()).append(frame.get("text").asText());
                case "done" -> done.put(id, frame);
                case "cancelled" -> cancelled = frame;
                default -> throw new AssertionError("unexpected frame " + frame);
            }
            if (!cancelSent && text.containsKey("c")) {
                socket.sendText("{\"type\":\"cancel\",\"id\":\"c\"}", true).get();
                cancelSent = true;
            }
        }
        assertThat(done).containsOnlyKeys("a", "b");
        assertThat(cancelled.get("id").asText()).isEqualTo("c");
        assertThat(text.get("a").toString()).isEqualTo(ServePipelineTest.direct(system.engine(), Prompt.text("First stream"), 8));
        assertThat(text.get("b").toString()).isEqualTo(ServePipelineTest.direct(system.engine(),
                Prompt.chat(List.of(new io.hyserve.engine.tokenizer.ChatMessage("user", "Second"))), 6));
        assertThat(done.get("a").get("usage").get("completion_tokens").asInt()).isEqualTo(8);
        long deadline = System.nanoTime() + Duration.ofSeconds(1).toNanos();
        while (system.engine().stats().running() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(system.engine().stats().running()).as("the cancelled generation stopped").isZero();
        socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get();
    }

    @Test
    void invalidMessagesGetErrorFramesAndBinaryFramesCloseTheSocket() throws Exception {
        Frames frames = new Frames();
        WebSocket socket = connect(frames);
        socket.sendText("{not json", true).get();
        JsonNode malformed = frames.next();
        assertThat(malformed.get("type").asText()).isEqualTo("error");
        assertThat(malformed.get("status").asInt()).isEqualTo(400);
        assertThat(malformed.get("error").get("message").asText()).contains("not valid JSON");

        socket.sendText("{\"type\":\"generate\",\"id\":\"x\",\"endpoint\":\"chat\",\"request\":{\"model\":\"nope\",\"messages\":[]}}", true).get();
        JsonNode unknownModel = frames.next();
        assertThat(unknownModel.get("id").asText()).isEqualTo("x");
        assertThat(unknownModel.get("status").asInt()).isEqualTo(404);

        socket.sendText("{\"type\":\"cancel\",\"id\":\"never-started\"}", true).get();
        assertThat(frames.next().get("error").get("message").asText()).contains("no generation");

        socket.sendText("{\"type\":\"dance\",\"id\":\"y\"}", true).get();
        assertThat(frames.next().get("error").get("message").asText()).contains("type must be");

        socket.sendBinary(ByteBuffer.wrap(new byte[] {1, 2, 3}), true).get();
        assertThat(frames.closed.get(30, TimeUnit.SECONDS)).isEqualTo(1003);
    }
}
