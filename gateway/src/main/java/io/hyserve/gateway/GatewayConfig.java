package io.hyserve.gateway;

import io.hyserve.schemas.Topics;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * The gateway's settings.
 *
 * @param gatewayId unique among live gateways; names this instance's events topic
 * @param modelName the served model name clients must ask for
 * @param maxBodyBytes larger request bodies get 413
 * @param maxPromptTokens longer prompts get 400 (the model's context length also applies)
 * @param maxTokensLimit a larger max_tokens gets 400
 * @param maxConcurrentStreams generations in flight at once on this gateway; beyond it, 429
 * @param streamCredit events a worker may send ahead of what the client has read (per generation)
 * @param requestTimeout every generation ends by then, with an error if it has not finished
 * @param workerTimeout a worker silent for this long is gone: its streams end with an error
 * @param allowSpecialTokensInChat read special-token text in chat content as special tokens
 * @param sendBufferBytes kernel send buffer per client connection (0: the OS default, which grows to megabytes);
 *     what a stalled client can hold beyond the gateway's own bound
 */
public record GatewayConfig(
        String gatewayId,
        String host,
        int port,
        String modelName,
        Topics topics,
        Map<String, Object> kafka,
        int requestsPartitions,
        short replication,
        long maxBodyBytes,
        int maxPromptTokens,
        int maxTokensLimit,
        int maxConcurrentStreams,
        int streamCredit,
        Duration requestTimeout,
        Duration workerTimeout,
        boolean allowSpecialTokensInChat,
        int sendBufferBytes,
        Security security) {

    /**
     * Who may call and how much.
     *
     * @param apiKeys Bearer keys; none means no authentication
     * @param corsOrigins origins allowed to call from a browser; empty means no CORS headers
     * @param tlsCertificate PEM certificate chain; with {@code tlsKey}, the gateway serves HTTPS
     */
    public record Security(ApiKeys apiKeys, RateLimits rateLimits, java.util.List<String> corsOrigins,
            java.nio.file.Path tlsCertificate, java.nio.file.Path tlsKey) {
        public Security {
            corsOrigins = java.util.List.copyOf(corsOrigins);
            if ((tlsCertificate == null) != (tlsKey == null)) {
                throw new IllegalArgumentException("TLS needs both a certificate and a key");
            }
        }

        public static Security open() {
            return new Security(ApiKeys.none(), RateLimits.unlimited(), java.util.List.of(), null, null);
        }
    }

    public GatewayConfig {
        Objects.requireNonNull(gatewayId, "gatewayId");
        Objects.requireNonNull(modelName, "modelName");
        kafka = Map.copyOf(kafka);
        if (!gatewayId.matches("[A-Za-z0-9._-]{1,100}")) {
            throw new IllegalArgumentException("gateway id '%s' must be 1-100 of [A-Za-z0-9._-]".formatted(gatewayId));
        }
        if (maxBodyBytes <= 0 || maxPromptTokens <= 0 || maxTokensLimit <= 0 || maxConcurrentStreams <= 0
                || streamCredit < 2) {
            throw new IllegalArgumentException("gateway limits must be positive (stream credit at least 2)");
        }
    }
}
