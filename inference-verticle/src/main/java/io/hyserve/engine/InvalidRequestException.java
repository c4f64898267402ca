package io.hyserve.engine;

/** A request the engine refuses before running it; the message says what to fix (HTTP 400). */
public final class InvalidRequestException extends RuntimeException {
    public InvalidRequestException(String message) {
        super(message);
    }

    public InvalidRequestException(String message, Throwable cause) {
        super(message, cause);
    }
}
