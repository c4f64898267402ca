package io.hyserve.engine;

/** A request was cancelled because its consumer stopped requesting events and the bounded buffer filled up. */
public final class StreamOverflowException extends RuntimeException {
    public StreamOverflowException(String message) {
        super(message);
    }
}
