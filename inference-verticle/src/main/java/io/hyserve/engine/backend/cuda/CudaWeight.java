package io.hyserve.engine.backend.cuda;

import io.hyserve.engine.backend.Weight;
import io.hyserve.kernels.DeviceMemory;
import io.hyserve.kernels.MatmulKernel;
import io.hyserve.kernels.TensorCoreGemm;

/**
 * A weight in device memory: a matrix as the checkpoint stores it, or a vector widened to float32.
 *
 * @param byteSize bytes of the checkpoint tensor, what bandwidth figures count
 * @param tensorCores how products with it run on bf16 tensor cores, or null for the float32 matmul kernel
 * @param viaCublas the output projection of a bf16 backend: cuBLASLt's product when the library loaded
 */
record CudaWeight(DeviceMemory memory, MatmulKernel.WeightType type, int rows, int cols, long byteSize,
        TensorCoreGemm.Weight tensorCores, boolean viaCublas) implements Weight {}
