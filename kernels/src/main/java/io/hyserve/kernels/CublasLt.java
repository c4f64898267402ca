package io.hyserve.kernels;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;

/**
 * cuBLASLt 13 through java.lang.foreign: a handle, matmul/layout/preference descriptors, heuristics, the algorithm
 * structure and the matmul itself; only what {@link CublasGemm} needs is bound. Loading it touches no device.
 */
final class CublasLt {
    /** Needs no companion: libcublasLt links nothing of CUDA's but the driver, which it opens itself. */
    static final String SONAME = "libcublasLt.so.13";

    // Values from CUDA 13.1's cublasLt.h and cublas_api.h (nvidia-cublas 13.1.1 wheel) and library_types.h (CUDA
    // 13.0); the same in CUDA 12.6's headers.
    // cudaDataType_t (library_types.h)
    static final int CUDA_R_32F = 0;
    static final int CUDA_R_16BF = 14;
    // cublasComputeType_t, cublasOperation_t (cublas_api.h)
    static final int COMPUTE_32F = 68;
    static final int OP_N = 0;
    static final int OP_T = 1;
    // cublasLtMatmulDescAttributes_t, int32_t values
    static final int DESC_TRANSA = 3;
    static final int DESC_TRANSB = 4;
    // cublasLtMatmulPreferenceAttributes_t: the workspace is a uint64_t
    static final int PREF_MAX_WORKSPACE_BYTES = 1;
    // cublasLtMatmulAlgoConfigAttributes_t, all 32-bit values
    static final int ALGO_CONFIG_ID = 0;
    static final int ALGO_CONFIG_TILE_ID = 1;
    static final int ALGO_CONFIG_SPLITK_NUM = 2;
    static final int ALGO_CONFIG_REDUCTION_SCHEME = 3;
    static final int ALGO_CONFIG_STAGES_ID = 6;
    // cublasLtReductionScheme_t
    static final int REDUCTION_SCHEME_NONE = 0;

    /** {@code cublasLtMatmulAlgo_t}: eight uint64_t, opaque. */
    static final MemoryLayout ALGO = MemoryLayout.sequenceLayout(8, JAVA_LONG);
    /** {@code cublasLtMatmulHeuristicResult_t}: the algorithm, workspace bytes it needs, status, waves, reserved. */
    static final MemoryLayout HEURISTIC_RESULT = MemoryLayout.structLayout(ALGO.withName("algo"),
            JAVA_LONG.withName("workspaceSize"), JAVA_INT.withName("state"), JAVA_FLOAT.withName("wavesCount"),
            MemoryLayout.sequenceLayout(4, JAVA_INT).withName("reserved"));
    static final long RESULT_WORKSPACE_SIZE = HEURISTIC_RESULT.byteOffset(
            MemoryLayout.PathElement.groupElement("workspaceSize"));
    static final long RESULT_STATE = HEURISTIC_RESULT.byteOffset(MemoryLayout.PathElement.groupElement("state"));

    private final MethodHandle getStatusName;
    private final MethodHandle create;
    private final MethodHandle destroy;
    private final MethodHandle matmulDescCreate;
    private final MethodHandle matmulDescDestroy;
    private final MethodHandle matmulDescSetAttribute;
    private final MethodHandle layoutCreate;
    private final MethodHandle layoutDestroy;
    private final MethodHandle preferenceCreate;
    private final MethodHandle preferenceDestroy;
    private final MethodHandle preferenceSetAttribute;
    private final MethodHandle getHeuristic;
    private final MethodHandle algoCheck;
    private final MethodHandle algoConfigSetAttribute;
    private final MethodHandle algoConfigGetAttribute;
    private final MethodHandle matmul;

    /**
     * Loads cuBLASLt 13 from the first folder of {@code searchPath} that has it, else the dynamic loader's path.
     *
     * @throws IllegalStateException naming the library and where it was looked for
     */
    CublasLt(List<Path> searchPath) {
        NativeLibrary library = NativeLibrary.open(searchPath, SONAME);
        FunctionDescriptor create = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        FunctionDescriptor destroy = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        FunctionDescriptor setAttribute = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
        getStatusName = library.function("cublasLtGetStatusName", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        this.create = library.function("cublasLtCreate", create);
        this.destroy = library.function("cublasLtDestroy", destroy);
        matmulDescCreate = library.function("cublasLtMatmulDescCreate",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        matmulDescDestroy = library.function("cublasLtMatmulDescDestroy", destroy);
        matmulDescSetAttribute = library.function("cublasLtMatmulDescSetAttribute", setAttribute);
        layoutCreate = library.function("cublasLtMatrixLayoutCreate",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        layoutDestroy = library.function("cublasLtMatrixLayoutDestroy", destroy);
        preferenceCreate = library.function("cublasLtMatmulPreferenceCreate", create);
        preferenceDestroy = library.function("cublasLtMatmulPreferenceDestroy", destroy);
        preferenceSetAttribute = library.function("cublasLtMatmulPreferenceSetAttribute", setAttribute);
        getHeuristic = library.function("cublasLtMatmulAlgoGetHeuristic", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        algoCheck = library.function("cublasLtMatmulAlgoCheck", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        algoConfigSetAttribute = library.function("cublasLtMatmulAlgoConfigSetAttribute", setAttribute);
        algoConfigGetAttribute = library.function("cublasLtMatmulAlgoConfigGetAttribute",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS));
        matmul = library.function("cublasLtMatmul", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                JAVA_LONG, ADDRESS));
    }

    /** A handle for the device whose context is current. */
    MemorySegment createHandle() {
        return created("cublasLtCreate", out -> (int) create.invokeExact(out));
    }

    void destroyHandle(MemorySegment handle) {
        call("cublasLtDestroy", () -> (int) destroy.invokeExact(handle));
    }

    MemorySegment createMatmulDesc(int computeType, int scaleType) {
        return created("cublasLtMatmulDescCreate",
                out -> (int) matmulDescCreate.invokeExact(out, computeType, scaleType));
    }

    void destroyMatmulDesc(MemorySegment desc) {
        call("cublasLtMatmulDescDestroy", () -> (int) matmulDescDestroy.invokeExact(desc));
    }

    /** Sets attribute {@code attribute} to the whole of {@code value} (its size is checked against the attribute's). */
    void setMatmulDesc(MemorySegment desc, int attribute, MemorySegment value) {
        call("cublasLtMatmulDescSetAttribute(" + attribute + ")",
                () -> (int) matmulDescSetAttribute.invokeExact(desc, attribute, value, value.byteSize()));
    }

    /** A column-major {@code rows × cols} matrix of {@code type} whose columns are {@code ld} elements apart. */
    MemorySegment createLayout(int type, long rows, long cols, long ld) {
        return created("cublasLtMatrixLayoutCreate", out -> (int) layoutCreate.invokeExact(out, type, rows, cols, ld));
    }

    void destroyLayout(MemorySegment layout) {
        call("cublasLtMatrixLayoutDestroy", () -> (int) layoutDestroy.invokeExact(layout));
    }

    MemorySegment createPreference() {
        return created("cublasLtMatmulPreferenceCreate", out -> (int) preferenceCreate.invokeExact(out));
    }

    void destroyPreference(MemorySegment preference) {
        call("cublasLtMatmulPreferenceDestroy", () -> (int) preferenceDestroy.invokeExact(preference));
    }

    void setPreference(MemorySegment preference, int attribute, MemorySegment value) {
        call("cublasLtMatmulPreferenceSetAttribute(" + attribute + ")",
                () -> (int) preferenceSetAttribute.invokeExact(preference, attribute, value, value.byteSize()));
    }

    /** Fills {@code results} (an array of {@link #HEURISTIC_RESULT}) best first; returns how many it filled. */
    int heuristic(MemorySegment handle, MemorySegment desc, MemorySegment a, MemorySegment b, MemorySegment c,
            MemorySegment d, MemorySegment preference, MemorySegment results) {
        int requested = Math.toIntExact(results.byteSize() / HEURISTIC_RESULT.byteSize());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(JAVA_INT);
            call("cublasLtMatmulAlgoGetHeuristic", () -> (int) getHeuristic.invokeExact(handle, desc, a, b, c, d,
                    preference, requested, results, count));
            return count.get(JAVA_INT, 0);
        }
    }

    /** The status of {@code cublasLtMatmulAlgoCheck} (0: {@code algo} runs this problem); details in {@code result}. */
    int check(MemorySegment handle, MemorySegment desc, MemorySegment a, MemorySegment b, MemorySegment c,
            MemorySegment d, MemorySegment algo, MemorySegment result) {
        try {
            return (int) algoCheck.invokeExact(handle, desc, a, b, c, d, algo, result);
        } catch (Throwable e) {
            throw new IllegalStateException("cublasLtMatmulAlgoCheck could not be called", e);
        }
    }

    /** Sets a 32-bit configuration attribute of {@code algo} (a {@link #ALGO}). */
    private void setAlgoConfig(MemorySegment algo, int attribute, int value) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocateFrom(JAVA_INT, value);
            call("cublasLtMatmulAlgoConfigSetAttribute(" + attribute + ")",
                    () -> (int) algoConfigSetAttribute.invokeExact(algo, attribute, buffer, 4L));
        }
    }

    private int algoConfig(MemorySegment algo, int attribute) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(JAVA_INT);
            MemorySegment written = arena.allocate(JAVA_LONG);
            call("cublasLtMatmulAlgoConfigGetAttribute(" + attribute + ")",
                    () -> (int) algoConfigGetAttribute.invokeExact(algo, attribute, buffer, 4L, written));
            return buffer.get(JAVA_INT, 0);
        }
    }

    /** Turns off splitting k across thread blocks, whose partial sums the heuristics size to the problem. */
    void disableSplitK(MemorySegment algo) {
        setAlgoConfig(algo, ALGO_CONFIG_SPLITK_NUM, 1);
        setAlgoConfig(algo, ALGO_CONFIG_REDUCTION_SCHEME, REDUCTION_SCHEME_NONE);
    }

    /** What identifies an algorithm's kernel, for logs and benchmark lines. */
    String describe(MemorySegment algo) {
        return "algorithm %d, tile %d, stages %d, split-K %d, reduction scheme %d".formatted(
                algoConfig(algo, ALGO_CONFIG_ID), algoConfig(algo, ALGO_CONFIG_TILE_ID),
                algoConfig(algo, ALGO_CONFIG_STAGES_ID), algoConfig(algo, ALGO_CONFIG_SPLITK_NUM),
                algoConfig(algo, ALGO_CONFIG_REDUCTION_SCHEME));
    }

    /** Queues {@code D = alpha · op(A) · op(B) + beta · C} on {@code stream}; pointers are device addresses. */
    void matmul(MemorySegment handle, MemorySegment desc, MemorySegment alpha, MemorySegment a, MemorySegment aLayout,
            MemorySegment b, MemorySegment bLayout, MemorySegment beta, MemorySegment c, MemorySegment cLayout,
            MemorySegment d, MemorySegment dLayout, MemorySegment algo, MemorySegment workspace, long workspaceBytes,
            MemorySegment stream) {
        call("cublasLtMatmul", () -> (int) matmul.invokeExact(handle, desc, alpha, a, aLayout, b, bLayout, beta, c,
                cLayout, d, dLayout, algo, workspace, workspaceBytes, stream));
    }

    /** As {@code cublasLtGetStatusName}: {@code CUBLAS_STATUS_NOT_SUPPORTED}, say. */
    String statusName(int status) {
        try {
            MemorySegment name = (MemorySegment) getStatusName.invokeExact(status);
            return name.equals(MemorySegment.NULL) ? "status " + status : name.reinterpret(256).getString(0);
        } catch (Throwable e) {
            return "status " + status;
        }
    }

    private MemorySegment created(String function, NativeLibrary.Create create) {
        return NativeLibrary.created(function, create, this::check);
    }

    private void call(String function, NativeLibrary.Call call) {
        check(function, NativeLibrary.status(function, call));
    }

    private void check(String function, int status) {
        if (status != 0) {
            throw new CublasException(function, status, statusName(status));
        }
    }

    /** A cuBLASLt call that returned an error status. */
    static final class CublasException extends IllegalStateException {
        CublasException(String function, int status, String name) {
            super("%s: %s (%d)".formatted(function, name, status));
        }
    }
}
