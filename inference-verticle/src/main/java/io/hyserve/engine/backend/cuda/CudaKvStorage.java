package io.hyserve.engine.backend.cuda;

import io.hyserve.engine.backend.KvLayout;
import io.hyserve.engine.backend.KvStorage;
import io.hyserve.kernels.PagedAttentionKernel;

/** The paged KV pool in device memory, laid out as {@code paged_attention.cu} reads it. */
record CudaKvStorage(KvLayout layout, PagedAttentionKernel.Pool pool) implements KvStorage {
    @Override
    public void close() {
        pool.memory().close();
    }
}
