package io.hyserve.kernels;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/**
 * What the cuBLASLt binding does before any device is involved: the sizes of the structures it shares with C, and
 * (where {@code -Dhyserve.cublas.libraries} or {@code HYSERVE_CUBLAS_LIBRARIES} names a cuBLASLt 13) the descriptors
 * and algorithm settings of {@link CublasGemm} accepted by the real library, which checks every attribute's size and
 * type.
 */
class CublasLibraryTest {
    @Test
    void theStructuresHaveTheSizesOfTheHeaders() {
        assertThat(CublasLt.ALGO.byteSize()).isEqualTo(64);
        // cublasLtMatmulHeuristicResult_t: algo, size_t workspaceSize, cublasStatus_t state, float wavesCount,
        // int reserved[4].
        assertThat(CublasLt.HEURISTIC_RESULT.byteSize()).isEqualTo(96);
        assertThat(CublasLt.RESULT_WORKSPACE_SIZE).isEqualTo(64);
        assertThat(CublasLt.RESULT_STATE).isEqualTo(72);
    }

    @Test
    void theRealLibraryAcceptsTheGemmsDescriptorsAndPinning() {
        assumeTrue(!CublasGemmTest.LIBRARIES.isEmpty(),
                "no cuBLASLt named by -Dhyserve.cublas.libraries or HYSERVE_CUBLAS_LIBRARIES");
        CublasLt lt = new CublasLt(CublasGemmTest.LIBRARIES);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment desc = lt.createMatmulDesc(CublasLt.COMPUTE_32F, CublasLt.CUDA_R_32F);
            lt.setMatmulDesc(desc, CublasLt.DESC_TRANSA, arena.allocateFrom(JAVA_INT, CublasLt.OP_T));
            lt.setMatmulDesc(desc, CublasLt.DESC_TRANSB, arena.allocateFrom(JAVA_INT, CublasLt.OP_N));
            assertThatThrownBy(() -> lt.setMatmulDesc(desc, CublasLt.DESC_TRANSA,
                    arena.allocateFrom(JAVA_SHORT, (short) CublasLt.OP_T)))
                    .isInstanceOf(CublasLt.CublasException.class)
                    .hasMessageContaining("cublasLtMatmulDescSetAttribute")
                    .hasMessageContaining("CUBLAS_STATUS_INVALID_VALUE");
            lt.destroyMatmulDesc(desc);
            lt.destroyLayout(lt.createLayout(CublasLt.CUDA_R_16BF, 6400, 128_512, 6400));
            lt.destroyLayout(lt.createLayout(CublasLt.CUDA_R_32F, 128_512, 256, 128_512));
            MemorySegment preference = lt.createPreference();
            lt.setPreference(preference, CublasLt.PREF_MAX_WORKSPACE_BYTES,
                    arena.allocateFrom(JAVA_LONG, CublasGemm.WORKSPACE_BYTES));
            lt.destroyPreference(preference);
            MemorySegment algo = arena.allocate(CublasLt.ALGO);
            lt.disableSplitK(algo);
            assertThat(lt.describe(algo)).contains("split-K 1, reduction scheme 0");
        }
    }
}
