package io.hyserve.engine.model;

/** Receives progress while a checkpoint's tensors are made ready, since real checkpoints are hundreds of GB. */
@FunctionalInterface
public interface LoadProgress {
    void update(int tensorsDone, int tensorsTotal, long bytesDone, long bytesTotal);

    LoadProgress NONE = (tensorsDone, tensorsTotal, bytesDone, bytesTotal) -> {};
}
