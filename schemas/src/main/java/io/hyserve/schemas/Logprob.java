package io.hyserve.schemas;

import java.util.List;

/** A generated token's log-probability and the best alternatives at its position, best first. */
public record Logprob(int tokenId, double logprob, List<Alternative> top) {
    public record Alternative(int tokenId, double logprob) {}

    public Logprob {
        top = top == null ? List.of() : List.copyOf(top);
    }
}
