package io.hyserve.kernels;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * A device allocation. Copies from and to Java arrays are synchronous on the legacy default stream, which waits
 * for the kernels queued before them on the device's (blocking) stream; pinned buffers come with the backend.
 */
public final class DeviceMemory implements AutoCloseable {
    private final CUdeviceptr pointer = new CUdeviceptr();
    private final long bytes;

    DeviceMemory(long bytes) {
        this.bytes = bytes;
        cuMemAlloc(pointer, Math.max(1, bytes));
    }

    public long bytes() {
        return bytes;
    }

    CUdeviceptr pointer() {
        return pointer;
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

    public void read(float[] into) {
        copyOut(Pointer.to(into), 4L * into.length);
    }

    public void read(int[] into) {
        copyOut(Pointer.to(into), 4L * into.length);
    }

    private DeviceMemory copyIn(Pointer host, long size) {
        requireFits(size);
        cuMemcpyHtoD(pointer, host, size);
        return this;
    }

    private void copyOut(Pointer host, long size) {
        requireFits(size);
        cuMemcpyDtoH(host, pointer, size);
    }

    private void requireFits(long size) {
        if (size > bytes) {
            throw new IllegalArgumentException("%d bytes do not fit an allocation of %d".formatted(size, bytes));
        }
    }

    @Override
    public void close() {
        cuMemFree(pointer);
    }
}
