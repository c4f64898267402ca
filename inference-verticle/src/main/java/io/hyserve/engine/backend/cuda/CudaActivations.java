package io.hyserve.engine.backend.cuda;

import io.hyserve.engine.backend.Activations;
import io.hyserve.kernels.DeviceMemory;

/** Float32, row-major activations in device memory. */
record CudaActivations(DeviceMemory memory, int rows, int cols) implements Activations {}
