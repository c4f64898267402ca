package io.hyserve.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * What the cuDNN binding does before any device is involved: the shapes its graph takes, and (where
 * {@code -Dhyserve.cudnn.libraries} or {@code HYSERVE_CUDNN_LIBRARIES} names a cuDNN 9) every operation of the
 * attention graph finalized, which checks the binding's constants and attribute types against the real library.
 */
class CudnnLibraryTest {
    @Test
    void shapesOutsideWhatTheGraphTakesAreRefused() {
        assertThatThrownBy(() -> new CudnnAttention.Shape(8, 4, 8, 2, 64))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("keys ≥ queries");
        assertThatThrownBy(() -> new CudnnAttention.Shape(8, 8, 8, 3, 64))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("whole head groups");
        assertThatThrownBy(() -> new CudnnAttention.Shape(8, 8, 8, 2, 100))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of 8");
    }

    @Test
    void everyOperationOfTheAttentionGraphFinalizesInTheRealLibrary() {
        assumeTrue(!CudnnAttentionTest.LIBRARIES.isEmpty(),
                "no cuDNN named by -Dhyserve.cudnn.libraries or HYSERVE_CUDNN_LIBRARIES");
        Cudnn cudnn = new Cudnn(CudnnAttentionTest.LIBRARIES);
        for (CudnnAttention.Shape shape : new CudnnAttention.Shape[] {new CudnnAttention.Shape(37, 37, 8, 2, 64),
            new CudnnAttention.Shape(16, 100, 80, 8, 128)}) {
            CudnnAttention.Graph graph = CudnnAttention.Graph.attention(cudnn, shape);
            // Two products, the scale, two indices (shifted by an add and a subtract when bottom-right), the
            // comparison, the select, softmax's five and its statistics' two.
            assertThat(graph.operations()).isEqualTo(shape.bottomRight() ? 16 : 14);
            graph.discard();
        }
    }
}
