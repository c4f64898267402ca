package io.hyserve.schemas;

/** A message that is not valid JSON or breaks its schema; the message names every violation. */
public final class WireException extends Exception {
    public WireException(String message) {
        super(message);
    }

    public WireException(String message, Throwable cause) {
        super(message, cause);
    }
}
