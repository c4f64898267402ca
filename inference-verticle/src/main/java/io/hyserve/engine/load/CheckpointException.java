package io.hyserve.engine.load;

/** A checkpoint that cannot be used; the message names the file and, where relevant, the tensor or key. */
public final class CheckpointException extends RuntimeException {
    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
