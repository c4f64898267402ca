package io.hyserve.gateway;

import java.util.HashMap;
import java.util.Map;

/**
 * Per-key limits: requests and tokens per minute (token buckets refilled continuously) and concurrent
 * generations. A request reserves its prompt tokens plus max_tokens; what it did not generate is refunded
 * when it ends. Event-loop thread only.
 *
 * @param requestsPerMinute 0 = unlimited
 * @param tokensPerMinute 0 = unlimited
 * @param concurrentPerKey 0 = unlimited
 */
public record RateLimits(int requestsPerMinute, int tokensPerMinute, int concurrentPerKey) {

    public static RateLimits unlimited() {
        return new RateLimits(0, 0, 0);
    }

    /** Budgets of every key seen; created on first use. */
    final class Ledger {
        private final Map<String, Budget> budgets = new HashMap<>();

        /**
         * Admits one request of {@code tokens} or throws 429 with the seconds to wait.
         *
         * @throws ApiError 429
         */
        void admit(String key, int tokens, long nowNanos) {
            Budget budget = budgets.computeIfAbsent(key, k -> new Budget(nowNanos));
            budget.refill(nowNanos);
            if (concurrentPerKey > 0 && budget.inFlight >= concurrentPerKey) {
                throw limited("this key has its limit of %d concurrent requests in flight".formatted(concurrentPerKey), 1);
            }
            if (requestsPerMinute > 0 && budget.requests < 1) {
                throw limited("this key is over its limit of %d requests per minute".formatted(requestsPerMinute),
                        secondsUntil(1 - budget.requests, requestsPerMinute));
            }
            if (tokensPerMinute > 0 && tokens > tokensPerMinute) {
                throw ApiError.badRequest("the request needs %d tokens (prompt + max_tokens); this key may use %d per minute"
                        .formatted(tokens, tokensPerMinute), "max_tokens");
            }
            if (tokensPerMinute > 0 && budget.tokens < tokens) {
                throw limited("this key is over its limit of %d tokens per minute".formatted(tokensPerMinute),
                        secondsUntil(tokens - budget.tokens, tokensPerMinute));
            }
            budget.requests -= 1;
            budget.tokens -= tokens;
            budget.inFlight++;
        }

        /** The request ended; {@code unusedTokens} of its reservation come back. */
        void release(String key, int unusedTokens) {
            Budget budget = budgets.get(key);
            if (budget != null) {
                budget.inFlight--;
                budget.tokens = Math.min(tokensPerMinute, budget.tokens + unusedTokens);
            }
        }

        private static long secondsUntil(double missing, int perMinute) {
            return Math.max(1, (long) Math.ceil(missing * 60.0 / perMinute));
        }

        private static ApiError limited(String message, long retryAfterSeconds) {
            ApiError error = ApiError.tooMany(message);
            error.retryAfterSeconds = retryAfterSeconds;
            return error;
        }
    }

    private final class Budget {
        double requests = requestsPerMinute;
        double tokens = tokensPerMinute;
        int inFlight;
        private long refilledAt;

        Budget(long nowNanos) {
            refilledAt = nowNanos;
        }

        void refill(long nowNanos) {
            double minutes = (nowNanos - refilledAt) / 60e9;
            refilledAt = nowNanos;
            requests = Math.min(requestsPerMinute, requests + minutes * requestsPerMinute);
            tokens = Math.min(tokensPerMinute, tokens + minutes * tokensPerMinute);
        }
    }

    Ledger newLedger() {
        return new Ledger();
    }
}
