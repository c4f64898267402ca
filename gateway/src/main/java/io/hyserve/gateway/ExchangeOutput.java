package io.hyserve.gateway;

import io.hyserve.schemas.Logprob;
import io.vertx.core.json.JsonObject;
import java.util.List;

/** Where an exchange's output goes and in which shape: an SSE response, a JSON response, or WebSocket frames. */
interface ExchangeOutput {
    /** The transport cannot take more now; {@link #onDrain} says when it can. */
    boolean writeQueueFull();

    void onDrain(Runnable resume);

    /** Generated text of one choice (streaming outputs only). */
    void delta(Exchange.Choice choice, String text, List<Integer> tokenIds, List<Logprob> logprobs);

    /** One choice ended (streaming outputs only); {@code text} was held back until now. */
    void finish(Exchange.Choice choice, String text, String finishReason);

    /** Every choice ended; {@code usage} is OpenAI's usage object. */
    void complete(List<Exchange.Choice> choices, JsonObject usage);

    void error(ApiError error);
}
