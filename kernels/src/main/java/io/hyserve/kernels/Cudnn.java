package io.hyserve.kernels;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;

/**
 * cuDNN 9's backend (graph) API through java.lang.foreign: descriptors are opaque handles whose attributes are set
 * as typed arrays and then finalized. Constants are those of cuDNN 9's {@code cudnn_graph.h}; only what the fused
 * attention graph needs is bound.
 */
final class Cudnn {
    /** A shim that opens its sublibraries (graph, engines, heuristics) beside itself when first needed. */
    static final String SONAME = "libcudnn.so.9";
    /** What cuDNN compiles its run-time engines with, opened by soname like cuBLASLt. */
    private static final String NVRTC = "libnvrtc.so.13";

    // cudnnBackendDescriptorType_t
    static final int POINTWISE_DESCRIPTOR = 0;
    static final int ENGINECFG_DESCRIPTOR = 3;
    static final int ENGINEHEUR_DESCRIPTOR = 4;
    static final int EXECUTION_PLAN_DESCRIPTOR = 5;
    static final int OPERATION_POINTWISE_DESCRIPTOR = 13;
    static final int OPERATIONGRAPH_DESCRIPTOR = 15;
    static final int VARIANT_PACK_DESCRIPTOR = 16;
    static final int TENSOR_DESCRIPTOR = 17;
    static final int MATMUL_DESCRIPTOR = 18;
    static final int OPERATION_MATMUL_DESCRIPTOR = 19;
    static final int REDUCTION_DESCRIPTOR = 21;
    static final int OPERATION_REDUCTION_DESCRIPTOR = 22;

    // cudnnBackendAttributeType_t
    static final int TYPE_HANDLE = 0;
    static final int TYPE_DATA_TYPE = 1;
    static final int TYPE_BOOLEAN = 2;
    static final int TYPE_INT64 = 3;
    static final int TYPE_VOID_PTR = 6;
    static final int TYPE_HEUR_MODE = 8;
    static final int TYPE_POINTWISE_MODE = 14;
    static final int TYPE_BACKEND_DESCRIPTOR = 15;
    static final int TYPE_REDUCTION_OPERATOR_TYPE = 18;

    // cudnnBackendAttributeName_t
    static final int ATTR_POINTWISE_MODE = 0;
    static final int ATTR_POINTWISE_MATH_PREC = 1;
    static final int ATTR_POINTWISE_AXIS = 9;
    static final int ATTR_ENGINEHEUR_MODE = 200;
    static final int ATTR_ENGINEHEUR_OPERATION_GRAPH = 201;
    static final int ATTR_ENGINEHEUR_RESULTS = 202;
    static final int ATTR_EXECUTION_PLAN_HANDLE = 400;
    static final int ATTR_EXECUTION_PLAN_ENGINE_CONFIG = 401;
    static final int ATTR_EXECUTION_PLAN_WORKSPACE_SIZE = 402;
    static final int ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR = 750;
    static final int ATTR_OPERATION_POINTWISE_XDESC = 751;
    static final int ATTR_OPERATION_POINTWISE_BDESC = 752;
    static final int ATTR_OPERATION_POINTWISE_YDESC = 753;
    static final int ATTR_OPERATION_POINTWISE_TDESC = 758;
    static final int ATTR_OPERATIONGRAPH_HANDLE = 800;
    static final int ATTR_OPERATIONGRAPH_OPS = 801;
    static final int ATTR_TENSOR_BYTE_ALIGNMENT = 900;
    static final int ATTR_TENSOR_DATA_TYPE = 901;
    static final int ATTR_TENSOR_DIMENSIONS = 902;
    static final int ATTR_TENSOR_STRIDES = 903;
    static final int ATTR_TENSOR_UNIQUE_ID = 906;
    static final int ATTR_TENSOR_IS_VIRTUAL = 907;
    static final int ATTR_TENSOR_IS_BY_VALUE = 908;
    static final int ATTR_VARIANT_PACK_UNIQUE_IDS = 1000;
    static final int ATTR_VARIANT_PACK_DATA_POINTERS = 1001;
    static final int ATTR_VARIANT_PACK_WORKSPACE = 1003;
    static final int ATTR_MATMUL_COMP_TYPE = 1500;
    static final int ATTR_OPERATION_MATMUL_ADESC = 1520;
    static final int ATTR_OPERATION_MATMUL_BDESC = 1521;
    static final int ATTR_OPERATION_MATMUL_CDESC = 1522;
    static final int ATTR_OPERATION_MATMUL_DESC = 1523;
    static final int ATTR_REDUCTION_OPERATOR = 1600;
    static final int ATTR_REDUCTION_COMP_TYPE = 1601;
    static final int ATTR_OPERATION_REDUCTION_XDESC = 1610;
    static final int ATTR_OPERATION_REDUCTION_YDESC = 1611;
    static final int ATTR_OPERATION_REDUCTION_DESC = 1612;

    // cudnnDataType_t
    static final int DATA_FLOAT = 0;
    static final int DATA_INT32 = 4;
    static final int DATA_BFLOAT16 = 9;
    static final int DATA_BOOLEAN = 11;

    // cudnnPointwiseMode_t
    static final int POINTWISE_ADD = 0;
    static final int POINTWISE_MUL = 1;
    static final int POINTWISE_DIV = 6;
    static final int POINTWISE_SUB = 9;
    static final int POINTWISE_EXP = 13;
    static final int POINTWISE_LOG = 15;
    static final int POINTWISE_CMP_GE = 303;
    static final int POINTWISE_GEN_INDEX = 501;
    static final int POINTWISE_BINARY_SELECT = 601;

    // cudnnReduceTensorOp_t
    static final int REDUCE_ADD = 0;
    static final int REDUCE_MAX = 3;

    // cudnnBackendHeurMode_t
    static final int HEUR_MODE_FALLBACK = 2;
    static final int HEUR_MODE_A = 3;

    private final MethodHandle getVersion;
    private final MethodHandle getErrorString;
    private final MethodHandle getLastErrorString;
    private final MethodHandle create;
    private final MethodHandle destroy;
    private final MethodHandle setStream;
    private final MethodHandle createDescriptor;
    private final MethodHandle destroyDescriptor;
    private final MethodHandle finalizeDescriptor;
    private final MethodHandle setAttribute;
    private final MethodHandle getAttribute;
    private final MethodHandle execute;

    /**
     * Loads cuDNN 9 from the first folder of {@code searchPath} that has it, else the loader's; no device. cuBLASLt
     * 13 is loaded first the same way: cuDNN opens it by soname for its matmul engines and ends the process when
     * it cannot, so its absence is reported here instead.
     */
    Cudnn(List<Path> searchPath) {
        NativeLibrary.open(searchPath, CublasLt.SONAME);
        try {
            NativeLibrary.open(searchPath, NVRTC);
        } catch (IllegalStateException absent) {
            // Then cuDNN offers no engine it would compile at run time; the others still run.
        }
        NativeLibrary library = NativeLibrary.open(searchPath, SONAME);
        getVersion = library.function("cudnnGetVersion", FunctionDescriptor.of(JAVA_LONG));
        getErrorString = library.function("cudnnGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        getLastErrorString = library.function("cudnnGetLastErrorString",
                FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG));
        create = library.function("cudnnCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        destroy = library.function("cudnnDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        setStream = library.function("cudnnSetStream", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        createDescriptor = library.function("cudnnBackendCreateDescriptor",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        destroyDescriptor = library.function("cudnnBackendDestroyDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        finalizeDescriptor = library.function("cudnnBackendFinalize", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        setAttribute = library.function("cudnnBackendSetAttribute",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
        getAttribute = library.function("cudnnBackendGetAttribute",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        execute = library.function("cudnnBackendExecute", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        long version = version();
        if (version < 90_000 || version >= 100_000) {
            throw new IllegalStateException("%s reports version %d; this binding is for cuDNN 9".formatted(SONAME,
                    version));
        }
    }

    /** As {@code CUDNN_VERSION}: major × 10000 + minor × 100 + patch. */
    long version() {
        try {
            return (long) getVersion.invokeExact();
        } catch (Throwable e) {
            throw new IllegalStateException("cudnnGetVersion", e);
        }
    }

    /** A handle bound to the current context whose work goes on {@code stream}. */
    MemorySegment createHandle(MemorySegment stream) {
        MemorySegment handle = NativeLibrary.created("cudnnCreate", out -> (int) create.invokeExact(out), this::check);
        try {
            call("cudnnSetStream", () -> (int) setStream.invokeExact(handle, stream));
        } catch (RuntimeException e) {
            destroyHandle(handle);
            throw e;
        }
        return handle;
    }

    void destroyHandle(MemorySegment handle) {
        call("cudnnDestroy", () -> (int) destroy.invokeExact(handle));
    }

    MemorySegment createDescriptor(int type) {
        return NativeLibrary.created("cudnnBackendCreateDescriptor(" + type + ")",
                out -> (int) createDescriptor.invokeExact(type, out), this::check);
    }

    void destroyDescriptor(MemorySegment descriptor) {
        call("cudnnBackendDestroyDescriptor", () -> (int) destroyDescriptor.invokeExact(descriptor));
    }

    void finalizeDescriptor(MemorySegment descriptor, String what) {
        call("cudnnBackendFinalize(" + what + ")", () -> (int) finalizeDescriptor.invokeExact(descriptor));
    }

    /**
     * Finalizes, answering null when cuDNN accepted it, else why not (an engine configuration that does not run
     * this graph, say).
     */
    String tryFinalize(MemorySegment descriptor) {
        int status = NativeLibrary.status("cudnnBackendFinalize",
                () -> (int) finalizeDescriptor.invokeExact(descriptor));
        return status == 0 ? null : new CudnnException("cudnnBackendFinalize", status, errorString(status),
                lastError()).getMessage();
    }

    /** Sets attribute {@code name} to {@code count} elements of {@code type} at {@code values}. */
    void set(MemorySegment descriptor, int name, int type, long count, MemorySegment values) {
        call("cudnnBackendSetAttribute(" + name + ")",
                () -> (int) setAttribute.invokeExact(descriptor, name, type, count, values));
    }

    /** Reads up to {@code capacity} elements into {@code values}; returns how many the attribute has. */
    long get(MemorySegment descriptor, int name, int type, long capacity, MemorySegment values) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(JAVA_LONG);
            call("cudnnBackendGetAttribute(" + name + ")",
                    () -> (int) getAttribute.invokeExact(descriptor, name, type, capacity, count, values));
            return count.get(JAVA_LONG, 0);
        }
    }

    void execute(MemorySegment handle, MemorySegment plan, MemorySegment variantPack) {
        call("cudnnBackendExecute", () -> (int) execute.invokeExact(handle, plan, variantPack));
    }

    /** Scalars and arrays of attribute values, in {@code arena}. */
    static MemorySegment longs(Arena arena, long... values) {
        return arena.allocateFrom(JAVA_LONG, values);
    }

    static MemorySegment int32(Arena arena, int value) {
        return arena.allocateFrom(JAVA_INT, value);
    }

    static MemorySegment bool(Arena arena, boolean value) {
        return arena.allocateFrom(JAVA_BYTE, (byte) (value ? 1 : 0));
    }

    static MemorySegment pointers(Arena arena, MemorySegment... values) {
        MemorySegment array = arena.allocate(ValueLayout.ADDRESS, values.length);
        for (int i = 0; i < values.length; i++) {
            array.setAtIndex(ValueLayout.ADDRESS, i, values[i]);
        }
        return array;
    }

    private void call(String function, NativeLibrary.Call call) {
        check(function, NativeLibrary.status(function, call));
    }

    private void check(String function, int status) {
        if (status != 0) {
            throw new CudnnException(function, status, errorString(status), lastError());
        }
    }

    private String errorString(int status) {
        try {
            MemorySegment text = (MemorySegment) getErrorString.invokeExact(status);
            return text.equals(MemorySegment.NULL) ? "status " + status : text.reinterpret(256).getString(0);
        } catch (Throwable e) {
            return "status " + status;
        }
    }

    /** cuDNN's own account of the last failure on this thread (why a graph was refused, typically). */
    private String lastError() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment text = arena.allocate(1024);
            getLastErrorString.invokeExact(text, 1024L);
            return text.getString(0);
        } catch (Throwable e) {
            return "";
        }
    }

    /** A cuDNN call that returned an error status. */
    static final class CudnnException extends IllegalStateException {
        CudnnException(String function, int status, String name, String detail) {
            super("%s: %s (%d)%s".formatted(function, name, status, detail.isBlank() ? "" : ": " + detail.strip()));
        }
    }
}
