package io.hyserve.gateway;

import io.vertx.core.json.JsonObject;

/** A request the API refuses, rendered in OpenAI's error shape with its HTTP status. */
final class ApiError extends RuntimeException {
    final int status;
    final String type;
    final String param;
    final String code;
    /** For a 429: seconds after which a retry can succeed ({@code Retry-After}); 0 when not set. */
    long retryAfterSeconds;

    ApiError(int status, String type, String message, String param, String code) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    static ApiError badRequest(String message, String param) {
        return new ApiError(400, "invalid_request_error", message, param, null);
    }

    static ApiError notFound(String message, String code) {
        return new ApiError(404, "invalid_request_error", message, null, code);
    }

    static ApiError tooLarge(String message) {
        return new ApiError(413, "invalid_request_error", message, null, null);
    }

    static ApiError tooMany(String message) {
        return new ApiError(429, "rate_limit_error", message, null, null);
    }

    static ApiError unavailable(String message) {
        return new ApiError(503, "service_unavailable", message, null, null);
    }

    static ApiError internal(String message) {
        return new ApiError(500, "internal_error", message, null, null);
    }

    JsonObject toJson() {
        return json(getMessage(), type, param, code);
    }

    static JsonObject json(String message, String type, String param, String code) {
        return new JsonObject().put("error", new JsonObject()
                .put("message", message).put("type", type).put("param", param).put("code", code));
    }
}
