package io.hyserve.engine.backend.cuda;

import io.hyserve.engine.backend.Weight;
import io.hyserve.kernels.DeviceMemory;
import io.hyserve.kernels.MatmulKernel;

/**
 * A weight in device memory: a matrix as the checkpoint stores it, or a vector widened to float32.
 *
 * @param byteSize bytes of the checkpoint tensor, what bandwidth figures count
 */
record CudaWeight(DeviceMemory memory, MatmulKernel.WeightType type, int rows, int cols, long byteSize)
        implements Weight {}
