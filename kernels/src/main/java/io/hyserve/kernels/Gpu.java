package io.hyserve.kernels;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import jcuda.CudaException;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * One CUDA device through JCuda's driver API: its primary context, one stream, and the kernel modules packaged
 * in this jar (a cubin for sm_90a, else the compute_90a PTX for the driver to compile). Not thread-safe: one
 * worker thread drives one device.
 */
public final class Gpu implements AutoCloseable {
    private static final String KERNELS = "/io/hyserve/kernels/";
    /** CUDA's limit on a grid's y dimension, where kernels put tokens. */
    static final int MAX_GRID_Y = 65_535;
    /** Dynamic shared memory a launch gets without raising the kernel's limit first. */
    private static final int DEFAULT_SHARED_BYTES = 48 * 1024;
    private static volatile Availability availability;

    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final CUstream stream = new CUstream();
    private final Map<String, CUmodule> modules = new HashMap<>();
    private final Map<String, CUfunction> functions = new HashMap<>();
    /** Dynamic shared memory each kernel has been allowed so far (raising the limit is a driver call). */
    private final Map<String, Integer> sharedBytesAllowed = new HashMap<>();
    private final MemorySegment streamHandle;
    private final String name;
    private boolean closed;
    /** The device whose context each thread last bound; the driver keeps the current context per thread. */
    private static final ThreadLocal<Gpu> BOUND = new ThreadLocal<>();

    /** Whether a device can be opened here, and why not. */
    public record Availability(boolean available, String reason) {}

    private Gpu(int ordinal) {
        cuDeviceGet(device, ordinal);
        cuDevicePrimaryCtxRetain(context, device);
        bind();
        cuStreamCreate(stream, 0);
        streamHandle = MemorySegment.ofAddress(nativeHandle(stream));
        byte[] buffer = new byte[256];
        cuDeviceGetName(buffer, buffer.length, device);
        String raw = new String(buffer, StandardCharsets.US_ASCII);
        this.name = raw.substring(0, Math.max(0, raw.indexOf('\0')));
    }

    /**
     * Probes once per process: the JCuda driver library (it needs libcuda.so.1, so it fails to link without an
     * NVIDIA driver), a device, and the compiled kernels in this jar.
     */
    public static Availability availability() {
        Availability known = availability;
        if (known == null) {
            known = probe();
            availability = known;
        }
        return known;
    }

    private static Availability probe() {
        if (Gpu.class.getResource(KERNELS + "rmsnorm.sm_90a.cubin") == null) {
            return new Availability(false, "this build has no compiled kernels (nvcc was not found at build time)");
        }
        try {
            JCudaDriver.setExceptionsEnabled(true);
            cuInit(0);
            int[] count = new int[1];
            cuDeviceGetCount(count);
            if (count[0] == 0) {
                return new Availability(false, "the CUDA driver reports no device");
            }
            // The cubins are sm_90a and the PTX compute_90a, which only Hopper (9.0) runs.
            CUdevice first = new CUdevice();
            cuDeviceGet(first, 0);
            int[] major = new int[1];
            int[] minor = new int[1];
            cuDeviceGetAttribute(major, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, first);
            cuDeviceGetAttribute(minor, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, first);
            return major[0] == 9 && minor[0] == 0
                    ? new Availability(true, "%d CUDA device(s), compute capability 9.0".formatted(count[0]))
                    : new Availability(false, "compute capability %d.%d; this build's kernels are for 9.0 (H100/H200)"
                            .formatted(major[0], minor[0]));
        } catch (LinkageError e) {
            return new Availability(false, "no NVIDIA driver could be loaded: " + loaderReason(e));
        } catch (CudaException e) {
            return new Availability(false, "CUDA driver error: " + e.getMessage());
        }
    }

    /** JCuda's message lists every place it tried; the dynamic loader's own line says what was missing. */
    private static String loaderReason(LinkageError e) {
        String message = String.valueOf(e.getMessage());
        return message.lines().filter(line -> line.contains("cannot open shared object file")).findFirst()
                .map(line -> line.substring(line.lastIndexOf(".so: ") + 5))
                .orElse(message.lines().findFirst().orElse(e.toString()));
    }

    /**
     * The stream's driver handle ({@code CUstream}), for libraries bound through java.lang.foreign (cuBLAS, cuDNN)
     * that must queue their work in order with our kernels.
     */
    MemorySegment streamHandle() {
        return streamHandle;
    }

    /** The driver handle inside a JCuda object, which JCuda keeps to its JNI code. */
    private static long nativeHandle(NativePointerObject object) {
        try {
            Method accessor = NativePointerObject.class.getDeclaredMethod("getNativePointer");
            accessor.setAccessible(true);
            return (long) accessor.invoke(object);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("JCuda's handle of " + object + " cannot be read", e);
        }
    }

    /** Opens device {@code ordinal}; check {@link #availability()} first. */
    public static Gpu open(int ordinal) {
        Availability a = availability();
        if (!a.available()) {
            throw new IllegalStateException("no GPU: " + a.reason());
        }
        return new Gpu(ordinal);
    }

    public String name() {
        return name;
    }

    /** Makes this device's context current on the calling thread (model loading and the engine differ). */
    void bind() {
        if (BOUND.get() != this) {
            cuCtxSetCurrent(context);
            BOUND.set(this);
        }
    }

    /** A kernel of module {@code module} ({@code src/main/cuda/<module>.cu}), loaded on first use. */
    private CUfunction function(String module, String kernel) {
        return functions.computeIfAbsent(module + "/" + kernel, key -> {
            CUfunction function = new CUfunction();
            cuModuleGetFunction(function, modules.computeIfAbsent(module, this::load), kernel);
            return function;
        });
    }

    private CUmodule load(String module) {
        CUmodule loaded = new CUmodule();
        try {
            cuModuleLoadData(loaded, resource(module + ".sm_90a.cubin"));
        } catch (CudaException notThisArchitecture) {
            // Another architecture than sm_90a: the driver compiles the PTX for it (NUL-terminated text).
            byte[] ptx = resource(module + ".compute_90a.ptx");
            byte[] terminated = java.util.Arrays.copyOf(ptx, ptx.length + 1);
            cuModuleLoadData(loaded, terminated);
        }
        return loaded;
    }

    private static byte[] resource(String file) {
        try (InputStream in = Gpu.class.getResourceAsStream(KERNELS + file)) {
            if (in == null) {
                throw new IllegalStateException("kernel binary " + file + " is not in this build");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Queues kernel {@code kernel} of {@code module} on this device's stream. Arguments map to the kernel's
     * parameters in order: {@link DeviceMemory} (or null) to a device pointer, Integer to int, Long to int64_t,
     * Float to float.
     */
    void launch(String module, String kernel, int gridX, int gridY, int blockX, int sharedBytes, Object... args) {
        if (gridX == 0 || gridY == 0) {
            return; // nothing to compute (a step whose chunks all end mid-prompt has no logit rows)
        }
        if (gridY > MAX_GRID_Y) {
            throw new IllegalArgumentException("%s: %d rows exceed the %d a launch takes".formatted(kernel, gridY,
                    MAX_GRID_Y));
        }
        bind();
        Pointer[] params = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            params[i] = switch (args[i]) {
                case null -> Pointer.to(new CUdeviceptr());
                case DeviceMemory memory -> Pointer.to(memory.pointer());
                case Integer v -> Pointer.to(new int[] {v});
                case Long v -> Pointer.to(new long[] {v});
                case Float v -> Pointer.to(new float[] {v});
                default -> throw new IllegalArgumentException("kernel argument of type " + args[i].getClass());
            };
        }
        CUfunction function = function(module, kernel);
        String key = module + "/" + kernel;
        if (sharedBytes > sharedBytesAllowed.getOrDefault(key, DEFAULT_SHARED_BYTES)) {
            cuFuncSetAttribute(function, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    sharedBytes);
            sharedBytesAllowed.put(key, sharedBytes);
        }
        cuLaunchKernel(function, gridX, gridY, 1, blockX, 1, 1, sharedBytes, stream,
                Pointer.to(params), null);
    }

    /** Waits for everything queued so far. */
    public void synchronize() {
        bind();
        cuStreamSynchronize(stream);
    }

    /**
     * The device's memory bandwidth as a large device-to-device copy achieves it, in bytes per second (each copied
     * byte read once and written once): the roof that memory-bound kernels are measured against.
     */
    public double copyBandwidth(long bytes, int repeats) {
        try (DeviceMemory from = allocate(bytes); DeviceMemory to = allocate(bytes)) {
            from.zero();
            cuMemcpyDtoDAsync(to.pointer(), from.pointer(), bytes, stream); // warm-up
            synchronize();
            long best = Long.MAX_VALUE;
            for (int i = 0; i < repeats; i++) {
                long start = System.nanoTime();
                cuMemcpyDtoDAsync(to.pointer(), from.pointer(), bytes, stream);
                synchronize();
                best = Math.min(best, System.nanoTime() - start);
            }
            return 2.0 * bytes / (best / 1e9);
        }
    }

    /**
     * {@code buffer} when it holds {@code bytes}, else a new allocation of at least that (the old one freed): the
     * scratch buffers that steps grow. Reuse is safe in stream order.
     */
    public DeviceMemory reserve(DeviceMemory buffer, long bytes) {
        if (buffer != null && buffer.bytes() >= bytes) {
            return buffer;
        }
        if (buffer != null) {
            buffer.close();
        }
        return allocate(Math.max(bytes, 256));
    }

    public DeviceMemory allocate(long bytes) {
        bind();
        return new DeviceMemory(this, bytes);
    }

    /** Whether {@link #close()} ran: memory freed after that would belong to a released context. */
    boolean closed() {
        return closed;
    }

    @Override
    public void close() {
        synchronize();
        closed = true;
        BOUND.remove();
        for (CUmodule module : modules.values()) {
            cuModuleUnload(module);
        }
        cuStreamDestroy(stream);
        cuDevicePrimaryCtxRelease(device);
    }
}
