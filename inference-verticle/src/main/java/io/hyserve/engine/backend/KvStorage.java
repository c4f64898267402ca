package io.hyserve.engine.backend;

/** The paged K/V pool of one model instance, in a backend's memory. */
public interface KvStorage extends AutoCloseable {
    KvLayout layout();

    @Override
    void close();
}
