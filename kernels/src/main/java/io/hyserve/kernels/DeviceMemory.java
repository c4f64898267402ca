package io.hyserve.kernels;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoD;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemsetD32;
import static jcuda.driver.JCudaDriver.cuPointerGetAttribute;

import java.lang.foreign.MemorySegment;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUpointer_attribute;

/**
 * A device allocation. Copies from and to Java arrays are synchronous on the legacy default stream, which waits
 * for the kernels queued before them on the device's (blocking) stream; pinned buffers come with the backend.
 */
public final class DeviceMemory implements AutoCloseable {
    /** Largest piece of a host segment copied at once (a ByteBuffer holds at most 2 GiB). */
    private static final long COPY_CHUNK = 1L << 30;
    private final Gpu gpu;
    private final CUdeviceptr pointer = new CUdeviceptr();
    private final long bytes;
    private boolean freed;

    DeviceMemory(Gpu gpu, long bytes) {
        this.gpu = gpu;
        this.bytes = bytes;
        cuMemAlloc(pointer, Math.max(1, bytes));
    }

    public long bytes() {
        return bytes;
    }

    CUdeviceptr pointer() {
        return pointer;
    }

    /** The allocation's device address, for tables of pointers that kernels read (experts' weights). */
    long address() {
        long[] address = new long[1];
        gpu.bind();
        cuPointerGetAttribute(Pointer.to(address), CUpointer_attribute.CU_POINTER_ATTRIBUTE_DEVICE_POINTER, pointer);
        return address[0];
    }

    public DeviceMemory write(float[] data) {
        return copyIn(Pointer.to(data), 4L * data.length);
    }

    public DeviceMemory write(int[] data) {
        return copyIn(Pointer.to(data), 4L * data.length);
    }

    /** Raw 16-bit words, as BF16 weights are stored. */
    public DeviceMemory write(short[] data) {
        return copyIn(Pointer.to(data), 2L * data.length);
    }

    /** The whole of a host segment (a mapped checkpoint tensor, say), from the start of this allocation. */
    public DeviceMemory write(MemorySegment segment) {
        requireFits(segment.byteSize());
        gpu.bind();
        for (long offset = 0; offset < segment.byteSize(); offset += COPY_CHUNK) {
            long size = Math.min(COPY_CHUNK, segment.byteSize() - offset);
            java.nio.ByteBuffer piece = segment.asSlice(offset, size).asByteBuffer();
            cuMemcpyHtoD(pointer.withByteOffset(offset), piece.isDirect() ? Pointer.to(piece)
                    : Pointer.to(segment.asSlice(offset, size).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)), size);
        }
        return this;
    }

    /** Sets every 32-bit word to zero. */
    public void zero() {
        if (bytes < 4) {
            return;
        }
        gpu.bind();
        cuMemsetD32(pointer, 0, bytes / 4);
    }

    /** The first {@code size} bytes of {@code source} to {@code offset} bytes into this allocation, in stream order. */
    public DeviceMemory copyFrom(DeviceMemory source, long offset, long size) {
        requireFits(offset + size);
        source.requireFits(size);
        gpu.bind();
        cuMemcpyDtoD(pointer.withByteOffset(offset), source.pointer, size);
        return this;
    }

    public void read(short[] into) {
        copyOut(Pointer.to(into), 2L * into.length);
    }

    public void read(float[] into) {
        copyOut(Pointer.to(into), 4L * into.length);
    }

    public void read(int[] into) {
        copyOut(Pointer.to(into), 4L * into.length);
    }

    private DeviceMemory copyIn(Pointer host, long size) {
        requireFits(size);
        if (size == 0) {
            return this;
        }
        gpu.bind();
        cuMemcpyHtoD(pointer, host, size);
        return this;
    }

    private void copyOut(Pointer host, long size) {
        requireFits(size);
        if (size == 0) {
            return;
        }
        gpu.bind();
        cuMemcpyDtoH(host, pointer, size);
    }

    private void requireFits(long size) {
        if (size > bytes) {
            throw new IllegalArgumentException("%d bytes do not fit an allocation of %d".formatted(size, bytes));
        }
    }

    /** Frees the allocation once; after its device closed there is nothing left to free. */
    @Override
    public void close() {
        if (freed || gpu.closed()) {
            return;
        }
        freed = true;
        gpu.bind();
        cuMemFree(pointer);
    }
}
