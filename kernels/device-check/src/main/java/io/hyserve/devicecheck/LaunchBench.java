package io.hyserve.devicecheck;

import io.hyserve.kernels.DeviceMemory;
import io.hyserve.kernels.ElementwiseKernel;
import io.hyserve.kernels.Gpu;

/**
 * What the host pays per operation when it drives the GPU through JCuda, the costs a decode step of a small batch
 * is made of: queuing a kernel launch (a 256-element add), a launch waited for, and the small synchronous copies
 * the backend makes for step layouts (host to device) and routing decisions (device to host). Mean microseconds
 * over many calls. Usage: {@code java -cp device-tests.jar io.hyserve.devicecheck.LaunchBench}.
 */
public final class LaunchBench {
    private static final int QUEUED = 20_000;
    private static final int WAITED = 2_000;

    private LaunchBench() {}

    public static void main(String[] args) {
        try (Gpu gpu = Gpu.open(0); DeviceMemory acc = gpu.allocate(1024); DeviceMemory x = gpu.allocate(1024)) {
            acc.zero();
            x.zero();
            ElementwiseKernel kernel = new ElementwiseKernel(gpu);
            int[] small = new int[16];
            for (int i = 0; i < 1000; i++) { // warm-up: module load, JIT of the launch path
                kernel.add(acc, x, 256);
                acc.write(small);
                acc.read(small);
            }
            gpu.synchronize();
            long start = System.nanoTime();
            for (int i = 0; i < QUEUED; i++) {
                kernel.add(acc, x, 256);
            }
            long queued = System.nanoTime() - start;
            gpu.synchronize();
            long drained = System.nanoTime() - start;
            start = System.nanoTime();
            for (int i = 0; i < WAITED; i++) {
                kernel.add(acc, x, 256);
                gpu.synchronize();
            }
            long waited = System.nanoTime() - start;
            start = System.nanoTime();
            for (int i = 0; i < WAITED; i++) {
                acc.write(small);
            }
            long toDevice = System.nanoTime() - start;
            start = System.nanoTime();
            for (int i = 0; i < WAITED; i++) {
                acc.read(small);
            }
            long toHost = System.nanoTime() - start;
            System.out.printf("launch bench: queuing a launch %.2f µs (the GPU done after %.2f µs each), a launch waited "
                    + "for %.2f µs, a 64-byte copy to the device %.2f µs, to the host %.2f µs%n", queued / 1e3 / QUEUED,
                    drained / 1e3 / QUEUED, waited / 1e3 / WAITED, toDevice / 1e3 / WAITED, toHost / 1e3 / WAITED);
        }
    }
}
