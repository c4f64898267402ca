package io.hyserve.gateway;

import io.hyserve.schemas.Logprob;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code /v1/stream}: several generations multiplexed on one WebSocket by client-chosen ids. The protocol
 * (JSON text frames) is in the README. All generations share the socket's write queue: when it is full, every
 * generation of the socket waits for the drain, and their credits stop.
 */
final class WebSocketSession {
    private static final short UNSUPPORTED_DATA = 1003;
    private static final int MAX_ID_LENGTH = 128;

    private final ServerWebSocket socket;
    private final Gateway gateway;
    private final Map<String, Exchange> generations = new HashMap<>();
    private final List<Runnable> waitingForDrain = new ArrayList<>();

    private final String key;

    WebSocketSession(ServerWebSocket socket, Gateway gateway, String key) {
        this.socket = socket;
        this.key = key;
        this.gateway = gateway;
        socket.textMessageHandler(this::onText);
        socket.binaryMessageHandler(b -> socket.close(UNSUPPORTED_DATA, "only JSON text frames are accepted"));
        socket.drainHandler(v -> {
            List<Runnable> resume = List.copyOf(waitingForDrain);
            waitingForDrain.clear();
            resume.forEach(Runnable::run);
        });
        socket.closeHandler(v -> List.copyOf(generations.values()).forEach(Exchange::abandon));
        socket.exceptionHandler(e -> { }); // a broken socket ends in closeHandler
    }

    private void onText(String text) {
        String id = null;
        try {
            Object value;
            try {
                value = Json.decodeValue(text);
            } catch (DecodeException e) {
                throw ApiError.badRequest("the message is not valid JSON: " + e.getMessage(), null);
            }
            if (!(value instanceof JsonObject message)) {
                throw ApiError.badRequest("a message must be a JSON object", null);
            }
            if (!(message.getValue("id") instanceof String given) || given.isEmpty() || given.length() > MAX_ID_LENGTH) {
                throw ApiError.badRequest("id must be a string of 1-" + MAX_ID_LENGTH + " characters", "id");
            }
            id = given;
            switch (String.valueOf(message.getValue("type"))) {
                case "generate" -> generate(id, message);
                case "cancel" -> cancel(id);
                default -> throw ApiError.badRequest("type must be \"generate\" or \"cancel\"", "type");
            }
        } catch (ApiError error) {
            send(new JsonObject().put("type", "error").put("id", id).put("status", error.status)
                    .put("error", error.toJson().getJsonObject("error")));
        }
    }

    private void generate(String id, JsonObject message) {
        if (generations.containsKey(id)) {
            throw ApiError.badRequest("a generation with id '%s' is still running on this socket".formatted(id), "id");
        }
        Object endpoint = message.getValue("endpoint");
        if (!"chat".equals(endpoint) && !"completion".equals(endpoint)) {
            throw ApiError.badRequest("endpoint must be \"chat\" or \"completion\"", "endpoint");
        }
        if (!(message.getValue("request") instanceof JsonObject request)) {
            throw ApiError.badRequest("request must be an OpenAI chat or completion request body", "request");
        }
        boolean chat = "chat".equals(endpoint);
        request = request.copy().put("stream", true).put("stream_options", new JsonObject().put("include_usage", true));
        GenerationPlan plan = gateway.plan(request, chat);
        Exchange exchange = gateway.start(Gateway.newExchangeId(chat), plan, key, io.opentelemetry.context.Context.root(),
                "WebSocket /v1/stream " + endpoint, e -> new Output(id));
        generations.put(id, exchange);
    }

    private void cancel(String id) {
        Exchange exchange = generations.get(id);
        if (exchange == null) {
            throw ApiError.badRequest("no generation with id '%s' is running on this socket".formatted(id), "id");
        }
        exchange.abandon();
        generations.remove(id);
        send(new JsonObject().put("type", "cancelled").put("id", id));
    }

    private void send(JsonObject frame) {
        if (!socket.isClosed()) {
            socket.writeTextMessage(frame.encode());
        }
    }

    /** One generation's frames, tagged with the client's id. */
    private final class Output implements ExchangeOutput {
        private final String id;

        Output(String id) {
            this.id = id;
        }

        @Override
        public boolean writeQueueFull() {
            return socket.writeQueueFull();
        }

        @Override
        public void onDrain(Runnable resume) {
            waitingForDrain.add(resume);
        }

        @Override
        public void delta(Exchange.Choice choice, String text, List<Integer> tokenIds, List<Logprob> logprobs) {
            JsonObject frame = new JsonObject().put("type", "token").put("id", id).put("index", choice.index)
                    .put("text", text).put("token_ids", new JsonArray(new ArrayList<>(tokenIds)));
            if (logprobs != null) {
                frame.put("logprobs", gateway.formatLogprobs(true, logprobs, 0).getJsonArray("content"));
            }
            send(frame);
        }

        @Override
        public void finish(Exchange.Choice choice, String text, String finishReason) {
            send(new JsonObject().put("type", "finish").put("id", id).put("index", choice.index).put("text", text)
                    .put("finish_reason", finishReason));
        }

        @Override
        public void complete(List<Exchange.Choice> choices, JsonObject usage) {
            generations.remove(id);
            send(new JsonObject().put("type", "done").put("id", id).put("usage", usage));
        }

        @Override
        public void error(ApiError error) {
            generations.remove(id);
            send(new JsonObject().put("type", "error").put("id", id).put("status", error.status)
                    .put("error", error.toJson().getJsonObject("error")));
        }
    }
}
